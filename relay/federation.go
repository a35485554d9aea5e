package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/fetch"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// Relay-to-relay federation.
const (
	// refollowAfter is how long a relay that rejected this relay's Follow
	// is left alone before it is asked again.
	refollowAfter = 24 * time.Hour
)

// relayFederation follows other relays and reads what they pass on.
type relayFederation struct{ *Server }

// FederationConfig configures relay-to-relay federation.
type FederationConfig struct {
	// Relays makes this relay subscribe automatically to every verified
	// relay in its discovery directory that the moderation rules accept
	// (in allowlist mode: only allowed ones; limited peers are not
	// followed), with the same relay handshake a server uses. Default off.
	Relays bool
	// MaxHops is how many relays an activity may cross: one that has
	// crossed MaxHops relays still reaches this relay's own subscribers
	// but is not passed on to other relays. Default 3.
	MaxHops int
	// Interval is how often the directory is checked for relays to
	// follow. Default one minute.
	Interval time.Duration
}

// federate follows every verified, reachable relay of the directory that
// the moderation rules accept and that this relay does not follow yet.
// The Follow is queued durably with the record of it. Follows of relays
// the rules now block or limit are dropped: nothing more is taken from
// them (and nothing could be sent to them).
func (s *relayFederation) federate(ctx context.Context) error {
	follows, err := s.store.RelayFollows(ctx)
	if err != nil {
		return err
	}
	have := make(map[string]store.RelayFollow, len(follows))
	for _, f := range follows {
		if d := s.judge(policy.Subject{Peer: f.Peer, Actor: f.Actor}); d.Action.Blocks() || d.Action == policy.Limit {
			if err := s.store.Apply(ctx, store.Change{Unfollow: f.Peer}); err != nil {
				return err
			}
			s.log.Info("no longer following a relay the rules refuse", "peer", f.Peer, "action", d.Action)
			continue
		}
		have[f.Peer] = f
	}
	now := time.Now()
	for _, e := range s.directory.List(now) {
		r := e.Record
		// Down is gossip's unverifiable hint: it does not stop a follow.
		if !e.Verified || r.Domain == s.host {
			continue
		}
		if d := s.judge(policy.Subject{Peer: r.Domain, Actor: r.Actor}); d.Action.Blocks() || d.Action == policy.Limit {
			continue
		}
		if f, ok := have[r.Domain]; ok && f.Actor == r.Actor && (f.State != store.Rejected || now.Sub(f.UpdatedAt) < refollowAfter) {
			continue
		}
		if err := s.followRelay(ctx, r.Domain, r.Actor, r.Inbox, now); err != nil {
			return fmt.Errorf("following %s: %w", r.Domain, err)
		}
		s.log.Info("following a discovered relay", "peer", r.Domain, "actor", r.Actor)
	}
	return nil
}

// followRelay queues a Follow of a relay (Mastodon style: the object is
// as:Public) and records it as pending.
func (s *relayFederation) followRelay(ctx context.Context, peer, actor, inbox string, now time.Time) error {
	id := s.newID()
	f := vocab.FollowNew(vocab.ID(id), vocab.IRI(asjson.Public))
	f.Actor = vocab.IRI(s.actorID)
	f.To = vocab.ItemCollection{vocab.IRI(actor)}
	body, err := asjson.Marshal(f)
	if err != nil {
		return err
	}
	msg := store.Message{ActivityID: id, Body: body, At: now, KeyID: s.slices.KeyID(""),
		Targets: []store.Target{{Peer: peer, Inbox: inbox}}}
	err = s.store.Apply(ctx, store.Change{Messages: []store.Message{msg},
		Follow: &store.RelayFollow{Peer: peer, Actor: actor, Inbox: inbox, FollowID: id, State: store.Pending}})
	if err == nil {
		s.dispatcher.Notify()
	}
	return err
}

// relayFollowAnswer records a relay's Accept or Reject of this relay's
// Follow; "" when in answers no such Follow.
func (s *relayFederation) relayFollowAnswer(ctx context.Context, in *inbox.Activity) (string, error) {
	state := store.Accepted
	if in.Type == vocab.RejectType {
		state = store.Rejected
	}
	a := &store.RelayFollowAnswer{Peer: in.Peer, FollowID: in.ObjectID, State: state}
	switch err := s.store.Apply(ctx, store.Change{Seen: in.ID, FollowAnswer: a}); {
	case errors.Is(err, store.ErrDuplicate):
		return "duplicate", nil
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	}
	s.log.Info("a relay answered this relay's Follow", "peer", in.Peer, "state", state)
	return "relay_follow_" + string(state), nil
}

