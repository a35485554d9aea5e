package relay_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
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
	{"/admin/lists/import", url.Values{"name": {"l"}, "action": {"suspend"}, "list": {"spam.example"}, "confirm": {"yes"}}},
	{"/admin/lists/drafts", url.Values{"action": {"approve"}, "id": {"1"}}},
	{"/admin/lists/subscriptions", url.Values{"name": {"l"}, "url": {"https://lists.example/l.csv"}, "every": {"24h"}}},
	{"/admin/lists/subscriptions/l", url.Values{"action": {"unsubscribe"}}},
	{"/admin/account/2fa", url.Values{"action": {"disable"}, "code": {"000000"}}},
	{"/admin/approval", url.Values{"approval": {"manual"}}},
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
	if got := metric(t, r, `runrig_console_refusals_total{reason="admin_only"}`); got != "2" {
		t.Errorf("admin-only refusals counted %s, want 2", got)
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
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin/" || c.MaxAge != 0 || !c.Expires.IsZero() {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin/, ending with the browser session", c)
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

// A link cannot make the console say what its sender wants, and the trust
// form takes only the relay's trust levels.
func TestConsoleNoticesAndTrustLevels(t *testing.T) {
	r := startRelay(t, nil)
	adm := addModerator(t, r, "root", "admin", "correct horse battery staple")
	for _, q := range []string{"?m=re-enter+your+password+at+https://evil.example", "?done=re-enter+your+password+at+https://evil.example",
		"?done=trust_set&a=evil.example&a=re-enter+your+password"} {
		for _, page := range []string{"/admin/", "/admin/subscribers"} { // the overview, and a page that shows notices
			if _, body := adm.get(page + q); strings.Contains(body, "evil.example") || strings.Contains(body, "re-enter") {
				t.Errorf("%s shows text from its link %s", page, q)
			}
		}
	}
	adm.get("/admin/trust")
	for _, level := range []string{"Untrusted", "untrusted ", "root"} {
		if status, _ := adm.post("/admin/trust", url.Values{"peer": {"p.example"}, "level": {level}}); status != http.StatusBadRequest {
			t.Errorf("trust level %q: %d, want 400", level, status)
		}
	}
}

// totpCode computes the current code of a base32 secret as an
// authenticator app does (RFC 6238, SHA-1, 6 digits, 30 s), at an offset
// in steps.
func totpCode(t *testing.T, secret string, offset int64) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(time.Now().Unix()/30+offset))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// With the second factor on, a password alone does not sign in, a wrong
// or replayed code counts as a failure, and turning it on or off is
// audited.
func TestConsoleSecondFactor(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil)
	const pw = "correct horse battery staple"
	ana := addModerator(t, r, "ana", "moderator", pw)
	_, body := ana.get("/admin/account")
	m := regexp.MustCompile(`name="secret" value="([A-Z2-7]{32})"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no second-factor key offered:\n%s", body)
	}
	secret := m[1]
	other := newBrowser(t, r.URL) // a second session, as a thief's would be
	other.post("/admin/login", url.Values{"name": {"ana"}, "password": {pw}})
	if status, _ := ana.post("/admin/account/2fa", url.Values{"action": {"enable"}, "secret": {secret}, "code": {"000000"}, "password": {pw}}); status != http.StatusBadRequest {
		t.Errorf("enabling with a wrong code: %d, want 400", status)
	}
	// A stolen session without the password changes nothing, and its
	// guesses count against the account.
	for i := 0; i < 5; i++ {
		if status, _ := ana.post("/admin/account/2fa", url.Values{"action": {"enable"}, "secret": {secret}, "code": {totpCode(t, secret, 0)}, "password": {"guess"}}); status != http.StatusUnauthorized {
			t.Errorf("enabling without the password: %d, want 401", status)
		}
	}
	if status, _ := ana.post("/admin/account/2fa", url.Values{"action": {"enable"}, "secret": {secret}, "code": {totpCode(t, secret, 0)}, "password": {pw}}); status != http.StatusTooManyRequests {
		t.Errorf("after 5 wrong passwords: %d, want 429", status)
	}
	r.stop()
	r = startRelayIn(t, r.DataDir, r.Addr, nil) // the lockout is in memory: a restart clears it, the sessions stay
	ana.get("/admin/account")
	if status, body := ana.post("/admin/account/2fa", url.Values{"action": {"enable"}, "secret": {secret}, "code": {totpCode(t, secret, 0)}, "password": {pw}}); status != http.StatusOK || !strings.Contains(body, "second factor is on") {
		t.Fatalf("enabling: %d %s", status, body)
	}
	if _, body := other.get("/admin/"); strings.Contains(body, "Signed in as") {
		t.Error("another session outlived turning the second factor on")
	}
	b := newBrowser(t, r.URL)
	if status, _ := b.post("/admin/login", url.Values{"name": {"ana"}, "password": {pw}}); status != http.StatusUnauthorized {
		t.Errorf("password without a code: %d, want 401", status)
	}
	if status, _ := b.post("/admin/login", url.Values{"name": {"ana"}, "password": {pw}, "code": {totpCode(t, secret, 0)}}); status != http.StatusUnauthorized {
		t.Errorf("the code that turned the second factor on, used again to sign in: %d, want 401", status)
	}
	code := totpCode(t, secret, 1) // the next step: not used yet
	if status, body := b.post("/admin/login", url.Values{"name": {"ana"}, "password": {pw}, "code": {code}}); status != http.StatusOK || !strings.Contains(body, "Signed in as ana") {
		t.Fatalf("password and code: %d", status)
	}
	if status, _ := newBrowser(t, r.URL).post("/admin/login", url.Values{"name": {"ana"}, "password": {pw}, "code": {code}}); status != http.StatusUnauthorized {
		t.Errorf("a replayed code: %d, want 401", status)
	}
	entries, _ := r.Admin.Audit(ctx, 0, 100)
	found := false
	for _, e := range entries {
		found = found || (e.What == "moderator.2fa_on" && e.Who == "console:ana")
	}
	if !found {
		t.Error("turning the second factor on is not in the audit log")
	}
}
