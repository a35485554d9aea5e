// Package fanout routes a subscriber's public activity to the relay's
// other subscribers: to everyone following the relay and, for a listing,
// to the followers of its kind's and regions' slices; once per delivery
// inbox per slice, never back toward its origin, bounded in hops across a
// mesh of relays. What it routes is queued in the store with the record
// that the activity was seen, in one transaction.
package fanout

import (
	"context"
	"errors"
	"net/http"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/fetch"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
)

// Store is what fan-out reads and changes.
type Store interface {
	Listing(ctx context.Context, id string) (store.ListingRecord, error)
	SubscribersIn(ctx context.Context, slice string, state store.SubscriptionState) ([]store.Subscriber, error)
	PeerSubscriptions(ctx context.Context, peer string) ([]store.Subscriber, error)
	Apply(ctx context.Context, c store.Change) error
}

// Fetcher reads actors and objects from their servers (signed GET, egress
// guard, size and time bounds).
type Fetcher interface {
	Actor(ctx context.Context, iri string) (fetch.Actor, error)
	Get(ctx context.Context, url string) ([]byte, error)
}

// Relays is what fan-out asks of relay federation.
type Relays interface {
	// RelayedListing reads the listing a followed relay announced from its
	// author's server; nil when there is none.
	RelayedListing(ctx context.Context, in *inbox.Activity, now time.Time) (*store.ListingRecord, error)
	// RefetchForwarded reads the object of an Update or Delete a followed
	// relay forwarded from its author's server; stands is false for a
	// Delete of an object that still exists there.
	RefetchForwarded(ctx context.Context, in *inbox.Activity, now time.Time) (rec *store.ListingRecord, stands bool, err error)
	// IsRelay reports whether peer is a relay known from discovery.
	IsRelay(peer string) bool
}

// Publishers tells who may publish through the relay.
type Publishers interface {
	// MayPublish reports whether peer holds an accepted subscription or
	// is a relay this relay follows.
	MayPublish(ctx context.Context, peer string) (bool, error)
}

// Moderation applies the rules to a subject and counts what they refuse.
type Moderation interface {
	Judge(policy.Subject) policy.Decision
	Refused(policy.Decision)
}

// Config is what fan-out works with; the relay fills it.
type Config struct {
	// PublicURL is the relay's base URL.
	PublicURL string
	// MaxHops is how many relays an activity may cross before it is no
	// longer passed on to other relays.
	MaxHops int
	// NewID returns a fresh IRI for an activity the relay sends.
	NewID func() string
	// Notify wakes the delivery dispatcher.
	Notify func()

	Slices     *slices.Set
	Listings   *Listings
	Store      Store
	Fetch      Fetcher
	Relays     Relays
	Publishers Publishers
	Moderation Moderation
}

// Service fans activities out.
type Service struct{ cfg Config }

// New returns the fan-out service.
func New(cfg Config) *Service { return &Service{cfg: cfg} }