// relayedListing reads the listing another relay announced, so that it
// reaches this relay's slices and index too. A relay's Announce carries
// only the object's id: the object is read from its author's server (see
// fetchListing), never taken from the relay. It returns nil when the
// sender is not a relay this relay follows, or the object is not a listing
// or cannot be read (it is then relayed as any Announce).
func (s *relayFederation) relayedListing(ctx context.Context, in *inbox.Activity, now time.Time) (*store.ListingRecord, error) {
	if in.ObjectID == "" {
		return nil, nil
	}
	if _, ok, err := s.acceptedFollow(ctx, in.Peer); err != nil || !ok {
		return nil, err
	}
	return s.fetchListing(ctx, in, in.Peer, "", now)
}

// forwardedByRelay reports whether in is an author's Update or Delete that
// a relay this relay follows forwarded, signed with the relay's key (as
// relays forward these); it records the relay in in.Via and its actor in
// in.ViaActor. The body is then not trusted: the object is read again
// from its author's server.
func (s *relayFederation) forwardedByRelay(ctx context.Context, keyID string, in *inbox.Activity) bool {
	if in.Type != vocab.UpdateType && in.Type != vocab.DeleteType {
		return false
	}
	peer, err := policy.PeerOf(keyID)
	if err != nil {
		return false
	}
	f, ok, err := s.acceptedFollow(ctx, peer)
	if err != nil || !ok {
		return false
	}
	in.Via, in.ViaActor = peer, f.Actor
	return true
}

// errNotGone: a relay forwarded a Delete of an object its author's server
// still serves.
var errNotGone = errors.New("the object still exists at its origin")

// refetchForwarded reads the object of an Update or Delete a relay
// forwarded from the author's server: an Update's listing is checked and
// returned (nil when the object is not a listing or cannot be read); a
// Delete stands only if the author's server answers 404 or 410.
func (s *relayFederation) refetchForwarded(ctx context.Context, in *inbox.Activity, now time.Time) (*store.ListingRecord, error) {
	if in.Type == vocab.DeleteType {
		if _, err := s.fetch.Get(ctx, in.ObjectID); fetch.Gone(err) {
			return nil, nil
		}
		return nil, errNotGone
	}
	return s.fetchListing(ctx, in, in.Via, in.Actor, now)
}

// fetchListing reads in's object from its own server (signed GET, egress
// guard, size and time bounds) and, when it is a Proposal with that id
// (and, when actor is set, by that actor), checks it like a listing posted
// here: an invalid one gets 422. Objects that cannot be read or are not
// listings give nil; fetch failures are counted and logged against via,
// the relay that passed the object on.
func (s *relayFederation) fetchListing(ctx context.Context, in *inbox.Activity, via, actor string, now time.Time) (*store.ListingRecord, error) {
	body, err := s.fetch.Get(ctx, in.ObjectID)
	if err != nil {
		s.metrics.relayedObjects.WithLabelValues("fetch_failed").Inc()
		s.peerLog.Warn(via, "object_fetch", "fetching an object a relay passed on", "object", in.ObjectID, "err", err)
		return nil, nil
	}
	if !listing.IsProposal(body) {
		s.metrics.relayedObjects.WithLabelValues("not_listing").Inc()
		return nil, nil
	}
	rec, err := s.checkListing(body, in.ID, "", now)
	if err != nil {
		s.metrics.relayedObjects.WithLabelValues("invalid").Inc()
		return nil, err
	}
	if rec.ID != in.ObjectID || (actor != "" && rec.Actor != actor) {
		s.metrics.relayedObjects.WithLabelValues("mismatch").Inc()
		s.peerLog.Warn(via, "object_id", "a passed-on object has another id or author", "object", in.ObjectID, "id", rec.ID)
		return nil, nil
	}
	s.metrics.relayedObjects.WithLabelValues("listing").Inc()
	rec.Peer, _ = policy.PeerOf(rec.Actor)
	rec.Activity, _ = json.Marshal(map[string]any{"id": in.ID, "type": in.Type, "actor": in.Actor, "object": json.RawMessage(body)})
	return rec, nil
}

// acceptedFollow returns this relay's follow of peer, when peer accepted
// it.
func (s *relayFederation) acceptedFollow(ctx context.Context, peer string) (store.RelayFollow, bool, error) {
	f, err := s.store.RelayFollow(ctx, peer)
	if errors.Is(err, store.ErrNotFound) {
		return f, false, nil
	}
	return f, err == nil && f.State == store.Accepted, err
}

// isRelay reports whether peer is a relay this relay knows from discovery.
func (s *relayFederation) isRelay(peer string) bool {
	e, ok := s.directory.Get(peer)
	return ok && e.Verified
}

// withHops adds the hop count to an Announce this relay builds.
func withHops(body []byte, hops int) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	m[inbox.HopsProperty] = json.RawMessage(strconv.Itoa(hops))
	return json.Marshal(m)
}
