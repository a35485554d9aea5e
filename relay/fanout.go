package relay

import (
	"context"
	"errors"
	"net/http"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// relay fans a subscriber's public activity out: to every other subscriber
// of the relay and, for a listing, to the subscribers of the slices it
// belongs to (its kind and its regions), once per delivery inbox per slice,
// never back to its origin host.
//
// What is sent: a body carrying an LD signature or an FEP-8b32 proof is
// forwarded byte for byte (receivers verify it without trusting the relay);
// a Create without one is wrapped in an Announce of its object, signed by
// the relay or slice actor, since receivers would drop a Create signed by
// someone else; an Announce is re-announced the same way; Update, Delete and
// Move are forwarded as they came.
func (s *Server) relay(ctx context.Context, in *inbox.Activity) (string, error) {
	if result, err := s.mayRelay(ctx, in); result != "" || err != nil {
		return result, err
	}
	now := time.Now()
	var err error
	var rec *store.ListingRecord
	var expires time.Time
	switch {
	case in.Via != "":
		rec, err = s.refetchForwarded(ctx, in, now)
		if errors.Is(err, errNotGone) {
			return "not_deleted", nil
		}
		if err != nil {
			return "", err
		}
		if rec != nil {
			expires = rec.End
		}
	case (in.Type == vocab.CreateType || in.Type == vocab.UpdateType) && listing.IsListing(in.Raw):
		if rec, err = s.checkListing(in.Raw, in.ID, in.Peer, now); err != nil {
			return "", err
		}
		expires = rec.End
	}
	if rec == nil && in.Type == vocab.AnnounceType && !in.Embedded {
		if rec, err = s.relayedListing(ctx, in, now); err != nil {
			return "", err
		}
		if rec != nil {
			expires = rec.End
		}
	}
	// A listing's Update or Delete also reaches the slices of its earlier
	// version, whose followers hold it.
	slices := s.slices.Of(rec)
	var del *store.ListingDelete
	if in.Type == vocab.UpdateType || in.Type == vocab.DeleteType {
		if old, err := s.store.Listing(ctx, in.ObjectID); err == nil && old.Actor == in.Actor {
			slices = union(slices, s.slices.Of(&old))
		}
		if in.Type == vocab.DeleteType && in.ObjectID != in.Actor {
			del = &store.ListingDelete{ID: in.ObjectID, Actor: in.Actor}
		}
	}

	// A limited peer's activities are not fanned out to the relay's
	// everything-subscribers: its listings reach only their slices'
	// followers, and its other posts are not relayed.
	targets := append([]string{""}, slices...)
	if in.Decision.Action == policy.Limit {
		if len(slices) == 0 {
			return "limited", nil
		}
		targets = slices
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
	if err := s.store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	s.dispatcher.Notify()
	return "relayed", nil
}

// mayRelay checks what every relayed activity must be: from a subscriber
// (or a followed relay), addressed to everyone, the actor's own object,
// with an object id. It returns a result label for an activity that is
// accepted but not relayed, or the refusal.
func (s *Server) mayRelay(ctx context.Context, in *inbox.Activity) (string, error) {
	sender := in.Peer
	if in.Via != "" {
		sender = in.Via
	}
	ok, err := s.mayPublish(ctx, sender)
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
func (s *Server) judgeObject(in *inbox.Activity) error {
	peer, err := policy.PeerOf(in.ObjectID)
	if err != nil {
		return inbox.Refuse(http.StatusBadRequest, "invalid", "object id %q is not an http(s) IRI", in.ObjectID)
	}
	if d := s.judge(policy.Subject{Peer: peer, Actor: in.ObjectID}); d.Action.Blocks() {
		s.countRejection(d.Action, d.Rule)
		return inbox.Refuse(http.StatusForbidden, "policy", "refused: the object's server: %s", d.Reason())
	}
	return nil
}

// mayPublish: only peers with an accepted subscription, to the relay or
// to a slice, and relays this relay follows may publish through it.
func (s *Server) mayPublish(ctx context.Context, peer string) (bool, error) {
	subs, err := s.store.PeerSubscriptions(ctx, peer)
	if err != nil {
		return false, err
	}
	for _, sub := range subs {
		if sub.State == store.Accepted {
			return true, nil
		}
	}
	_, ok, err := s.acceptedFollow(ctx, peer)
	return ok, err
}

// checkListing validates a listing (an activity carrying a Proposal, or a
// bare Proposal) that activityID brought from peer, and returns its index
// record.
func (s *Server) checkListing(doc []byte, activityID, peer string, now time.Time) (*store.ListingRecord, error) {
	l, problems := listing.Check(doc, listing.Rules{Now: now, Horizon: s.cfg.ListingHorizon, SurplusHorizon: s.cfg.SurplusHorizon})
	if problems != nil {
		for _, p := range problems {
			s.metrics.listingsBad.WithLabelValues(p.Reason).Inc()
		}
		rf := inbox.Refuse(http.StatusUnprocessableEntity, "invalid_listing", "invalid listing: %s", problems[0])
		rf.Problems = problems
		return nil, rf
	}
	s.metrics.listings.WithLabelValues(string(l.Kind)).Inc()
	return &store.ListingRecord{ID: l.ID, ActivityID: activityID, Actor: l.Actor, Peer: peer, Kind: string(l.Kind),
		Name: l.Name, Start: l.Start, End: l.End, Lat: l.Lat, Lon: l.Lon, Regions: s.regionsOf(l),
		Products: l.Products, Activity: doc, ReceivedAt: now}, nil
}

// sliceMessage builds what the subscribers of one slice ("" for the relay)
// receive for in, and to whom.
func (s *Server) sliceMessage(ctx context.Context, in *inbox.Activity, name string, now, expires time.Time) (store.Message, error) {
	msg := store.Message{ActivityID: in.ID, Body: in.Raw, At: now, Expires: expires, KeyID: s.slices.KeyID(name)}
	if reannounced(in) {
		msg.ActivityID = s.newID()
		body, err := s.announce(name, msg.ActivityID, in.ObjectID, now)
		if err == nil {
			body, err = withHops(body, in.Hops+1)
		}
		if err != nil {
			return msg, err
		}
		msg.Body = body
	}
	subs, err := s.store.SubscribersIn(ctx, name, store.Accepted)
	if err != nil {
		return msg, err
	}
	msg.ToSubscribers = true // one that ends before the change commits gets nothing
	// Never back toward the origin: not to the sender, nor to the
	// object's own server. Past the hop bound, not to other relays.
	origin, _ := policy.PeerOf(in.ObjectID)
	lastHop := in.Hops+1 >= s.cfg.Federation.MaxHops
	seen := make(map[string]bool, len(subs))
	for _, t := range subs {
		if t.Peer == in.Peer || t.Peer == in.Via || t.Peer == origin || seen[t.Inbox] || (lastHop && s.isRelay(t.Peer)) {
			continue
		}
		if d := s.judge(policy.Subject{Peer: t.Peer, Actor: t.Actor}); d.Action.Blocks() {
			s.countRejection(d.Action, d.Rule)
			continue
		}
		seen[t.Inbox] = true
		msg.Targets = append(msg.Targets, store.Target{Peer: t.Peer, Inbox: t.Inbox, Slice: name})
	}
	return msg, nil
}

// reannounced reports whether in is relayed as an Announce of its object,
// signed by this relay: a Create or Announce without an LD signature or
// proof.
func reannounced(in *inbox.Activity) bool {
	return !in.Embedded && (in.Type == vocab.CreateType || in.Type == vocab.AnnounceType)
}

// announce is an Announce of object by a slice's actor ("" for the relay).
func (s *Server) announce(name, id, object string, published time.Time) ([]byte, error) {
	actor := s.slices.Actor(name)
	a := vocab.AnnounceNew(vocab.ID(id), vocab.IRI(object))
	a.Actor = vocab.IRI(actor)
	a.To = vocab.ItemCollection{vocab.IRI(asjson.Public)}
	followers := s.cfg.PublicURL + "/followers"
	if name != "" {
		followers = actor + "/followers"
	}
	a.CC = vocab.ItemCollection{vocab.IRI(followers)}
	a.Published = published.UTC().Truncate(time.Second)
	return asjson.Marshal(a)
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range append(append([]string{}, a...), b...) {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
