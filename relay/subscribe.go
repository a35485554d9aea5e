package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/store"
)

// softwareTimeout bounds the NodeInfo lookup of a new subscriber.
const softwareTimeout = 15 * time.Second

// ErrNoSubscriber is returned by operator actions on an unknown
// subscription.
var ErrNoSubscriber error = notFound("no such subscription")

// notFound is an error that is also store.ErrNotFound, so that callers
// (the admin API) answer it 404.
type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == store.ErrNotFound }

// subscriptions handles servers' subscriptions to the relay and its
// slices: Follow and Undo, LitePub follow-backs, and operators' approvals
// and removals.
type subscriptions struct{ *Server }

// newID returns a fresh IRI for an activity the relay sends.
func (s *subscriptions) newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return s.cfg.PublicURL + "/activities/" + hex.EncodeToString(b)
}

// follow handles a subscription request to the relay or to a slice: a
// Follow of as:Public sent to that actor's inbox (Mastodon, Misskey), or a
// Follow of the actor itself (LitePub).
func (s *subscriptions) follow(ctx context.Context, in *inbox.Activity, inboxSlice string) (string, error) {
	var style store.Style
	var sliceName string
	if inbox.IsPublic(in.ObjectID) {
		style, sliceName = store.Mastodon, inboxSlice
	} else if name, ok := s.slices.OfActor(in.ObjectID); ok {
		style, sliceName = store.LitePub, name
	} else {
		return "", inbox.Refuse(http.StatusUnprocessableEntity, "follow_object", "Follow must be of %s or of %s", asjson.Public, s.slices.Actor(inboxSlice))
	}
	actor, err := s.fetch.Actor(ctx, in.Actor)
	if err != nil {
		return "", inbox.Refuse(http.StatusBadRequest, "actor_fetch", "fetching actor %s: %v", in.Actor, inbox.ErrText(err))
	}
	now := time.Now()
	sub := store.Subscriber{
		Slice: sliceName, Peer: in.Peer, Actor: in.Actor, Inbox: actor.DeliveryInbox(), FollowID: in.ID,
		Style: style, State: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	prev, err := s.store.Subscriber(ctx, sliceName, in.Peer)
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
	if s.cfg.Approval == ApproveAuto {
		sub.State = store.Accepted
	}
	change := store.Change{Seen: in.ID, Upsert: &sub}
	if sub.State == store.Accepted {
		change.Messages = s.acceptMessages(&sub, actor.Inbox, now)
	}
	if err := s.store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	s.metrics.subscriptions.WithLabelValues("requested").Inc()
	if sub.State == store.Accepted {
		s.metrics.subscriptions.WithLabelValues("accepted").Inc()
	}
	s.log.Info("subscription request", "peer", sub.Peer, "slice", sliceLabel(sliceName), "actor", sub.Actor,
		"style", style, "state", sub.State)
	s.dispatcher.Notify()
	if sub.Software == "" {
		s.lookupSoftware(sub.Peer, sub.Actor)
	}
	return string(sub.State), nil
}

func sliceLabel(name string) string {
	if name == "" {
		return "relay"
	}
	return name
}

// acceptMessages returns the Accept of sub's Follow and, for LitePub, the
// followed actor's Follow back, and records the follow-back in sub.
// Delivery to sub never waits for the answer to the follow-back.
func (s *subscriptions) acceptMessages(sub *store.Subscriber, inbox string, now time.Time) []store.Message {
	to := store.Target{Peer: sub.Peer, Inbox: inbox, Slice: sub.Slice}
	msgs := []store.Message{s.answer(vocab.AcceptType, sub, to, now)}
	if sub.Style == store.LitePub && sub.FollowBackState != store.Accepted {
		id := s.newID()
		f := vocab.FollowNew(vocab.ID(id), vocab.IRI(sub.Actor))
		f.Actor = vocab.IRI(s.slices.Actor(sub.Slice))
		f.To = vocab.ItemCollection{vocab.IRI(sub.Actor)}
		body, _ := asjson.Marshal(f)
		sub.FollowBackID, sub.FollowBackState = id, store.Pending
		msgs = append(msgs, store.Message{ActivityID: id, Body: body, Targets: []store.Target{to}, At: now,
			KeyID: s.slices.KeyID(sub.Slice)})
	}
	return msgs
}

// answer builds an Accept or Reject of sub's Follow, from the followed
// actor.
func (s *subscriptions) answer(typ vocab.ActivityVocabularyType, sub *store.Subscriber, to store.Target, now time.Time) store.Message {
	object := vocab.IRI(asjson.Public)
	if sub.Style == store.LitePub {
		object = vocab.IRI(s.slices.Actor(sub.Slice))
	}
	f := vocab.FollowNew(vocab.ID(sub.FollowID), object)
	f.Actor = vocab.IRI(sub.Actor)
	id := s.newID()
	a := vocab.ActivityNew(vocab.ID(id), typ, f)
	a.Actor = vocab.IRI(s.slices.Actor(sub.Slice))
	a.To = vocab.ItemCollection{vocab.IRI(sub.Actor)}
	body, _ := asjson.Marshal(a)
	return store.Message{ActivityID: id, Body: body, Targets: []store.Target{to}, At: now, KeyID: s.slices.KeyID(sub.Slice)}
}

// undo handles Undo{Follow}: the peer unsubscribes from the relay or a
// slice. The subscription is found by the Follow's id, else by what the
// Follow followed.
func (s *subscriptions) undo(ctx context.Context, in *inbox.Activity, inboxSlice string) (string, error) {
	subs, err := s.store.PeerSubscriptions(ctx, in.Peer)
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
			name, ok = s.slices.OfActor(obj.GetLink().String())
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
	if err := s.store.Apply(ctx, store.Change{Seen: in.ID, Remove: &key}); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	// Deliveries for this subscription created until now are void; a new
	// Follow right after (a server switching the relay off and on) gets
	// its Accept and everything published from then on.
	s.dispatcher.DropPeer(in.Peer, target.Slice, time.Now().Truncate(time.Millisecond))
	s.metrics.subscriptions.WithLabelValues("removed").Inc()
	s.log.Info("unsubscribed", "peer", in.Peer, "slice", sliceLabel(target.Slice), "actor", in.Actor)
	return "unsubscribed", nil
}

// followBackAnswer records a LitePub subscriber's Accept or Reject of a
// follow-back, or a relay's answer to this relay's Follow.
func (s *subscriptions) followBackAnswer(ctx context.Context, in *inbox.Activity) (string, error) {
	subs, err := s.store.PeerSubscriptions(ctx, in.Peer)
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
		switch err := s.store.Apply(ctx, store.Change{Seen: in.ID, FollowBack: fb}); {
		case errors.Is(err, store.ErrDuplicate):
			return "duplicate", nil
		case errors.Is(err, store.ErrNotFound):
			return "ignored", nil // unsubscribed meanwhile
		case err != nil:
			return "", err
		}
		return "follow_back_" + string(state), nil
	}
	if res, err := s.relayFollowAnswer(ctx, in); res != "" || err != nil {
		return res, err
	}
	return "ignored", nil
}

