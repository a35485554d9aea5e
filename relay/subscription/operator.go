package subscription

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// Approve accepts peer's pending (or rejected) subscription to a slice
// ("" for the relay).
func (s *Service) Approve(ctx context.Context, op policy.Operator, slice, peer string) (store.Subscriber, error) {
	return s.Decide(ctx, op, slice, peer, store.Accepted)
}

// Reject refuses peer's subscription to a slice; the peer is told with a
// Reject.
func (s *Service) Reject(ctx context.Context, op policy.Operator, slice, peer string) (store.Subscriber, error) {
	return s.Decide(ctx, op, slice, peer, store.Rejected)
}

// Decide accepts or rejects (state) peer's subscription to slice ("" for
// the relay), as the operator op does: ErrNoSubscriber when there is none.
// The decision is audited with the change.
func (s *Service) Decide(ctx context.Context, op policy.Operator, slice, peer string, state store.SubscriptionState) (store.Subscriber, error) {
	sub, err := s.cfg.Store.Subscriber(ctx, slice, peer)
	if errors.Is(err, store.ErrNotFound) {
		return sub, fmt.Errorf("%w: %s to %s", ErrNoSubscriber, peer, SliceLabel(slice))
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
	what := "subscriber.approve"
	if state == store.Rejected {
		what = "subscriber.reject"
	}
	change := store.Change{Update: &sub, Audit: []store.AuditEntry{audit(op, what, slice, peer, now)}}
	key := store.SubscriptionKey{Slice: slice, Peer: peer}
	if state == store.Accepted {
		change.Messages = s.acceptMessages(&sub, inbox, now)
	} else {
		change.Messages = []store.Message{s.answer(vocab.RejectType, &sub, store.Target{Peer: peer, Inbox: inbox, Slice: slice}, now)}
		change.DropQueued = &key // a rejected peer gets nothing more but the Reject
	}
	if err := s.cfg.Store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return sub, fmt.Errorf("%w: %s to %s (it unsubscribed)", ErrNoSubscriber, peer, SliceLabel(slice))
		}
		return sub, err
	}
	if state == store.Rejected {
		// Deliveries the dispatcher already holds go too; the Reject,
		// queued at now, stays.
		s.cfg.Deliveries.DropPeer(peer, slice, now.Truncate(time.Millisecond))
	}
	s.cfg.Event(string(state))
	s.cfg.Log.Info("subscription decided by operator", "peer", peer, "slice", SliceLabel(slice), "state", state)
	s.cfg.Deliveries.Notify()
	return sub, nil
}

// Remove ends peer's subscription to a slice, drops its queued deliveries
// and tells it with a Reject; the removal is audited with the change.
func (s *Service) Remove(ctx context.Context, op policy.Operator, slice, peer string) error {
	sub, err := s.cfg.Store.Subscriber(ctx, slice, peer)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s to %s", ErrNoSubscriber, peer, SliceLabel(slice))
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
	change := store.Change{Remove: &key, Messages: []store.Message{msg},
		Audit: []store.AuditEntry{audit(op, "subscriber.remove", slice, peer, now)}}
	if err := s.cfg.Store.Apply(ctx, change); err != nil {
		return err
	}
	s.cfg.Deliveries.DropPeer(peer, slice, now.Truncate(time.Millisecond))
	s.cfg.Event("removed")
	s.cfg.Log.Info("subscription removed by operator", "peer", peer, "slice", SliceLabel(slice))
	s.cfg.Deliveries.Notify()
	return nil
}

// audit is the audit entry of an operator's act on a subscription.
func audit(op policy.Operator, what, slice, peer string, at time.Time) store.AuditEntry {
	details, _ := json.Marshal(map[string]string{"slice": SliceLabel(slice)})
	return store.AuditEntry{At: at, Who: op.Who, What: what, Subject: peer, Why: op.Why, Source: "manual", Details: details}
}

// personalInbox is the subscribing actor's own inbox, where answers to its
// Follow go.
func (s *Service) personalInbox(ctx context.Context, sub store.Subscriber) (string, error) {
	a, err := s.cfg.Fetch.Actor(ctx, sub.Actor)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", sub.Actor, err)
	}
	return a.Inbox, nil
}
