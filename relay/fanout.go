package relay

import (
	"context"
	"errors"
	"net/http"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// relay fans a subscriber's public activity out to every other accepted
// subscriber, once per delivery inbox, never back to its origin host.
//
// What is sent: a body carrying an LD signature or an FEP-8b32 proof is
// forwarded byte for byte (receivers verify it without trusting the relay);
// a Create without one is wrapped in an Announce of its object, signed by
// the relay, since receivers would drop a Create the relay signs for someone
// else; an Announce is re-announced by the relay; Update, Delete and Move are
// forwarded as they came.
func (s *Server) relay(ctx context.Context, in *inbound) (string, error) {
	sub, err := s.store.Subscriber(ctx, in.Peer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if err != nil || sub.State != store.Accepted {
		return "", refuse(http.StatusForbidden, "not_subscriber", "%s is not an accepted subscriber of this relay", in.Peer)
	}
	if !in.Public {
		return "not_public", nil
	}
	if in.ObjectID == "" {
		return "", refuse(http.StatusBadRequest, "invalid", "%s has no object id", in.Type)
	}
	now := time.Now()
	msg := store.Message{ActivityID: in.ID, Body: in.raw, At: now}
	var rec *store.ListingRecord
	if (in.Type == vocab.CreateType || in.Type == vocab.UpdateType) && listing.IsListing(in.raw) {
		l, problems := listing.Check(in.raw, listing.Rules{Now: now, Horizon: s.cfg.ListingHorizon, SurplusHorizon: s.cfg.SurplusHorizon})
		if problems != nil {
			for _, p := range problems {
				s.metrics.listingsBad.WithLabelValues(p.Reason).Inc()
			}
			rf := refuse(http.StatusUnprocessableEntity, "invalid_listing", "invalid listing: %s", problems[0])
			rf.problems = problems
			return "", rf
		}
		s.metrics.listings.WithLabelValues(string(l.Kind)).Inc()
		msg.Expires = l.End
		rec = &store.ListingRecord{ID: l.ID, ActivityID: in.ID, Actor: l.Actor, Peer: in.Peer, Kind: string(l.Kind),
			Name: l.Name, Start: l.Start, End: l.End, Lat: l.Lat, Lon: l.Lon, Regions: s.regionsOf(l),
			Products: l.Products, Activity: in.raw, ReceivedAt: now}
	}
	var del *store.ListingDelete
	if in.Type == vocab.DeleteType && in.ObjectID != in.Actor {
		del = &store.ListingDelete{ID: in.ObjectID, Actor: in.Actor}
	}
	if !in.Embedded && (in.Type == vocab.CreateType || in.Type == vocab.AnnounceType) {
		msg.ActivityID = s.newID()
		a := vocab.AnnounceNew(vocab.ID(msg.ActivityID), vocab.IRI(in.ObjectID))
		a.Actor = vocab.IRI(s.actorID)
		a.To = vocab.ItemCollection{vocab.IRI(asPublic)}
		a.CC = vocab.ItemCollection{vocab.IRI(s.cfg.PublicURL + "/followers")}
		a.Published = now.UTC().Truncate(time.Second)
		if msg.Body, err = marshalAS(a); err != nil {
			return "", err
		}
	}
	subs, err := s.store.SubscribersIn(ctx, store.Accepted)
	if err != nil {
		return "", err
	}
	seen := make(map[string]bool, len(subs))
	for _, t := range subs {
		if t.Peer == in.Peer || seen[t.Inbox] {
			continue
		}
		seen[t.Inbox] = true
		msg.Targets = append(msg.Targets, store.Target{Peer: t.Peer, Inbox: t.Inbox})
	}
	change := store.Change{Seen: in.ID, Messages: []store.Message{msg}, PutListing: rec, DeleteListing: del}
	if err := s.store.Apply(ctx, change); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return "duplicate", nil
		}
		return "", err
	}
	s.dispatcher.Notify()
	return "relayed", nil
}
