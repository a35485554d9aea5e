package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
)

//go:embed templates/front.html
var templates embed.FS

var frontPage = template.Must(template.New("front.html").Funcs(template.FuncMap{
	"breakable": breakable, "contactLink": contactLink,
}).ParseFS(templates, "templates/front.html"))

// breakable lets a phone wrap a URL or an account after its separators
// (/, @, ., ?, &) rather than in the middle of a word.
func breakable(s string) template.HTML {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(template.HTMLEscapeString(string(r)))
		if strings.ContainsRune("/@.?&", r) {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String())
}

// contactLink is where the operator's contact leads: mailto: for an
// e-mail address, the account's page for @user@host, the URL itself for
// an http(s) URL; "" when it is none of these (shown as text).
func contactLink(contact string) string {
	c := strings.TrimSpace(contact)
	switch {
	case strings.HasPrefix(c, "https://") || strings.HasPrefix(c, "http://"):
		if u, err := url.Parse(c); err == nil && u.Host != "" {
			return u.String()
		}
	case strings.HasPrefix(c, "@") && strings.Count(c, "@") == 2:
		user, host, _ := strings.Cut(c[1:], "@")
		if user != "" && host != "" && !strings.ContainsAny(c, " /") {
			return "https://" + host + "/@" + user
		}
	case strings.Count(c, "@") == 1 && !strings.ContainsAny(c, " /:"):
		if _, err := mail.ParseAddress(c); err == nil {
			return "mailto:" + c
		}
	}
	return ""
}

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
// network (an address the egress guard would not contact on the
// internet, localhost, a name without a dot, .local, .internal): no
// server on the internet can reach it to subscribe.
func LocalOnly(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		return !policy.Egress{}.Allowed(ip)
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
		if name != "" && name != slices.Directory { // the directory actor carries no traffic
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