// lookupSoftware records a new subscriber's software from its NodeInfo, in
// the background and best effort.
func (s *subscriptions) lookupSoftware(peer, actor string) {
	base := "https://" + peer
	if strings.HasPrefix(actor, "http://") {
		base = "http://" + peer
	}
	s.bg.Go(func() {
		ctx, cancel := context.WithTimeout(s.bg.Context(), softwareTimeout)
		defer cancel()
		sw, err := s.fetch.Software(ctx, base)
		if err != nil {
			s.peerLog.Warn(peer, "nodeinfo", "could not read the subscriber's NodeInfo", "err", inbox.ErrText(err))
			return
		}
		if err := s.store.SetSoftware(ctx, peer, sw); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("recording subscriber software", "peer", peer, "err", err)
		}
	})
}

// Approve accepts peer's pending (or rejected) subscription to a slice
// ("" for the relay).
func (s *subscriptions) Approve(ctx context.Context, slice, peer string) (store.Subscriber, error) {
	return s.Decide(ctx, slice, peer, store.Accepted)
}

// Reject refuses peer's subscription to a slice; the peer is told with a
// Reject.
func (s *subscriptions) Reject(ctx context.Context, slice, peer string) (store.Subscriber, error) {
	return s.Decide(ctx, slice, peer, store.Rejected)
}

