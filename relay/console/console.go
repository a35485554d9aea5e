// Package console is the moderator web console, served under /admin/ on
// the public listener: server-rendered pages that work without JavaScript,
// for moderators who never open a terminal. It calls the same services as
// the admin API and the CLI (subscriptions, moderation, the queue), so
// nothing is implemented twice, and every change lands in the same audit
// log, naming the moderator.
//
// Access: accounts are created with `runrig admin moderators add`, which
// prints a one-time setup link; passwords are hashed with argon2id;
// sessions live in the store (they survive restarts, can be revoked, and
// expire after 12 idle hours); cookies are HttpOnly, SameSite=Strict and
// Secure when the public URL is https; every form carries a CSRF token;
// logins are rate-limited per account and per address; every page has a
// strict Content-Security-Policy.
package console

import (
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// Limits of console requests.
const (
	// maxForm bounds a form's body.
	maxForm = 64 << 10
	// auditPage is how many audit entries a page shows.
	auditPage = 200
	// csp allows the console's own stylesheet and nothing else: no
	// scripts, no frames, forms only to itself.
	csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// Subscriptions are the operator's acts on subscriptions and the queue.
type Subscriptions interface {
	Decide(ctx context.Context, op policy.Operator, slice, peer string, state store.SubscriptionState) (store.Subscriber, error)
	Remove(ctx context.Context, op policy.Operator, slice, peer string) error
	RetryDead(ctx context.Context, op policy.Operator, ids []int64) (int, error)
}

// Moderation are the operator's acts on rules and trust (policy.Moderator).
type Moderation interface {
	Rules(ctx context.Context) ([]policy.Rule, error)
	AddRule(ctx context.Context, op policy.Operator, r policy.Rule) (policy.Rule, error)
	Preview(ctx context.Context, r policy.Rule) (policy.Affected, error)
	RemoveRule(ctx context.Context, op policy.Operator, id int64) error
	SetTrust(ctx context.Context, op policy.Operator, peer, level string) error
}

// Settings are the relay's settings admins change in the console.
type Settings interface {
	// ApprovalMode is how new subscriptions are handled: auto or manual.
	ApprovalMode() string
	SetApprovalMode(ctx context.Context, op policy.Operator, mode string) error
}

// Reads is what the console reads from the store directly.
type Reads interface {
	SubscriberStatuses(ctx context.Context) ([]store.SubscriberStatus, error)
	QueueDepth(ctx context.Context) (map[store.DeliveryState]int, error)
	Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error)
	Audit(ctx context.Context, afterID int64, limit int) ([]store.AuditEntry, error)
	SearchAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	PinnedKeys(ctx context.Context) ([]store.PinnedKey, error)
	Endorsements(ctx context.Context) ([]store.Endorsement, error)
	ListSubscriptions(ctx context.Context) ([]store.ListSubscription, error)
}

// Config is what the console works with; the relay fills it.
type Config struct {
	// PublicURL is the relay's base URL; https makes cookies Secure.
	PublicURL string
	// Name is the relay's name, shown in page titles.
	Name string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (loopback always is).
	TrustedProxies []netip.Prefix

	Accounts      *Accounts
	Sessions      store.Accounts
	Subscriptions Subscriptions
	Moderation    Moderation
	Lists         Lists
	Peers         Peers
	Endorsements  Endorsements
	Settings      Settings
	// Bridges are the DFC bridges (admins only).
	Bridges Bridges
	// Recent is the relay's recent activity, which the relay feeds.
	Recent *Recent
	// Refused counts a refused request by reason (one of Reasons);
	// PeerLog logs it, rate-limited per client address and reason.
	// Both may be nil (nothing counted; logged to Log).
	Refused func(reason string)
	PeerLog PeerLogger
	Reads   Reads
	Log     *slog.Logger
}

// PeerLogger logs what a client caused, at most once a minute per
// client and reason.
type PeerLogger interface {
	Warn(peer, reason, msg string, args ...any)
}

// plainLog logs every line, for a console given no PeerLogger.
type plainLog struct{ log *slog.Logger }

func (l plainLog) Warn(peer, reason, msg string, args ...any) {
	l.log.Warn(msg, append([]any{"peer", peer, "reason", reason}, args...)...)
}

// Console serves the moderator console.
type Console struct {
	cfg    Config
	secure bool // cookies only over https
	pages  map[string]*template.Template
	logins *loginLimiter
	// imports are previewed uploads; importing holds the one import
	// being worked on.
	imports   *pendingImports
	importing chan struct{}

	mu sync.Mutex // guards the following
	// syncs is when each list was last synced by hand.
	syncs map[string]time.Time
}

//go:embed templates/*.html console.css
var assets embed.FS

// New returns the console.
func New(cfg Config) *Console {
	if cfg.Refused == nil {
		cfg.Refused = func(string) {}
	}
	if cfg.PeerLog == nil {
		cfg.PeerLog = plainLog{cfg.Log}
	}
	secure := false
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		secure = strings.EqualFold(u.Scheme, "https")
	}
	return &Console{cfg: cfg, secure: secure, pages: parsePages(), logins: newLoginLimiter(), imports: newPendingImports(),
		importing: make(chan struct{}, 1), syncs: map[string]time.Time{}}
}

