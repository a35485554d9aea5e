package federation

import (
	"context"
	"encoding/json"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/fetch"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// RelayedListing reads the listing another relay announced, so that it
// reaches this relay's slices and index too. A relay's Announce carries
// only the object's id: the object is read from its author's server (see
// fetchListing), never taken from the relay. It returns nil when the
// sender is not a relay this relay follows, or the object is not a listing
// or cannot be read (it is then relayed as any Announce).
func (s *Service) RelayedListing(ctx context.Context, in *inbox.Activity, now time.Time) (*store.ListingRecord, error) {
	if in.ObjectID == "" {
		return nil, nil
	}
	if _, ok, err := s.AcceptedFollow(ctx, in.Peer); err != nil || !ok {
		return nil, err
	}
	return s.fetchListing(ctx, in, in.Peer, "", now)
}

// ForwardedByRelay reports whether in is an author's Update or Delete that
// a relay this relay follows forwarded, signed with the relay's key (as
// relays forward these); it records the relay in in.Via and its actor in
// in.ViaActor. The body is then not trusted: the object is read again
// from its author's server.
func (s *Service) ForwardedByRelay(ctx context.Context, keyID string, in *inbox.Activity) bool {
	if in.Type != vocab.UpdateType && in.Type != vocab.DeleteType {
		return false
	}
	peer, err := policy.PeerOf(keyID)
	if err != nil {
		return false
	}
	f, ok, err := s.AcceptedFollow(ctx, peer)
	if err != nil || !ok {
		return false
	}
	in.Via, in.ViaActor = peer, f.Actor
	return true
}

// RefetchForwarded reads the object of an Update or Delete a relay
// forwarded from the author's server: an Update's listing is checked and
// returned (nil when the object is not a listing or cannot be read); a
// Delete stands only if the author's server answers 404 or 410: stands is
// false when the object still exists at its origin.
func (s *Service) RefetchForwarded(ctx context.Context, in *inbox.Activity, now time.Time) (rec *store.ListingRecord, stands bool, err error) {
	if in.Type == vocab.DeleteType {
		_, err := s.cfg.Fetch.Get(ctx, in.ObjectID)
		return nil, fetch.Gone(err), nil
	}
	rec, err = s.fetchListing(ctx, in, in.Via, in.Actor, now)
	return rec, true, err
}

// fetchListing reads in's object from its own server (signed GET, egress
// guard, size and time bounds) and, when it is a Proposal with that id
// (and, when actor is set, by that actor), checks it like a listing posted
// here: an invalid one gets 422. Objects that cannot be read or are not
// listings give nil; fetch failures are counted and logged against via,
// the relay that passed the object on.
func (s *Service) fetchListing(ctx context.Context, in *inbox.Activity, via, actor string, now time.Time) (*store.ListingRecord, error) {
	body, err := s.cfg.Fetch.Get(ctx, in.ObjectID)
	if err != nil {
		s.cfg.RelayedObject("fetch_failed")
		s.cfg.PeerLog.Warn(via, "object_fetch", "fetching an object a relay passed on", "object", in.ObjectID, "err", err)
		return nil, nil
	}
	if !listing.IsProposal(body) {
		s.cfg.RelayedObject("not_listing")
		return nil, nil
	}
	rec, err := s.cfg.Listings.Check(body, in.ID, "", now)
	if err != nil {
		s.cfg.RelayedObject("invalid")
		return nil, err
	}
	if rec.ID != in.ObjectID || (actor != "" && rec.Actor != actor) {
		s.cfg.RelayedObject("mismatch")
		s.cfg.PeerLog.Warn(via, "object_id", "a passed-on object has another id or author", "object", in.ObjectID, "id", rec.ID)
		return nil, nil
	}
	s.cfg.RelayedObject("listing")
	rec.Peer, _ = policy.PeerOf(rec.Actor)
	rec.Activity, _ = json.Marshal(map[string]any{"id": in.ID, "type": in.Type, "actor": in.Actor, "object": json.RawMessage(body)})
	return rec, nil
}
