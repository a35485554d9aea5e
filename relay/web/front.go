package web

import (
	"bytes"
	"embed"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"

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
	// LocalOnly: the public URL is loopback or private (LocalOnly).
	LocalOnly bool
	Slices    []frontSlice
	Mode      string
	Blocks    []policy.Entry
}

// LocalOnly reports whether publicURL names this machine or a private
// network (loopback, private and link-local addresses, localhost, a name
// without a dot, .local, .internal): no server on the internet can reach
// it to subscribe.
func LocalOnly(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
	}
	return !strings.Contains(host, ".") || host == "localhost" || strings.HasSuffix(host, ".localhost") ||
		strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal")
}

// handleFront serves the public front page: what this relay is, how to
// subscribe, its slices, its subscriber count, the operator's contact and
// the published moderation policy. Plain HTML, no scripts.
func (s *Site) handleFront(w http.ResponseWriter, r *http.Request) {
	d := frontData{Name: s.Name, Description: s.Description, Contact: s.Contact, Host: s.Host,
		Actor: s.ActorID, Inbox: s.InboxID, Manual: s.Approval() == "manual", Mode: s.Mode, LocalOnly: LocalOnly(s.PublicURL)}
	if d.Mode == "" {
		d.Mode = string(policy.Blocklist)
	}
	// Servers subscribed to the relay or to any of its slices, each once.
	peers := map[string]bool{}
	for _, name := range append([]string{""}, s.Slices.Names()...) {
		subs, err := s.Store.SubscribersIn(r.Context(), name, store.Accepted)
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		for _, sub := range subs {
			peers[sub.Peer] = true
		}
		if name != "" {
			d.Slices = append(d.Slices, frontSlice{Account: name + "@" + s.Host, Summary: s.Slices.Summary(name),
				Inbox: s.Slices.Actor(name) + "/inbox"})
		}
	}
	d.Subscribers = len(peers)
	live, err := s.Moderation.LiveRules(r.Context())
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	d.Blocks = policy.Blocks(live, true) // as /policy/blocks.csv publishes them
	var buf bytes.Buffer
	if err := frontPage.Execute(&buf, d); err != nil {
		s.Log.Error("rendering the front page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}
