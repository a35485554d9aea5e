package relay

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

//go:embed templates/front.html
var templates embed.FS

var frontPage = template.Must(template.ParseFS(templates, "templates/front.html"))

// frontSlice is a slice as the front page lists it.
type frontSlice struct {
	Account, Summary, Inbox string
}

// frontData is what the front page shows.
type frontData struct {
	Name, Description, Contact string
	Host, Actor, Inbox         string
	Subscribers                int
	Manual                     bool
	Slices                     []frontSlice
	Mode                       string
	Blocks                     []policy.Entry
}

// handleFront serves the public front page: what this relay is, how to
// subscribe, its slices, its subscriber count, the operator's contact and
// the published moderation policy. Plain HTML, no scripts.
func (s *Server) handleFront(w http.ResponseWriter, r *http.Request) {
	d := frontData{Name: s.cfg.Name, Description: s.cfg.Description, Contact: s.cfg.Contact, Host: s.host,
		Actor: s.actorID, Inbox: s.inboxID, Manual: s.cfg.Approval == ApproveManual, Mode: string(s.cfg.FederationMode)}
	if d.Mode == "" {
		d.Mode = string(policy.Blocklist)
	}
	// Servers subscribed to the relay or to any of its slices, each once.
	peers := map[string]bool{}
	for _, name := range append([]string{""}, s.slices.Names()...) {
		subs, err := s.store.SubscribersIn(r.Context(), name, store.Accepted)
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		for _, sub := range subs {
			peers[sub.Peer] = true
		}
		if name != "" {
			d.Slices = append(d.Slices, frontSlice{Account: name + "@" + s.host, Summary: s.slices.Summary(name),
				Inbox: s.slices.Actor(name) + "/inbox"})
		}
	}
	d.Subscribers = len(peers)
	live, err := s.mod.LiveRules(r.Context())
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	d.Blocks = policy.Blocks(live, true) // as /policy/blocks.csv publishes them
	var buf bytes.Buffer
	if err := frontPage.Execute(&buf, d); err != nil {
		s.log.Error("rendering the front page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}
