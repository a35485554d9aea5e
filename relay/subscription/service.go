// Package subscription handles servers' subscriptions to the relay and to
// its slices: Follow and Undo, the LitePub follow-back and its answer, and
// the operator's approvals, rejections and removals. Each change is one
// store.Change, with the answers it sends queued in the same transaction.
package subscription

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/runrig/runrig/relay/fetch"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
)

// softwareTimeout bounds the NodeInfo lookup of a new subscriber.
const softwareTimeout = 15 * time.Second

// ErrNoSubscriber is returned by operator actions on an unknown
// subscription; it is also store.ErrNotFound, so that the admin API answers
// it 404.
var ErrNoSubscriber error = notFound("no such subscription")

type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == store.ErrNotFound }

// Store is what subscriptions read and change.
type Store interface {
	Subscriber(ctx context.Context, slice, peer string) (store.Subscriber, error)
	PeerSubscriptions(ctx context.Context, peer string) ([]store.Subscriber, error)
	SetSoftware(ctx context.Context, peer, software string) error
	Apply(ctx context.Context, c store.Change) error
}

// Fetcher reads actors and NodeInfo from their servers (through the egress
// guard, signed).
type Fetcher interface {
	Actor(ctx context.Context, iri string) (fetch.Actor, error)
	Software(ctx context.Context, baseURL string) (string, error)
}

// Deliveries is the delivery queue's dispatcher.
type Deliveries interface {
	// Notify wakes the dispatcher: new work is queued.
	Notify()
	// DropPeer voids what is held for peer's subscription to slice,
	// created before the given time.
	DropPeer(peer, slice string, before time.Time)
}

// Background runs work that outlives a request and ends with the relay.
type Background interface {
	Go(f func())
	Context() context.Context
}

// PeerLogger logs peer-caused problems, rate-limited per peer.
type PeerLogger interface {
	Warn(peer, reason, msg string, args ...any)
}

// Config is what the subscription service works with; the relay fills it.
type Config struct {
	// AutoAccept reports whether every verified subscription is accepted
	// now; otherwise they wait for an operator.
	AutoAccept func() bool
	// Slices names the followable actors.
	Slices *slices.Set
	// NewID returns a fresh IRI for an activity the relay sends.
	NewID func() string
	// Event counts a subscription event (requested, accepted, rejected,
	// removed).
	Event func(event string)

	Store      Store
	Fetch      Fetcher
	Deliveries Deliveries
	Background Background
	Log        *slog.Logger
	PeerLog    PeerLogger
}

// Service handles subscriptions.
type Service struct{ cfg Config }

// New returns the subscription service.
func New(cfg Config) *Service { return &Service{cfg: cfg} }

// Accepted reports whether peer holds an accepted subscription to the
// relay or to any slice.
func (s *Service) Accepted(ctx context.Context, peer string) (bool, error) {
	subs, err := s.cfg.Store.PeerSubscriptions(ctx, peer)
	if err != nil {
		return false, err
	}
	for _, sub := range subs {
		if sub.State == store.Accepted {
			return true, nil
		}
	}
	return false, nil
}

// SliceLabel names a slice in logs: "relay" for the relay itself.
func SliceLabel(name string) string {
	if name == "" {
		return "relay"
	}
	return name
}

// lookupSoftware records a new subscriber's software from its NodeInfo, in
// the background and best effort.
func (s *Service) lookupSoftware(peer, base string) {
	bg := s.cfg.Background
	bg.Go(func() {
		ctx, cancel := context.WithTimeout(bg.Context(), softwareTimeout)
		defer cancel()
		sw, err := s.cfg.Fetch.Software(ctx, base)
		if err != nil {
			s.cfg.PeerLog.Warn(peer, "nodeinfo", "could not read the subscriber's NodeInfo", "err", inbox.ErrText(err))
			return
		}
		if err := s.cfg.Store.SetSoftware(ctx, peer, sw); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.cfg.Log.Error("recording subscriber software", "peer", peer, "err", err)
		}
	})
}