// Decide accepts or rejects (state) peer's subscription to slice ("" for
// the relay), as an operator does: ErrNoSubscriber when there is none.
func (s *subscriptions) Decide(ctx context.Context, slice, peer string, state store.SubscriptionState) (store.Subscriber, error) {
	sub, err := s.store.Subscriber(ctx, slice, peer)
	if errors.Is(err, store.ErrNotFound) {
		return sub, fmt.Errorf("%w: %s to %s", ErrNoSubscriber, peer, sliceLabel(slice))
	}
	if err != nil {
		return sub, err
	}
	inbox, err := s.personalInbox(ctx, sub)
	if err != nil {
		return sub, err
	}
	now := time.Now()
	sub.State, sub.UpdatedAt = state, now
	change := store.Change{Update: &sub}
	key := store.SubscriptionKey{Slice: slice, Peer: peer}
	if state == store.Accepted {
		change.Messages = s.acceptMessages(&sub, inbox, now)
	} else {
		change.Messages = []store.Message{s.answer(vocab.RejectType, &sub, store.Target{Peer: peer, Inbox: inbox, Slice: slice}, now)}
		change.DropQueued = &key // a rejected peer gets nothing more but the Reject
	}
	if err := s.store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return sub, fmt.Errorf("%w: %s to %s (it unsubscribed)", ErrNoSubscriber, peer, sliceLabel(slice))
		}
		return sub, err
	}
	if state == store.Rejected {
		// Deliveries the dispatcher already holds go too; the Reject,
		// queued at now, stays.
		s.dispatcher.DropPeer(peer, slice, now.Truncate(time.Millisecond))
	}
	s.metrics.subscriptions.WithLabelValues(string(state)).Inc()
	s.log.Info("subscription decided by operator", "peer", peer, "slice", sliceLabel(slice), "state", state)
	s.dispatcher.Notify()
	return sub, nil
}

// Remove ends peer's subscription to a slice, drops its queued deliveries
// and tells it with a Reject.
func (s *subscriptions) Remove(ctx context.Context, slice, peer string) error {
	sub, err := s.store.Subscriber(ctx, slice, peer)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s to %s", ErrNoSubscriber, peer, sliceLabel(slice))
	}
	if err != nil {
		return err
	}
	inbox, err := s.personalInbox(ctx, sub)
	if err != nil {
		inbox = sub.Inbox
	}
	now := time.Now()
	msg := s.answer(vocab.RejectType, &sub, store.Target{Peer: peer, Inbox: inbox, Slice: slice}, now)
	key := store.SubscriptionKey{Slice: slice, Peer: peer}
	if err := s.store.Apply(ctx, store.Change{Remove: &key, Messages: []store.Message{msg}}); err != nil {
		return err
	}
	s.dispatcher.DropPeer(peer, slice, now.Truncate(time.Millisecond))
	s.metrics.subscriptions.WithLabelValues("removed").Inc()
	s.log.Info("subscription removed by operator", "peer", peer, "slice", sliceLabel(slice))
	s.dispatcher.Notify()
	return nil
}

// personalInbox is the subscribing actor's own inbox, where answers to its
// Follow go.
func (s *subscriptions) personalInbox(ctx context.Context, sub store.Subscriber) (string, error) {
	a, err := s.fetch.Actor(ctx, sub.Actor)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", sub.Actor, err)
	}
	return a.Inbox, nil
}
