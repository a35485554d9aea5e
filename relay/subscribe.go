package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// softwareTimeout bounds the NodeInfo lookup of a new subscriber.
const softwareTimeout = 15 * time.Second

// ErrNoSubscriber is returned by operator actions on an unknown peer.
var ErrNoSubscriber = errors.New("no subscription from that peer")

// newID returns a fresh IRI for an activity the relay sends.
func (s *Server) newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return s.cfg.PublicURL + "/activities/" + hex.EncodeToString(b)
}

// follow handles a subscription request: a Follow of as:Public (Mastodon,
// Misskey) or of the relay actor (LitePub).
func (s *Server) follow(ctx context.Context, in *inbound) (string, error) {
	var style store.Style
	switch {
	case isPublic(in.ObjectID):
		style = store.Mastodon
	case in.ObjectID == s.actorID:
		style = store.LitePub
	default:
		return "", refuse(http.StatusUnprocessableEntity, "follow_object", "Follow must be of %s or of %s", asPublic, s.actorID)
	}
	actor, err := s.fetch.Actor(ctx, in.Actor)
	if err != nil {
		return "", refuse(http.StatusBadRequest, "actor_fetch", "fetching actor %s: %v", in.Actor, errText(err))
	}
	now := time.Now()
	sub := store.Subscriber{
		Peer: in.Peer, Actor: in.Actor, Inbox: actor.DeliveryInbox(), FollowID: in.ID, Style: style,
		State: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	prev, err := s.store.Subscriber(ctx, in.Peer)
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
	s.log.Info("subscription request", "peer", sub.Peer, "actor", sub.Actor, "style", style, "state", sub.State)
	s.dispatcher.Notify()
	if sub.Software == "" {
		s.lookupSoftware(sub.Peer, sub.Actor)
	}
	return string(sub.State), nil
}

// acceptMessages returns the Accept of sub's Follow and, for LitePub, the
// relay's Follow back, and records the follow-back in sub. Delivery to sub
// never waits for the answer to the follow-back.
func (s *Server) acceptMessages(sub *store.Subscriber, inbox string, now time.Time) []store.Message {
	to := store.Target{Peer: sub.Peer, Inbox: inbox}
	msgs := []store.Message{s.answer(vocab.AcceptType, sub, to, now)}
	if sub.Style == store.LitePub && sub.FollowBackState != store.Accepted {
		id := s.newID()
		f := vocab.FollowNew(vocab.ID(id), vocab.IRI(sub.Actor))
		f.Actor = vocab.IRI(s.actorID)
		f.To = vocab.ItemCollection{vocab.IRI(sub.Actor)}
		body, _ := marshalAS(f)
		sub.FollowBackID, sub.FollowBackState = id, store.Pending
		msgs = append(msgs, store.Message{ActivityID: id, Body: body, Targets: []store.Target{to}, At: now})
	}
	return msgs
}

// answer builds an Accept or Reject of sub's Follow.
func (s *Server) answer(typ vocab.ActivityVocabularyType, sub *store.Subscriber, to store.Target, now time.Time) store.Message {
	object := vocab.IRI(asPublic)
	if sub.Style == store.LitePub {
		object = vocab.IRI(s.actorID)
	}
	f := vocab.FollowNew(vocab.ID(sub.FollowID), object)
	f.Actor = vocab.IRI(sub.Actor)
	id := s.newID()
	a := vocab.ActivityNew(vocab.ID(id), typ, f)
	a.Actor = vocab.IRI(s.actorID)
	a.To = vocab.ItemCollection{vocab.IRI(sub.Actor)}
	body, _ := marshalAS(a)
	return store.Message{ActivityID: id, Body: body, Targets: []store.Target{to}, At: now}
}

// undo handles Undo{Follow}: the peer unsubscribes.
func (s *Server) undo(ctx context.Context, in *inbound) (string, error) {
	inner := in.innerObject()
	isFollow := inner != nil && inner.Type == vocab.FollowType
	sub, err := s.store.Subscriber(ctx, in.Peer)
	if errors.Is(err, store.ErrNotFound) {
		return "ignored", nil
	}
	if err != nil {
		return "", err
	}
	if !isFollow && in.ObjectID != sub.FollowID {
		return "ignored", nil // an Undo of something else (a Like, an Announce)
	}
	if err := s.store.Apply(ctx, store.Change{Seen: in.ID, Remove: in.Peer}); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	s.dispatcher.DropPeer(in.Peer, time.Now().Add(time.Hour))
	s.metrics.subscriptions.WithLabelValues("removed").Inc()
	s.log.Info("unsubscribed", "peer", in.Peer, "actor", in.Actor)
	return "unsubscribed", nil
}

// followBackAnswer records a LitePub subscriber's Accept or Reject of the
// relay's Follow back.
func (s *Server) followBackAnswer(ctx context.Context, in *inbound) (string, error) {
	sub, err := s.store.Subscriber(ctx, in.Peer)
	if errors.Is(err, store.ErrNotFound) {
		return "ignored", nil
	}
	if err != nil {
		return "", err
	}
	if sub.FollowBackID == "" || in.ObjectID != sub.FollowBackID {
		return "ignored", nil
	}
	state := store.Accepted
	if in.Type == vocab.RejectType {
		state = store.Rejected
	}
	fb := &store.FollowBackAnswer{Peer: in.Peer, FollowID: sub.FollowBackID, State: state}
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

// lookupSoftware records a new subscriber's software from its NodeInfo, in
// the background and best effort.
func (s *Server) lookupSoftware(peer, actor string) {
	base := "https://" + peer
	if u, err := policy.PeerOf(actor); err == nil && u == peer {
		if len(actor) > 7 && actor[:7] == "http://" {
			base = "http://" + peer
		}
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), softwareTimeout)
		defer cancel()
		sw, err := s.fetch.Software(ctx, base)
		if err != nil {
			s.peerLog.Warn(peer, "nodeinfo", "could not read the subscriber's NodeInfo", "err", errText(err))
			return
		}
		if err := s.store.SetSoftware(ctx, peer, sw); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("recording subscriber software", "peer", peer, "err", err)
		}
	}()
}