// Relay fans a subscriber's public activity out: to every other subscriber
// of the relay and, for a listing, to the subscribers of the slices it
// belongs to (its kind and its regions), once per delivery inbox per slice,
// never back to its origin host. It returns a result label.
//
// What is sent: a body carrying an LD signature or an FEP-8b32 proof is
// forwarded byte for byte (receivers verify it without trusting the relay);
// a Create without one is wrapped in an Announce of its object, signed by
// the relay or slice actor, since receivers would drop a Create signed by
// someone else; an Announce is re-announced the same way; Update, Delete and
// Move are forwarded as they came.
func (s *Service) Relay(ctx context.Context, in *inbox.Activity) (string, error) {
	if result, err := s.mayRelay(ctx, in); result != "" || err != nil {
		return result, err
	}
	now := time.Now()
	rec, result, err := s.listingOf(ctx, in, now)
	if result != "" || err != nil {
		return result, err
	}
	var expires time.Time
	if rec != nil {
		expires = rec.End
	}
	// A listing's Update or Delete also reaches the slices of its earlier
	// version, whose followers hold it.
	sliceNames := s.cfg.Slices.Of(rec)
	var del *store.ListingDelete
	if in.Type == vocab.UpdateType || in.Type == vocab.DeleteType {
		if old, err := s.cfg.Store.Listing(ctx, in.ObjectID); err == nil && old.Actor == in.Actor {
			sliceNames = union(sliceNames, s.cfg.Slices.Of(&old))
		}
		if in.Type == vocab.DeleteType && in.ObjectID != in.Actor {
			del = &store.ListingDelete{ID: in.ObjectID, Actor: in.Actor}
		}
	}

	// A limited peer's activities are not fanned out to the relay's
	// everything-subscribers: its listings reach only their slices'
	// followers, and its other posts are not relayed.
	targets := append([]string{""}, sliceNames...)
	if in.Decision.Action == policy.Limit {
		if len(sliceNames) == 0 {
			return "limited", nil
		}
		targets = sliceNames
	}
	var msgs []store.Message
	for _, name := range targets {
		m, err := s.sliceMessage(ctx, in, name, now, expires)
		if err != nil {
			return "", err
		}
		if len(m.Targets) > 0 || name == "" {
			msgs = append(msgs, m)
		}
	}
	change := store.Change{Seen: in.ID, Messages: msgs, PutListing: rec, DeleteListing: del}
	if reannounced(in) {
		// In a mesh of relays the same object arrives along several
		// paths, each time in another relay's Announce: it is relayed once.
		change.SeenObject = in.ObjectID
	}
	if err := s.cfg.Store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	s.cfg.Notify()
	return "relayed", nil
}

// listingOf returns the listing in carries or names, if any: posted here,
// forwarded by a followed relay (read again from its author's server) or
// announced by one. A result label ends the work without relaying.
func (s *Service) listingOf(ctx context.Context, in *inbox.Activity, now time.Time) (*store.ListingRecord, string, error) {
	switch {
	case in.Via != "":
		rec, stands, err := s.cfg.Relays.RefetchForwarded(ctx, in, now)
		if !stands && err == nil {
			return nil, "not_deleted", nil
		}
		return rec, "", err
	case (in.Type == vocab.CreateType || in.Type == vocab.UpdateType) && listing.IsListing(in.Raw):
		rec, err := s.cfg.Listings.Check(in.Raw, in.ID, in.Peer, now)
		return rec, "", err
	case in.Type == vocab.AnnounceType && !in.Embedded:
		rec, err := s.cfg.Relays.RelayedListing(ctx, in, now)
		return rec, "", err
	}
	return nil, "", nil
}

// mayRelay checks what every relayed activity must be: from a subscriber
// (or a followed relay), addressed to everyone, the actor's own object,
// with an object id. It returns a result label for an activity that is
// accepted but not relayed, or the refusal.
func (s *Service) mayRelay(ctx context.Context, in *inbox.Activity) (string, error) {
	sender := in.Peer
	if in.Via != "" {
		sender = in.Via
	}
	ok, err := s.cfg.Publishers.MayPublish(ctx, sender)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", inbox.Refuse(http.StatusForbidden, "not_subscriber", "%s is not an accepted subscriber of this relay", sender)
	}
	if !in.Public {
		// Not to as:Public: only a LitePub relay actor's Announce passes.
		if ok, err := s.litePubAnnounce(ctx, in); err != nil || !ok {
			return "not_public", err
		}
	}
	if err := inbox.CheckAttribution(in); err != nil {
		return "", err
	}
	if in.ObjectID == "" {
		return "", inbox.Refuse(http.StatusBadRequest, "invalid", "%s has no object id", in.Type)
	}
	return "", s.judgeObject(in)
}

// judgeObject applies the rules to the object an activity carries or
// names: its IRI must be http(s), and its server must not be one the rules
// block (an Announce of a suspended domain's post is refused like a post
// from it).
func (s *Service) judgeObject(in *inbox.Activity) error {
	peer, err := policy.PeerOf(in.ObjectID)
	if err != nil {
		return inbox.Refuse(http.StatusBadRequest, "invalid", "object id %q is not an http(s) IRI", in.ObjectID)
	}
	if d := s.cfg.Moderation.Judge(policy.Subject{Peer: peer, Actor: in.ObjectID}); d.Action.Blocks() {
		s.cfg.Moderation.Refused(d)
		return inbox.Refuse(http.StatusForbidden, "policy", "refused: the object's server: %s", d.Reason())
	}
	return nil
}
