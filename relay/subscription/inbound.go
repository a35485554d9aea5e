package subscription

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/store"
)

// Follow handles a subscription request to the relay or to a slice: a
// Follow of as:Public sent to that actor's inbox (Mastodon, Misskey), or a
// Follow of the actor itself (LitePub). It returns a result label.
func (s *Service) Follow(ctx context.Context, in *inbox.Activity, inboxSlice string) (string, error) {
	var style store.Style
	var sliceName string
	if inbox.IsPublic(in.ObjectID) {
		style, sliceName = store.Mastodon, inboxSlice
	} else if name, ok := s.cfg.Slices.OfActor(in.ObjectID); ok {
		style, sliceName = store.LitePub, name
	} else {
		return "", inbox.Refuse(http.StatusUnprocessableEntity, "follow_object", "Follow must be of %s or of %s", asjson.Public, s.cfg.Slices.Actor(inboxSlice))
	}
	actor, err := s.cfg.Fetch.Actor(ctx, in.Actor)
	if err != nil {
		return "", inbox.Refuse(http.StatusBadRequest, "actor_fetch", "fetching actor %s: %v", in.Actor, inbox.ErrText(err))
	}
	now := time.Now()
	sub := store.Subscriber{
		Slice: sliceName, Peer: in.Peer, Actor: in.Actor, Inbox: actor.DeliveryInbox(), FollowID: in.ID,
		Style: style, State: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	prev, err := s.cfg.Store.Subscriber(ctx, sliceName, in.Peer)
	switch {
	case err == nil:
		sub.CreatedAt, sub.Software = prev.CreatedAt, prev.Software
		if prev.Actor == sub.Actor {
			sub.FollowBackID, sub.FollowBackState = prev.FollowBackID, prev.FollowBackState
		}
		if prev.State == store.Accepted {
			sub.State = store.Accepted // a repeated Follow is answered again
		}
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	if s.cfg.AutoAccept() {
		sub.State = store.Accepted
	}
	change := store.Change{Seen: in.ID, Upsert: &sub}
	if sub.State == store.Accepted {
		change.Messages = s.acceptMessages(&sub, actor.Inbox, now)
	}
	if err := s.cfg.Store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	s.cfg.Event("requested")
	if sub.State == store.Accepted {
		s.cfg.Event("accepted")
	}
	s.cfg.Log.Info("subscription request", "peer", sub.Peer, "slice", SliceLabel(sliceName), "actor", sub.Actor,
		"style", style, "state", sub.State)
	s.cfg.Deliveries.Notify()
	if sub.Software == "" {
		base := "https://" + sub.Peer
		if strings.HasPrefix(sub.Actor, "http://") {
			base = "http://" + sub.Peer
		}
		s.lookupSoftware(sub.Peer, base)
	}
	return string(sub.State), nil
}

// acceptMessages returns the Accept of sub's Follow and, for LitePub, the
// followed actor's Follow back, and records the follow-back in sub.
// Delivery to sub never waits for the answer to the follow-back.
func (s *Service) acceptMessages(sub *store.Subscriber, inbox string, now time.Time) []store.Message {
	to := store.Target{Peer: sub.Peer, Inbox: inbox, Slice: sub.Slice}
	msgs := []store.Message{s.answer(vocab.AcceptType, sub, to, now)}
	if sub.Style == store.LitePub && sub.FollowBackState != store.Accepted {
		id := s.cfg.NewID()
		f := vocab.FollowNew(vocab.ID(id), vocab.IRI(sub.Actor))
		f.Actor = vocab.IRI(s.cfg.Slices.Actor(sub.Slice))
		f.To = vocab.ItemCollection{vocab.IRI(sub.Actor)}
		body, _ := asjson.Marshal(f)
		sub.FollowBackID, sub.FollowBackState = id, store.Pending
		msgs = append(msgs, store.Message{ActivityID: id, Body: body, Targets: []store.Target{to}, At: now,
			KeyID: s.cfg.Slices.KeyID(sub.Slice)})
	}
	return msgs
}

// answer builds an Accept or Reject of sub's Follow, from the followed
// actor.
func (s *Service) answer(typ vocab.ActivityVocabularyType, sub *store.Subscriber, to store.Target, now time.Time) store.Message {
	object := vocab.IRI(asjson.Public)
	if sub.Style == store.LitePub {
		object = vocab.IRI(s.cfg.Slices.Actor(sub.Slice))
	}
	f := vocab.FollowNew(vocab.ID(sub.FollowID), object)
	f.Actor = vocab.IRI(sub.Actor)
	id := s.cfg.NewID()
	a := vocab.ActivityNew(vocab.ID(id), typ, f)
	a.Actor = vocab.IRI(s.cfg.Slices.Actor(sub.Slice))
	a.To = vocab.ItemCollection{vocab.IRI(sub.Actor)}
	body, _ := asjson.Marshal(a)
	return store.Message{ActivityID: id, Body: body, Targets: []store.Target{to}, At: now, KeyID: s.cfg.Slices.KeyID(sub.Slice)}
}

// Undo handles Undo{Follow}: the peer unsubscribes from the relay or a
// slice. The subscription is found by the Follow's id, else by what the
// Follow followed.
func (s *Service) Undo(ctx context.Context, in *inbox.Activity, inboxSlice string) (string, error) {
	subs, err := s.cfg.Store.PeerSubscriptions(ctx, in.Peer)
	if err != nil {
		return "", err
	}
	var target *store.Subscriber
	for i := range subs {
		if subs[i].FollowID == in.ObjectID {
			target = &subs[i]
		}
	}
	// Found by what it followed only when the Undo names no Follow id: an
	// Undo of an earlier Follow (a late retry, or one racing a new Follow)
	// must not end the subscription a newer Follow made.
	if inner := in.InnerObject(); target == nil && inner != nil && inner.Type == vocab.FollowType && inner.ID == "" {
		name, ok := inboxSlice, true
		if obj := inner.Object; obj != nil && !inbox.IsPublic(obj.GetLink().String()) {
			name, ok = s.cfg.Slices.OfActor(obj.GetLink().String())
		}
		for i := range subs {
			if ok && subs[i].Slice == name {
				target = &subs[i]
			}
		}
	}
	if target == nil {
		return "ignored", nil // an Undo of something else (a Like, an Announce)
	}
	key := store.SubscriptionKey{Slice: target.Slice, Peer: in.Peer}
	if err := s.cfg.Store.Apply(ctx, store.Change{Seen: in.ID, Remove: &key}); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	// Deliveries for this subscription created until now are void; a new
	// Follow right after (a server switching the relay off and on) gets
	// its Accept and everything published from then on.
	s.cfg.Deliveries.DropPeer(in.Peer, target.Slice, time.Now().Truncate(time.Millisecond))
	s.cfg.Event("removed")
	s.cfg.Log.Info("unsubscribed", "peer", in.Peer, "slice", SliceLabel(target.Slice), "actor", in.Actor)
	return "unsubscribed", nil
}

// FollowBackAnswer records a LitePub subscriber's Accept or Reject of a
// follow-back. It returns "" when in answers no follow-back of this relay.
func (s *Service) FollowBackAnswer(ctx context.Context, in *inbox.Activity) (string, error) {
	subs, err := s.cfg.Store.PeerSubscriptions(ctx, in.Peer)
	if err != nil {
		return "", err
	}
	for _, sub := range subs {
		if sub.FollowBackID == "" || in.ObjectID != sub.FollowBackID {
			continue
		}
		state := store.Accepted
		if in.Type == vocab.RejectType {
			state = store.Rejected
		}
		fb := &store.FollowBackAnswer{Slice: sub.Slice, Peer: in.Peer, FollowID: sub.FollowBackID, State: state}
		switch err := s.cfg.Store.Apply(ctx, store.Change{Seen: in.ID, FollowBack: fb}); {
		case errors.Is(err, store.ErrDuplicate):
			return "duplicate", nil
		case errors.Is(err, store.ErrNotFound):
			return "ignored", nil // unsubscribed meanwhile
		case err != nil:
			return "", err
		}
		return "follow_back_" + string(state), nil
	}
	return "", nil
}
