// Package web serves the relay's public documents and pages: the relay
// and slice actors, their collections and outboxes, WebFinger, NodeInfo and
// host-meta, the front page, the listing index, the published moderation
// policy, the public directory and the readiness probe. It holds no state:
// everything comes from the Site's fields, which the relay fills, but a
// cache of /dfc/catalog answers for half a minute.
package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
)

// multikeyContext is the context of the assertionMethod key.
const multikeyContext = "https://w3id.org/security/multikey/v1"

// Identity is who the relay is, as its documents say it.
type Identity struct {
	// PublicURL is the scheme and host peers reach the relay at; Host is
	// its authority.
	PublicURL, Host string
	// ActorID and InboxID are the relay actor's IRI and inbox.
	ActorID, InboxID string
	// Name, Description and Contact are the operator's words for the
	// front page, the actor and NodeInfo.
	Name, Description, Contact string
	// Software and Version name what runs the relay.
	Software, Version string
	// Mode is the federation mode.
	Mode string
	// PublicKeyPEM is the actors' key.
	PublicKeyPEM string
	// AssertionKeyMultibase is the relay's Ed25519 key (the announcement
	// key), listed in every actor's assertionMethod as ACTOR#ed25519-key.
	AssertionKeyMultibase string
}

// Store is what the pages read.
type Store interface {
	SubscribersIn(ctx context.Context, slice string, state store.SubscriptionState) ([]store.Subscriber, error)
	Listings(ctx context.Context, q store.ListingQuery) ([]store.ListingRecord, error)
	Listing(ctx context.Context, id string) (store.ListingRecord, error)
	QueueDepth(ctx context.Context) (map[store.DeliveryState]int, error)
	Endorsements(ctx context.Context) ([]store.Endorsement, error)
}

// Moderation is what the pages show of the moderation policy.
type Moderation interface {
	LiveRules(ctx context.Context) ([]policy.Rule, error)
	ExportList(ctx context.Context, allows, obfuscate bool) ([]byte, error)
}

// Site serves the public documents and pages of one relay.
type Site struct {
	Identity
	Slices     *slices.Set
	Store      Store
	Moderation Moderation
	// Bridges are the DFC bridges, whose actors the site serves.
	Bridges Bridges
	// PublicPeers lists the directory as the public may see it.
	PublicPeers func() []admin.Peer
	// Announcement is the relay's signed discovery announcement.
	Announcement func(ctx context.Context) ([]byte, error)
	// Approval is how subscriptions are handled now: "auto" or
	// "manual" (admins may change it in the console).
	Approval func() string
	// Ready reports whether the relay serves (false while it starts and
	// stops).
	Ready func() bool
	Log   *slog.Logger

	// catalogs are recent /dfc/catalog answers.
	catalogs catalogCache
}

// Register adds the site's routes to mux.
func (s *Site) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.handleFront)
	mux.HandleFunc("GET /actor", s.handleActor)
	mux.HandleFunc("GET /outbox", s.collection(s.PublicURL+"/outbox", 0))
	mux.HandleFunc("GET /following", s.collection(s.PublicURL+"/following", 0))
	mux.HandleFunc("GET /followers", s.handleFollowers)
	mux.HandleFunc("GET /actors/{slice}", s.handleActor)
	mux.HandleFunc("GET /actors/{slice}/outbox", s.handleSliceOutbox)
	mux.HandleFunc("GET /actors/{slice}/followers", s.handleFollowers)
	mux.HandleFunc("GET /actors/{slice}/following", s.handleFollowing)
	mux.HandleFunc("GET /.well-known/webfinger", s.handleWebFinger)
	mux.HandleFunc("GET /.well-known/nodeinfo", s.handleNodeInfoIndex)
	mux.HandleFunc("GET /nodeinfo/2.1", s.handleNodeInfo)
	mux.HandleFunc("GET /.well-known/host-meta", s.handleHostMeta)
	mux.HandleFunc("GET /listings", s.handleListings)
	mux.HandleFunc("GET /bridges/{name}/listings/{id}", s.handleBridgeListing)
	mux.HandleFunc("GET /dfc/catalog", s.handleDFCCatalog)
	mux.HandleFunc("GET /peers", s.handlePeers)
	mux.HandleFunc("GET /.well-known/runrig-announcement", s.handleOwnAnnouncement)
	mux.HandleFunc("GET /policy/blocks.csv", s.handlePublishedBlocks)
	mux.HandleFunc("GET /policy/endorsements.json", s.handlePublishedEndorsements)
	mux.HandleFunc("GET /ns", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ld+json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Write([]byte(listing.Context))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.handleReady)
}
