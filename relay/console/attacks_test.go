package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// Regression tests of attacks an independent review found (each failed
// before its fix).

const relayURL = "http://relay.test"

// hookAccounts runs hook once, right after the first Moderator lookup:
// an admin's reset arriving while a sign-in spends its hashing time.
type hookAccounts struct {
	store.Accounts
	hook func()
}

func (h *hookAccounts) Moderator(ctx context.Context, name string) (store.Moderator, error) {
	m, err := h.Accounts.Moderator(ctx, name)
	if f := h.hook; f != nil {
		h.hook = nil
		f()
	}
	return m, err
}

// testConsole is a console over a real SQLite store, on its own mux.
func testConsole(t *testing.T) (*Console, *http.ServeMux, *hookAccounts) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hk := &hookAccounts{Accounts: st.Accounts()}
	c := New(Config{PublicURL: relayURL, Name: "t", Accounts: NewAccounts(st.Accounts(), relayURL), Sessions: hk,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mux := http.NewServeMux()
	c.Register(mux)
	return c, mux, hk
}

func addAccount(t *testing.T, c *Console, name, pw string) {
	t.Helper()
	link, _, err := c.cfg.Accounts.Add(context.Background(), policy.Operator{Who: "cli"}, name, store.RoleModerator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.cfg.Accounts.completeSetup(context.Background(), strings.TrimPrefix(link, relayURL+setupPath), pw); err != nil {
		t.Fatal(err)
	}
}

// post sends a form from addr, with extra headers.
func post(mux *http.ServeMux, path string, form url.Values, addr string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, relayURL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr + ":1234"
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	return w
}

func login(mux *http.ServeMux, name, pw, addr string, headers ...string) *httptest.ResponseRecorder {
	return post(mux, "/admin/login", url.Values{"name": {name}, "password": {pw}}, addr, headers...)
}

const goodPW = "correct horse battery staple"

// A sign-in whose password check straddles an admin's reset gets no
// session: the reset revokes what it could not yet see.
func TestSignInDuringResetGetsNoSession(t *testing.T) {
	c, mux, hk := testConsole(t)
	addAccount(t, c, "ana", goodPW)
	hk.hook = func() {
		if _, _, err := c.cfg.Accounts.Reset(context.Background(), policy.Operator{Who: "cli"}, "ana"); err != nil {
			t.Error(err)
		}
	}
	w := login(mux, "ana", goodPW, "203.0.113.7")
	req := httptest.NewRequest(http.MethodGet, relayURL+"/admin/", nil)
	for _, ck := range w.Result().Cookies() {
		req.AddCookie(ck)
	}
	if u, err := c.session(req); err == nil {
		t.Errorf("after the reset a sign-in holds a live session of %s (status %d)", u.Name, w.Code)
	}
}

// Parallel guesses are counted before they are checked: at most the bound
// of wrong passwords is ever checked.
func TestParallelGuessesAreBounded(t *testing.T) {
	c, mux, _ := testConsole(t)
	addAccount(t, c, "ana", goodPW)
	before := c.cfg.Accounts.hashes.Load()
	const n = 12
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() { login(mux, "ana", "wrong guess "+strconv.Itoa(i), "203.0.113."+strconv.Itoa(i)) })
	}
	wg.Wait()
	if checked := c.cfg.Accounts.hashes.Load() - before; checked > accountFailures {
		t.Errorf("%d wrong passwords were checked; the bound is %d", checked, accountFailures)
	}
	if w := login(mux, "ana", goodPW, "198.51.100.1"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the right password after the bound: %d, want 429", w.Code)
	}
}

// A setup form with a made-up token is refused before any hashing, and a
// malformed token gets no setup page (so no form posts elsewhere).
func TestSetupChecksTokenBeforeHashing(t *testing.T) {
	c, mux, _ := testConsole(t)
	before := c.cfg.Accounts.hashes.Load()
	pw := url.Values{"password": {"a long enough password"}, "confirm": {"a long enough password"}}
	for _, tok := range []string{"bogus", strings.Repeat("A", 43)} {
		if w := post(mux, "/admin/setup/"+tok, pw, "203.0.113.9"); w.Code != http.StatusNotFound {
			t.Errorf("setup with token %q: %d, want 404", tok, w.Code)
		}
	}
	if n := c.cfg.Accounts.hashes.Load() - before; n != 0 {
		t.Errorf("%d passwords hashed for made-up setup tokens", n)
	}
	req := httptest.NewRequest(http.MethodGet, relayURL+"/admin/setup/..%2F..%2Factors%2Fx%2Finbox%3Fa=", nil)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "actors/x/inbox") {
		t.Errorf("a malformed setup token: %d, and the page names the path it carried", w.Code)
	}
}

// Names are bounded before they are tracked or logged.
func TestSignInNameBounded(t *testing.T) {
	c, mux, _ := testConsole(t)
	before := c.cfg.Accounts.hashes.Load()
	login(mux, strings.Repeat("A", 60<<10), "x", "2001:db8::1")
	if len(c.logins.accounts) != 0 || c.cfg.Accounts.hashes.Load() != before {
		t.Errorf("a 60 KiB name was tracked (%d) or hashed", len(c.logins.accounts))
	}
}

// Behind a proxy on this machine, clients are told apart by the
// X-Forwarded-For the proxy appends; an outsider's failures do not lock
// out everybody else.
func TestProxiedClientsAreToldApart(t *testing.T) {
	c, mux, _ := testConsole(t)
	addAccount(t, c, "ana", goodPW)
	for i := 0; i < addressFailures; i++ {
		login(mux, "nobody"+strconv.Itoa(i), "x", "127.0.0.1", "X-Forwarded-For", "spoofed, 203.0.113.66")
	}
	if w := login(mux, "nobody", "x", "127.0.0.1", "X-Forwarded-For", "203.0.113.66"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the outsider's next attempt: %d, want 429", w.Code)
	}
	for _, xff := range []string{"198.51.100.7", ""} {
		var h []string
		if xff != "" {
			h = []string{"X-Forwarded-For", xff}
		}
		if w := login(mux, "ana", goodPW, "127.0.0.1", h...); w.Code != http.StatusSeeOther {
			t.Errorf("ana (X-Forwarded-For %q) after an outsider's failures: %d, want 303", xff, w.Code)
		}
	}
}

// A sign-in posted from an opaque origin (a sandboxed frame of another
// site) is refused: no signing a victim into the attacker's account.
func TestOpaqueOriginCannotSignIn(t *testing.T) {
	c, mux, _ := testConsole(t)
	addAccount(t, c, "mallory", "mallory's own passphrase")
	for _, o := range []string{"null", "https://evil.example"} {
		if w := login(mux, "mallory", "mallory's own passphrase", "203.0.113.5", "Origin", o); w.Code != http.StatusForbidden {
			t.Errorf("sign-in with Origin %q: %d, want 403", o, w.Code)
		}
	}
}