// Register adds the console's routes under /admin/ to mux.
func (c *Console) Register(mux *http.ServeMux) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, c.headers(maxForm, f)) }
	mod, adm := store.RoleModerator, store.RoleAdmin
	lp, ap, sp, in := listPages{c}, accountPages{c}, settingsPages{c}, signInPages{c}
	h("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	})
	h("GET /admin/console.css", c.stylesheet)
	h("GET /admin/login", in.loginPage)
	h("POST /admin/login", c.sameOrigin(in.login))
	h("GET /admin/setup/{token}", in.setupPage)
	h("POST /admin/setup/{token}", c.sameOrigin(in.setup))
	h("POST /admin/logout", c.signedIn(mod, in.logout))
	h("GET /admin/{$}", c.signedIn(mod, c.overview))
	h("GET /admin/subscribers", c.signedIn(mod, c.subscribers))
	h("POST /admin/subscribers", c.signedIn(mod, c.decideSubscribers))
	h("GET /admin/rules", c.signedIn(mod, c.rules))
	h("POST /admin/rules", c.signedIn(mod, c.addRule))
	h("POST /admin/rules/{id}/remove", c.signedIn(mod, c.removeRule))
	h("GET /admin/deliveries", c.signedIn(mod, c.deliveries))
	h("POST /admin/deliveries/retry", c.signedIn(mod, c.retryDeliveries))
	h("GET /admin/lists", c.signedIn(mod, lp.lists))
	mux.Handle("POST /admin/lists/import", c.headers(maxListForm, c.signedIn(mod, lp.importList)))
	h("POST /admin/lists/drafts", c.signedIn(mod, lp.decideDrafts))
	h("POST /admin/lists/subscriptions", c.signedIn(mod, lp.subscribeList))
	h("POST /admin/lists/subscriptions/{name}", c.signedIn(mod, lp.listAction))
	h("GET /admin/audit", c.signedIn(mod, c.audit))
	h("GET /admin/audit/export", c.signedIn(mod, c.auditExport))
	h("GET /admin/peers", c.signedIn(mod, c.peers))
	h("GET /admin/account", c.signedIn(mod, ap.account))
	h("POST /admin/account/2fa", c.signedIn(mod, ap.setSecondFactor))
	bp := bridgePages{c}
	h("GET /admin/bridges", c.signedIn(adm, bp.bridges))
	h("POST /admin/bridges", c.signedIn(adm, bp.addBridge))
	h("POST /admin/bridges/{name}", c.signedIn(adm, bp.bridgeAction))
	h("GET /admin/trust", c.signedIn(adm, sp.trust))
	h("POST /admin/trust", c.signedIn(adm, sp.setTrust))
	h("POST /admin/approval", c.signedIn(adm, sp.setApproval))
}

// The console's pages beyond the everyday ones, on types of their own.
type (
	// listPages import lists and follow shared ones.
	listPages struct{ *Console }
	// accountPages are the moderator's own account.
	accountPages struct{ *Console }
	// settingsPages are the admins' settings.
	settingsPages struct{ *Console }
	// signInPages sign moderators in and out and spend setup links.
	signInPages struct{ *Console }
)

// headers sets what every console response carries: a strict CSP, no
// caching, no referrer to other sites, no sniffing, no framing; a POST's body is bounded
// by limit.
func (c *Console) headers(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("Cache-Control", "no-store")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a POST another site's page sent.
func (c *Console) sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.crossSite(r) {
			c.refuse(w, r, http.StatusForbidden, "cross_site")
			return
		}
		next(w, r)
	}
}

// crossSite reports whether a browser says the request came from another
// site's page, in Sec-Fetch-Site or Origin. An opaque origin ("null": a
// sandboxed frame, a redirect across sites) is another site; a request
// with neither header is no browser's.
func (c *Console) crossSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		// The browser's own word, which pages cannot forge.
		return site != "same-origin" && site != "none"
	}
	o := r.Header.Get("Origin")
	return o != "" && !strings.EqualFold(o, originOf(c.cfg.PublicURL))
}

// route names a request's route for logs: its pattern, so that a setup
// token in the path is never written down.
func route(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.URL.Path
}

// originOf is the scheme and authority of a URL.
func originOf(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// refuse answers a refused request with a short page (see refuseOn).
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	c.refuseOn(w, r, status, reason, "error", page{})
}

// refuseOn answers a refused request on the page view, with the message
// of reason; it is counted by reason (one of Reasons) and logged, at most
// once a minute per client address and reason.
func (c *Console) refuseOn(w http.ResponseWriter, r *http.Request, status int, reason, view string, p page) {
	addr := c.clientAddr(r)
	c.cfg.Refused(reason)
	c.cfg.PeerLog.Warn(addr, "console_"+reason, "console request refused", "route", route(r), "from", addr)
	p.Message = msg(reason)
	c.render(w, r, status, view, nil, p)
}

// Reasons are the reasons the console refuses a request for: the label
// values of its refusals' metric.
func Reasons() []string {
	return []string{"admin_only", "bad_code", "bad_form", "bad_login", "bad_password", "busy", "code_used", "cross_site",
		"csrf", "import_gone", "list_too_large", "locked_out", "no_session", "not_found", "setup_spent", "sync_soon"}
}

func (c *Console) stylesheet(w http.ResponseWriter, r *http.Request) {
	b, _ := assets.ReadFile("console.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(b)
}

// now is the console's clock.
func now() time.Time { return time.Now() }