// Approve accepts peer's pending (or rejected) subscription.
func (s *Server) Approve(ctx context.Context, peer string) (store.Subscriber, error) {
	return s.decide(ctx, peer, store.Accepted)
}

// Reject refuses peer's subscription; the peer is told with a Reject.
func (s *Server) Reject(ctx context.Context, peer string) (store.Subscriber, error) {
	return s.decide(ctx, peer, store.Rejected)
}

func (s *Server) decide(ctx context.Context, peer string, state store.SubscriptionState) (store.Subscriber, error) {
	sub, err := s.store.Subscriber(ctx, peer)
	if errors.Is(err, store.ErrNotFound) {
		return sub, fmt.Errorf("%w: %s", ErrNoSubscriber, peer)
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
	if state == store.Accepted {
		change.Messages = s.acceptMessages(&sub, inbox, now)
	} else {
		change.Messages = []store.Message{s.answer(vocab.RejectType, &sub, store.Target{Peer: sub.Peer, Inbox: inbox}, now)}
		change.DropQueued = peer // a rejected peer gets nothing more but the Reject
	}
	if err := s.store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return sub, fmt.Errorf("%w: %s (it unsubscribed)", ErrNoSubscriber, peer)
		}
		return sub, err
	}
	if state == store.Rejected {
		// Deliveries the dispatcher already holds go too; the Reject,
		// queued at now, stays.
		s.dispatcher.DropPeer(peer, now.Truncate(time.Millisecond))
	}
	s.metrics.subscriptions.WithLabelValues(string(state)).Inc()
	s.log.Info("subscription decided by operator", "peer", peer, "state", state)
	s.dispatcher.Notify()
	return sub, nil
}

// Remove ends peer's subscription, drops its queued deliveries and tells it
// with a Reject.
func (s *Server) Remove(ctx context.Context, peer string) error {
	sub, err := s.store.Subscriber(ctx, peer)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNoSubscriber, peer)
	}
	if err != nil {
		return err
	}
	inbox, err := s.personalInbox(ctx, sub)
	if err != nil {
		inbox = sub.Inbox
	}
	now := time.Now()
	msg := s.answer(vocab.RejectType, &sub, store.Target{Peer: sub.Peer, Inbox: inbox}, now)
	if err := s.store.Apply(ctx, store.Change{Remove: peer, Messages: []store.Message{msg}}); err != nil {
		return err
	}
	s.dispatcher.DropPeer(peer, now.Truncate(time.Millisecond))
	s.metrics.subscriptions.WithLabelValues("removed").Inc()
	s.log.Info("subscription removed by operator", "peer", peer)
	s.dispatcher.Notify()
	return nil
}

// personalInbox is the subscribing actor's own inbox, where answers to its
// Follow go.
func (s *Server) personalInbox(ctx context.Context, sub store.Subscriber) (string, error) {
	a, err := s.fetch.Actor(ctx, sub.Actor)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", sub.Actor, err)
	}
	return a.Inbox, nil
}
