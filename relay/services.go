package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/bridge"
	"github.com/runrig/runrig/relay/fanout"
	"github.com/runrig/runrig/relay/federation"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/subscription"
)

// services are what the relay does with a verified activity, each in a
// package of its own; they meet only here, through the interfaces each
// declares.
type services struct {
	subs       *subscription.Service
	federation *federation.Service
	fanout     *fanout.Service
	// bridges publish DFC catalogs as listings.
	bridges *bridge.Service
}

// newServices builds the subscription, federation and fan-out services
// over the relay's store, fetcher, rules and dispatcher.
func (s *Server) newServices() services {
	listings := &fanout.Listings{Horizon: s.cfg.ListingHorizon, SurplusHorizon: s.cfg.SurplusHorizon, Slices: s.slices,
		Accepted: func(kind string) { s.metrics.listings.WithLabelValues(kind).Inc() },
		Problem:  func(reason string) { s.metrics.listingsBad.WithLabelValues(reason).Inc() }}
	var sv services
	sv.subs = subscription.New(subscription.Config{
		AutoAccept: func() bool { return s.approvalMode() == ApproveAuto }, Slices: s.slices, NewID: s.newID,
		Event: func(e string) { s.metrics.subscriptions.WithLabelValues(e).Inc() },
		Store: s.store, Fetch: s.fetch, Deliveries: s.dispatcher, Background: &s.bg,
		Log: s.log, PeerLog: s.peerLog,
	})
	sv.federation = federation.New(federation.Config{
		Host: s.host, ActorID: s.actorID, KeyID: s.slices.KeyID(""), NewID: s.newID, Judge: s.judge,
		RelayedObject: func(r string) { s.metrics.relayedObjects.WithLabelValues(r).Inc() },
		Notify:        s.dispatcher.Notify,
		Store:         s.store, Directory: s.directory, Fetch: s.fetch, Listings: listings,
		Log: s.log, PeerLog: s.peerLog,
	})
	sv.fanout = fanout.New(fanout.Config{
		PublicURL: s.cfg.PublicURL, MaxHops: s.cfg.Federation.MaxHops, NewID: s.newID, Notify: s.dispatcher.Notify,
		Slices: s.slices, Listings: listings, Store: s.store, Fetch: s.fetch, Relays: sv.federation,
		Publishers: publishers{sv}, Moderation: fanoutModeration{s},
	})
	sv.bridges = s.newBridges(listings, sv.fanout)
	return sv
}

// process acts on a verified activity received at the inbox of a slice
// ("" for the relay's) and returns a result label (inbox.Processor).
func (s *Server) process(ctx context.Context, in *inbox.Activity, inboxSlice string) (string, error) {
	switch in.Type {
	case vocab.FollowType:
		return s.svc.subs.Follow(ctx, in, inboxSlice)
	case vocab.UndoType:
		return s.svc.subs.Undo(ctx, in, inboxSlice)
	case vocab.AcceptType, vocab.RejectType:
		// An answer to a LitePub follow-back, else to this relay's
		// Follow of another relay.
		if res, err := s.svc.subs.FollowBackAnswer(ctx, in); res != "" || err != nil {
			return res, err
		}
		if res, err := s.svc.federation.FollowAnswer(ctx, in); res != "" || err != nil {
			return res, err
		}
		return "ignored", nil
	case vocab.CreateType, vocab.UpdateType, vocab.DeleteType, vocab.AnnounceType, vocab.MoveType:
		return s.svc.fanout.Relay(ctx, in)
	default:
		return "ignored", nil
	}
}

// publishers: only peers with an accepted subscription, to the relay or to
// a slice, and relays this relay follows may publish through it.
type publishers struct{ sv services }

func (p publishers) MayPublish(ctx context.Context, peer string) (bool, error) {
	if ok, err := p.sv.subs.Accepted(ctx, peer); ok || err != nil {
		return ok, err
	}
	_, ok, err := p.sv.federation.AcceptedFollow(ctx, peer)
	return ok, err
}

// fanoutModeration judges fan-out's subjects by the current rules and
// counts what they refuse.
type fanoutModeration struct{ s *Server }

func (m fanoutModeration) Judge(subj policy.Subject) policy.Decision { return m.s.judge(subj) }
func (m fanoutModeration) Refused(d policy.Decision)                 { m.s.countRejection(d.Action, d.Rule) }

// newID returns a fresh IRI for an activity the relay sends.
func (s *Server) newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return s.cfg.PublicURL + "/activities/" + hex.EncodeToString(b)
}
