package relay

import (
	"fmt"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/bridge"
	"github.com/runrig/runrig/relay/fanout"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/listing"
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
		Store: s.store.Bridges(), Index: s.store, Publisher: fan, Listings: listings,
		Log: s.log.With("component", "bridges"),
	})
}

// bridgeRing finds bridges' signers for the relay's signer (deliveries
// signed with a bridge's key id).
type bridgeRing struct{ s *Server }

func (r bridgeRing) Signer(keyID string) *httpsig.Signer {
	if r.s.svc.bridges == nil {
		return nil
	}
	return r.s.svc.bridges.Signer(keyID)
}
