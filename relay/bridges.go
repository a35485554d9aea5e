package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/adminapi"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/bridge"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/fanout"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/web"
)

// Bridge listings' lifetimes, within the listing horizons.
const (
	bridgeLifetime        = 30 * 24 * time.Hour
	bridgeSurplusLifetime = 3 * 24 * time.Hour
	// bridgeCheckInterval is how often due bridges are looked for.
	bridgeCheckInterval = time.Minute
)

// newBridges builds the DFC bridge service: it publishes through fan-out,
// checks listings with the relay's rules and reads catalogs through the
// egress guard, never from a host the rules block.
func (s *Server) newBridges(listings *fanout.Listings, fan *fanout.Service) *bridge.Service {
	return bridge.New(bridge.Config{
		PublicURL: s.cfg.PublicURL, Host: s.host,
		Context:         []string{asjson.Contexts[0].(string), s.cfg.PublicURL + "/ns"},
		SurplusIRI:      listing.SurplusIRI,
		Lifetime:        min(bridgeLifetime, s.cfg.ListingHorizon),
		SurplusLifetime: min(bridgeSurplusLifetime, s.cfg.SurplusHorizon),
		Egress:          policy.Egress{AllowPrivate: s.cfg.AllowPrivateNetworks},
		UserAgent:       fmt.Sprintf("%s/%s (+%s)", softwareName, Version, s.cfg.PublicURL),
		Permit:          s.permitPeer, SigningBackend: s.cfg.SigningBackend,
		Event: func(o string) { s.metrics.bridgeItems.WithLabelValues(o).Inc() },
		Sync:  func(r string) { s.metrics.bridgeSyncs.WithLabelValues(r).Inc() },
		Store: s.store.Bridges(), Index: s.store, Publisher: bridgePublisher{fan}, Listings: listings,
		Log: s.log.With("component", "bridges"),
	})
}

// bridgeRing finds bridges' signers for the relay's signer (deliveries
// signed with a bridge's key id).
type bridgeRing struct{ s *Server }

func (r bridgeRing) Signer(keyID string) (*httpsig.Signer, bool) {
	if r.s.svc.bridges == nil {
		return nil, false
	}
	return r.s.svc.bridges.Signer(keyID)
}

// bridgePublisher publishes bridges' activities through fan-out.
type bridgePublisher struct{ f *fanout.Service }

func (p bridgePublisher) Publish(ctx context.Context, pub bridge.Publication) error {
	return p.f.Publish(ctx, fanout.Local(pub))
}

// bridgeActors shows bridges' actors to the public site.
type bridgeActors struct{ b *bridge.Service }

func (a bridgeActors) Actor(ctx context.Context, name string) (web.BridgeActor, error) {
	act, err := a.b.Actor(ctx, name)
	return web.BridgeActor(act), err
}

// bridgeAdmin is the bridge service in the admin API's terms.
type bridgeAdmin struct{ b *bridge.Service }

func (a bridgeAdmin) AddBridge(ctx context.Context, op policy.Operator, req admin.BridgeAdd) (admin.Bridge, error) {
	var every time.Duration
	if req.Every != "" {
		d, err := time.ParseDuration(req.Every)
		if err != nil {
			return admin.Bridge{}, &adminapi.StatusError{Code: http.StatusBadRequest, Err: errors.New("every: a duration such as 15m or 1h")}
		}
		every = d
	}
	st, err := a.b.Add(ctx, op, bridge.Settings{Name: req.Name, Catalog: req.Catalog, Auth: req.Auth, Token: req.Token,
		Every: every, Region: req.Region, Kind: req.Kind})
	return bridgeView(st), bridgeError(err)
}

func (a bridgeAdmin) Bridges(ctx context.Context) ([]admin.Bridge, error) {
	bs, err := a.b.List(ctx)
	out := make([]admin.Bridge, 0, len(bs))
	for _, b := range bs {
		out = append(out, bridgeView(b))
	}
	return out, err
}

func (a bridgeAdmin) SyncBridge(ctx context.Context, name string, progress func(step string, done, total int)) (admin.BridgeSynced, error) {
	r, err := a.b.SyncProgress(ctx, name, progress)
	return admin.BridgeSynced{NotModified: r.NotModified, Created: r.Created, Updated: r.Updated, Renewed: r.Renewed,
		Deleted: r.Deleted, Unchanged: r.Unchanged, SoldOut: r.SoldOut, Skipped: r.Skipped,
		Problems: problemViews(r.Problems), Held: r.Held, Deferred: r.Deferred}, bridgeError(err)
}

func (a bridgeAdmin) RemoveBridge(ctx context.Context, op policy.Operator, name string) (admin.BridgeRemoved, error) {
	n, err := a.b.Remove(ctx, op, name)
	return admin.BridgeRemoved{Withdrawn: n}, bridgeError(err)
}

// bridgeError gives a bridge error the status the admin API answers.
func bridgeError(err error) error {
	code := 0
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bridge.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, store.ErrExists), errors.Is(err, bridge.ErrBusy):
		code = http.StatusConflict
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, bridge.ErrCredentials), errors.Is(err, bridge.ErrCatalogStatus), errors.Is(err, bridge.ErrTooLarge),
		errors.Is(err, bridge.ErrRefusedHost), errors.Is(err, bridge.ErrUnreachable), errors.Is(err, dfc.ErrDocument),
		errors.Is(err, dfc.ErrContext):
		code = http.StatusBadGateway
	default:
		return err
	}
	return &adminapi.StatusError{Code: code, Err: err}
}

func bridgeView(s bridge.Status) admin.Bridge {
	return admin.Bridge{Name: s.Name, Actor: s.Actor, DisplayName: s.DisplayName, Catalog: s.Catalog, Auth: s.Auth,
		Every: s.Every.String(), Region: s.Region, Kind: s.Kind, Created: s.Created, Retired: s.Retired,
		LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess, LastError: s.LastError, NextSync: s.NextSync,
		Listed: s.Listed, SoldOut: s.SoldOut, Skipped: s.Skipped, Problems: problemViews(s.Problems), Held: s.Held}
}

func problemViews(ps []dfc.Problem) []admin.BridgeProblem {
	out := make([]admin.BridgeProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, admin.BridgeProblem(p))
	}
	return out
}
