package relay_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// consoleWrites are the console's state-changing routes, each with a form
// that would pass with a session and its token.
var consoleWrites = []struct {
	path string
	form url.Values
}{
	{"/admin/subscribers", url.Values{"action": {"remove"}, "sub": {"|nobody.example"}}},
	{"/admin/rules", url.Values{"domain": {"spam.example"}, "action": {"suspend"}, "reason": {"r"}, "confirm": {"yes"}}},
	{"/admin/rules/1/remove", url.Values{}},
	{"/admin/deliveries/retry", url.Values{"all": {"yes"}}},
	{"/admin/trust", url.Values{"peer": {"peer.example"}, "level": {"trusted"}}},
	{"/admin/logout", url.Values{}},
}

// Every state-changing route refuses a request without a session, without
// the session's CSRF token, with a wrong one, or from another site; and
// each refused request changes nothing.
func TestConsoleRefusesForgedWrites(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil)
	admin := addModerator(t, r, "root", "admin", "correct horse battery staple")
	anon := newBrowser(t, r.URL)
	for _, w := range consoleWrites {
		t.Run(strings.ReplaceAll(strings.TrimPrefix(w.path, "/admin/"), "/", "_"), func(t *testing.T) {
			if status, _ := anon.post(w.path, w.form); status != http.StatusUnauthorized {
				t.Errorf("without a session: %d, want 401", status)
			}
			for _, tok := range []string{"", "forged"} {
				f := url.Values{}
				for k, v := range w.form {
					f[k] = v
				}
				f.Set("csrf", tok)
				if status, _ := admin.post(w.path, f); status != http.StatusForbidden {
					t.Errorf("with CSRF token %q: %d, want 403", tok, status)
				}
			}
			req, _ := http.NewRequest(http.MethodPost, r.URL+w.path, strings.NewReader(withToken(w.form, admin.csrf).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			if status, _, _ := admin.do(req); status != http.StatusForbidden {
				t.Errorf("from another site: %d, want 403", status)
			}
		})
	}
	if rules, _ := r.Admin.Rules(ctx); len(rules) != 0 {
		t.Errorf("a refused request added a rule: %+v", rules)
	}
	if status, body := admin.get("/admin/"); status != http.StatusOK || !strings.Contains(body, "Signed in as root") {
		t.Errorf("a refused logout ended the session: %d", status)
	}
}

func withToken(form url.Values, tok string) url.Values {
	f := url.Values{"csrf": {tok}}
	for k, v := range form {
		f[k] = v
	}
	return f
}

// A moderator cannot reach admin-only acts; every page carries the strict
// CSP and the session cookie is HttpOnly and SameSite=Strict.
func TestConsoleRolesAndHeaders(t *testing.T) {
	r := startRelay(t, nil)
	mod := addModerator(t, r, "mia", "moderator", "another long passphrase")
	if status, _ := mod.get("/admin/trust"); status != http.StatusForbidden {
		t.Errorf("moderator GET /admin/trust: %d, want 403", status)
	}
	mod.get("/admin/")
	if status, _ := mod.post("/admin/trust", url.Values{"peer": {"p.example"}, "level": {"trusted"}}); status != http.StatusForbidden {
		t.Errorf("moderator POST /admin/trust: %d, want 403", status)
	}
	adm := addModerator(t, r, "root", "admin", "correct horse battery staple")
	adm.get("/admin/trust")
	if status, body := adm.post("/admin/trust", url.Values{"peer": {"p.example"}, "level": {"trusted"}, "reason": {"known"}}); status != http.StatusOK || !strings.Contains(body, "set to trusted") {
		t.Errorf("admin POST /admin/trust: %d %s", status, body)
	}

	req, _ := http.NewRequest(http.MethodGet, r.URL+"/admin/login", nil)
	_, _, h := newBrowser(t, r.URL).do(req)
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	link, _ := r.Admin.Moderators().Reset(context.Background(), "mia")
	form := url.Values{"password": {"a third long passphrase"}, "confirm": {"a third long passphrase"}}
	req, _ = http.NewRequest(http.MethodPost, link.Link, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "runrig_console" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin/", c)
			}
		}
	}
	if !found {
		t.Error("setup set no session cookie")
	}
}

// Failed logins lock an account out (even against the right password)
// before a password can be guessed; a reset ends the sessions a moderator
// had; a setup link works once; logging out ends the session.
func TestConsoleLoginLockoutAndRevocation(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil)
	const pw = "correct horse battery staple"
	ana := addModerator(t, r, "ana", "moderator", pw)

	thief := newBrowser(t, r.URL)
	for i := 0; i < 5; i++ {
		if status, _ := thief.post("/admin/login", url.Values{"name": {"ana"}, "password": {"guess"}}); status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i, status)
		}
	}
	if status, _ := thief.post("/admin/login", url.Values{"name": {"ana"}, "password": {pw}}); status != http.StatusTooManyRequests {
		t.Errorf("after 5 failures the right password got %d, want 429", status)
	}
	if status, body := ana.get("/admin/"); status != http.StatusOK || !strings.Contains(body, "Signed in as ana") {
		t.Errorf("the lockout ended ana's session: %d", status)
	}

	link, err := r.Admin.Moderators().Reset(ctx, "ana")
	if err != nil {
		t.Fatal(err)
	}
	if _, body := ana.get("/admin/"); strings.Contains(body, "Signed in as ana") {
		t.Error("a reset left ana's session alive")
	}
	b := newBrowser(t, r.URL)
	path := strings.TrimPrefix(link.Link, r.URL)
	if status, _ := b.post(path, url.Values{"password": {"short"}, "confirm": {"short"}}); status != http.StatusBadRequest {
		t.Errorf("a short password: %d, want 400", status)
	}
	newPW := url.Values{"password": {"a new long passphrase"}, "confirm": {"a new long passphrase"}}
	if status, _ := b.post(path, newPW); status != http.StatusOK {
		t.Fatalf("setup after reset: %d", status)
	}
	if status, _ := newBrowser(t, r.URL).post(path, newPW); status != http.StatusNotFound {
		t.Errorf("a spent setup link: %d, want 404", status)
	}
	b.get("/admin/")
	if status, body := b.post("/admin/logout", nil); status != http.StatusOK || strings.Contains(body, "Signed in as") {
		t.Errorf("logout: %d", status)
	}
	if _, body := b.get("/admin/"); strings.Contains(body, "Signed in as") {
		t.Error("the session outlived logging out")
	}
	if err := r.Admin.Moderators().Remove(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := r.Admin.Moderators().List(ctx); len(ms) != 0 {
		t.Errorf("moderators after remove: %+v", ms)
	}
}
