package relay

import (
	"context"
	"crypto/ed25519"
	"net/http"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/web"
)

// Handler returns the public HTTP handler: the inboxes, the public
// documents and pages (package web) and the metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/inbox", s.handleInbox)
	mux.HandleFunc("/actors/{slice}/inbox", s.handleInbox)
	s.site().Register(mux)
	s.console.Register(mux)
	mux.Handle("GET /metrics", s.metricsHandler())
	return mux
}

// site is the relay's public documents and pages.
func (s *Server) site() *web.Site {
	return &web.Site{
		Identity: web.Identity{PublicURL: s.cfg.PublicURL, Host: s.host, ActorID: s.actorID, InboxID: s.inboxID,
			Name: s.cfg.Name, Description: s.cfg.Description, Contact: s.cfg.Contact, Software: softwareName, Version: Version,
			Mode:                  string(s.cfg.FederationMode),
			PublicKeyPEM:          s.pubPEM,
			AssertionKeyMultibase: discovery.EncodeMultikey(s.announceKey.Public().(ed25519.PublicKey))},
		Slices: s.slices, Store: s.store, Moderation: s.mod, Bridges: bridgeActors{s.svc.bridges},
		PublicPeers:  func() []admin.Peer { return s.peerViews(nil) },
		Announcement: func(ctx context.Context) ([]byte, error) { return s.Announcement(ctx) },
		Ready:        s.ready.Load,
		Approval:     func() string { return string(s.approvalMode()) },
		Log:          s.log,
	}
}
