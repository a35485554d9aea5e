// Package federation is relay-to-relay federation: following the verified
// relays of the discovery directory that the rules accept, recording their
// answers, and reading what followed relays pass on from its authors'
// servers, never from the relay that passed it.
package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/store"
)

// RefollowAfter is how long a relay that rejected this relay's Follow is
// left alone before it is asked again.
const RefollowAfter = 24 * time.Hour

// VanishedAfter is how long a followed relay may be missing from the
// directory (evicted, or its announcement expired and pruned) before its
// follow is dropped.
const VanishedAfter = 7 * 24 * time.Hour

// Store is what federation reads and changes.
type Store interface {
	RelayFollows(ctx context.Context) ([]store.RelayFollow, error)
	RelayFollow(ctx context.Context, peer string) (store.RelayFollow, error)
	Apply(ctx context.Context, c store.Change) error
}

// Directory is the discovery directory of verified peers.
type Directory interface {
	List(now time.Time) []discovery.Entry
	Get(domain string) (discovery.Entry, bool)
}

// Fetcher reads objects from their servers (signed GET, egress guard, size
// and time bounds).
type Fetcher interface {
	Get(ctx context.Context, url string) ([]byte, error)
}

// Listings checks a listing like one posted to the inbox and returns its
// index record, or the refusal (an inbox.Refusal).
type Listings interface {
	Check(doc []byte, activityID, peer string, now time.Time) (*store.ListingRecord, error)
}

// PeerLogger logs peer-caused problems, rate-limited per peer.
type PeerLogger interface {
	Warn(peer, reason, msg string, args ...any)
}

// Config is what federation works with; the relay fills it.
type Config struct {
	// Host is this relay's public authority; ActorID its actor, whose
	// Follows KeyID signs.
	Host, ActorID, KeyID string
	// NewID returns a fresh IRI for an activity the relay sends.
	NewID func() string
	// Judge applies the moderation rules.
	Judge func(policy.Subject) policy.Decision
	// RelayedObject counts an object read because a followed relay passed
	// it on, by result.
	RelayedObject func(result string)
	// Notify wakes the delivery dispatcher.
	Notify func()
	// Now is the current time (time.Now when nil).
	Now func() time.Time

	Store     Store
	Directory Directory
	Fetch     Fetcher
	Listings  Listings
	Log       *slog.Logger
	PeerLog   PeerLogger
}

// Service follows relays and reads what they pass on.
type Service struct {
	cfg Config

	// mu guards missing.
	mu sync.Mutex
	// missing holds when this process first found each followed relay
	// missing from the directory. It is kept in memory, as the directory
	// is: after a restart the directory fills again, and the wait starts
	// over rather than counting the restart as absence.
	missing map[string]time.Time
}

// New returns the federation service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, missing: map[string]time.Time{}}
}

// Federate follows every verified, reachable relay of the directory that
// the moderation rules accept and that this relay does not follow yet.
// The Follow is queued durably with the record of it. Follows of relays
// the rules now block or limit, or that have been missing from the
// directory for VanishedAfter, are dropped: nothing more is taken from
// them, and an Undo of the Follow is queued with the drop.
func (s *Service) Federate(ctx context.Context) error {
	follows, err := s.cfg.Store.RelayFollows(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	have := make(map[string]store.RelayFollow, len(follows))
	for _, f := range follows {
		dropped, err := s.dropFollow(ctx, f, now)
		if err != nil {
			return fmt.Errorf("unfollowing %s: %w", f.Peer, err)
		}
		if !dropped {
			have[f.Peer] = f
		}
	}
	s.forgetMissing(have)
	for _, e := range s.cfg.Directory.List(now) {
		r := e.Record
		// Down is gossip's unverifiable hint: it does not stop a follow.
		if !e.Verified || r.Domain == s.cfg.Host {
			continue
		}
		if d := s.cfg.Judge(policy.Subject{Peer: r.Domain, Actor: r.Actor}); d.Action.Blocks() || d.Action == policy.Limit {
			continue
		}
		if f, ok := have[r.Domain]; ok && f.Actor == r.Actor && (f.State != store.Rejected || now.Sub(f.UpdatedAt) < RefollowAfter) {
			continue
		}
		if err := s.followRelay(ctx, r.Domain, r.Actor, r.Inbox, now); err != nil {
			return fmt.Errorf("following %s: %w", r.Domain, err)
		}
		s.cfg.Log.Info("following a discovered relay", "peer", r.Domain, "actor", r.Actor)
	}
	return nil
}

// dropFollow drops this relay's follow f when the rules now block or
// limit the followed relay, or when it has been missing from the directory
// for VanishedAfter, and reports whether it did.
func (s *Service) dropFollow(ctx context.Context, f store.RelayFollow, now time.Time) (bool, error) {
	if d := s.cfg.Judge(policy.Subject{Peer: f.Peer, Actor: f.Actor}); d.Action.Blocks() || d.Action == policy.Limit {
		if err := s.unfollowRelay(ctx, f, now); err != nil {
			return false, err
		}
		s.cfg.Log.Info("no longer following a relay the rules refuse", "peer", f.Peer, "action", d.Action)
		return true, nil
	}
	since, gone := s.vanished(f, now)
	if !gone {
		return false, nil
	}
	if err := s.unfollowRelay(ctx, f, now); err != nil {
		return false, err
	}
	s.cfg.Log.Info("no longer following a relay gone from the directory", "peer", f.Peer, "missing_since", since)
	return true, nil
}

// vanished reports whether the relay of follow f has been missing from
// the directory for VanishedAfter, and since when: from the later of when
// this process first found it missing and the follow's last change (the
// relay's answer is a sign of life).
func (s *Service) vanished(f store.RelayFollow, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cfg.Directory.Get(f.Peer); ok {
		delete(s.missing, f.Peer)
		return time.Time{}, false
	}
	since, ok := s.missing[f.Peer]
	if !ok {
		since = now
		s.missing[f.Peer] = since
	}
	if f.UpdatedAt.After(since) {
		since = f.UpdatedAt
	}
	return since, now.Sub(since) > VanishedAfter
}

// forgetMissing forgets the missing relays this relay no longer follows.
func (s *Service) forgetMissing(follows map[string]store.RelayFollow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for peer := range s.missing {
		if _, ok := follows[peer]; !ok {
			delete(s.missing, peer)
		}
	}
}

// unfollowRelay forgets this relay's follow f and queues, in the same
// change, the Undo of its Follow to the followed relay (Mastodon style,
// like the Follow). It goes as a farewell (store.FarewellSlice): even a
// relay whose domain the rules now block gets it, so that it stops
// delivering to this relay.
func (s *Service) unfollowRelay(ctx context.Context, f store.RelayFollow, now time.Time) error {
	follow := vocab.FollowNew(vocab.ID(f.FollowID), vocab.IRI(asjson.Public))
	follow.Actor = vocab.IRI(s.cfg.ActorID)
	id := s.cfg.NewID()
	u := vocab.UndoNew(vocab.ID(id), follow)
	u.Actor = vocab.IRI(s.cfg.ActorID)
	u.To = vocab.ItemCollection{vocab.IRI(f.Actor)}
	body, err := asjson.Marshal(u)
	if err != nil {
		return err
	}
	msg := store.Message{ActivityID: id, Body: body, At: now, KeyID: s.cfg.KeyID,
		Targets: []store.Target{{Peer: f.Peer, Inbox: f.Inbox, Slice: store.FarewellSlice}}}
	if err := s.cfg.Store.Apply(ctx, store.Change{Unfollow: f.Peer, Messages: []store.Message{msg}}); err != nil {
		return err
	}
	s.cfg.Notify()
	return nil
}

// followRelay queues a Follow of a relay (Mastodon style: the object is
// as:Public) and records it as pending.
func (s *Service) followRelay(ctx context.Context, peer, actor, inbox string, now time.Time) error {
	id := s.cfg.NewID()
	f := vocab.FollowNew(vocab.ID(id), vocab.IRI(asjson.Public))
	f.Actor = vocab.IRI(s.cfg.ActorID)
	f.To = vocab.ItemCollection{vocab.IRI(actor)}
	body, err := asjson.Marshal(f)
	if err != nil {
		return err
	}
	msg := store.Message{ActivityID: id, Body: body, At: now, KeyID: s.cfg.KeyID,
		Targets: []store.Target{{Peer: peer, Inbox: inbox}}}
	err = s.cfg.Store.Apply(ctx, store.Change{Messages: []store.Message{msg},
		Follow: &store.RelayFollow{Peer: peer, Actor: actor, Inbox: inbox, FollowID: id, State: store.Pending}})
	if err == nil {
		s.cfg.Notify()
	}
	return err
}

// FollowAnswer records a relay's Accept or Reject of this relay's Follow;
// "" when in answers no such Follow.
func (s *Service) FollowAnswer(ctx context.Context, in *inbox.Activity) (string, error) {
	state := store.Accepted
	if in.Type == vocab.RejectType {
		state = store.Rejected
	}
	a := &store.RelayFollowAnswer{Peer: in.Peer, FollowID: in.ObjectID, State: state}
	switch err := s.cfg.Store.Apply(ctx, store.Change{Seen: in.ID, FollowAnswer: a}); {
	case errors.Is(err, store.ErrDuplicate):
		return "duplicate", nil
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	}
	s.cfg.Log.Info("a relay answered this relay's Follow", "peer", in.Peer, "state", state)
	return "relay_follow_" + string(state), nil
}

// AcceptedFollow returns this relay's follow of peer, when peer accepted
// it.
func (s *Service) AcceptedFollow(ctx context.Context, peer string) (store.RelayFollow, bool, error) {
	f, err := s.cfg.Store.RelayFollow(ctx, peer)
	if errors.Is(err, store.ErrNotFound) {
		return f, false, nil
	}
	return f, err == nil && f.State == store.Accepted, err
}

// IsRelay reports whether peer is a relay this relay knows from
// discovery.
func (s *Service) IsRelay(peer string) bool {
	e, ok := s.cfg.Directory.Get(peer)
	return ok && e.Verified
}
