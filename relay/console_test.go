package relay_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/relaytest"
)

// browser is a moderator's browser: a cookie jar, and the CSRF token of
// the last page it read.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, hc: &http.Client{Jar: jar}}
}

// do sends a request and returns the status and body of the final answer
// (redirects followed), remembering the page's CSRF token.
func (b *browser) do(req *http.Request) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	status, body, _ := b.do(req)
	return status, body
}

// post submits a form with the page's CSRF token (unless form sets one).
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if _, ok := f["csrf"]; !ok {
		f.Set("csrf", b.csrf)
	}
	form = f
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	status, body, _ := b.do(req)
	return status, body
}

// addModerator creates an account with the admin API, as the CLI does,
// and has a browser follow the setup link and choose a password.
func addModerator(t *testing.T, r *testRelay, name, role, password string) *browser {
	t.Helper()
	link, err := r.Admin.Moderators().Add(context.Background(), name, role)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link.Link, r.URL+"/admin/setup/") {
		t.Fatalf("setup link %q is not under the public URL", link.Link)
	}
	b := newBrowser(t, r.URL)
	path := strings.TrimPrefix(link.Link, r.URL)
	if status, _ := b.get(path); status != http.StatusOK {
		t.Fatalf("setup page: %d", status)
	}
	status, body := b.post(path, url.Values{"password": {password}, "confirm": {password}})
	if status != http.StatusOK || !strings.Contains(body, "Signed in as "+name) {
		t.Fatalf("setup: %d %s", status, body)
	}
	return b
}

// A moderator created with the CLI follows the setup link, approves a
// pending subscriber, blocks another after a preview, and finds both acts,
// under their name, in the audit log the CLI reads.
func TestConsoleModeration(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, func(c *relay.Config) { c.Approval = relay.ApproveManual })
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	for _, in := range []*relaytest.Instance{a, b} {
		if _, status, err := in.Follow(ctx, r.Actor(), r.Inbox()); err != nil || status != http.StatusAccepted {
			t.Fatalf("Follow: %d %v", status, err)
		}
	}
	ana := addModerator(t, r, "ana", "moderator", "a long phrase of words")

	_, body := ana.get("/admin/")
	if !strings.Contains(body, a.Host()) || !strings.Contains(body, b.Host()) {
		t.Fatalf("overview does not list the pending subscribers:\n%s", body)
	}
	ana.get("/admin/subscribers")
	status, body := ana.post("/admin/subscribers", url.Values{"action": {"approve"}, "sub": {"|" + a.Host(), "|" + b.Host()}})
	if status != http.StatusOK || !strings.Contains(body, "2 subscription(s) approve") {
		t.Fatalf("approve: %d %s", status, body)
	}
	for _, in := range []*relaytest.Instance{a, b} {
		waitFor(t, "Accept after approval in the console", func() bool { return len(in.ReceivedOf("Accept")) == 1 })
	}
	publish(t, r, a, a.Note("", "before the block", nil), http.StatusAccepted)
	waitFor(t, "delivery before the block", func() bool { return len(b.ReceivedOf("Announce")) == 1 })

	ana.get("/admin/rules")
	form := url.Values{"domain": {b.Host()}, "action": {"suspend"}, "reason": {"spam waves"}}
	status, body = ana.post("/admin/rules", form)
	if status != http.StatusOK || !strings.Contains(body, "What this rule would do") || !strings.Contains(body, b.Host()) {
		t.Fatalf("preview does not name the affected subscriber: %d %s", status, body)
	}
	if rules, _ := r.Admin.Rules(ctx); len(rules) != 0 {
		t.Fatalf("a preview saved a rule: %+v", rules)
	}
	form.Set("confirm", "yes")
	if status, body = ana.post("/admin/rules", form); status != http.StatusOK || !strings.Contains(body, "added") {
		t.Fatalf("add rule: %d %s", status, body)
	}
	publish(t, r, a, a.Note("", "after the block", nil), http.StatusAccepted)
	waitFor(t, "the relay to settle", func() bool { return relayIdle(ctx, r) })
	if n := len(b.ReceivedOf("Announce")); n != 1 {
		t.Errorf("the blocked subscriber received %d announces, want 1 (from before the block)", n)
	}

	entries, err := r.Admin.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	acts := map[string]bool{}
	for _, e := range entries {
		if e.Who == "console:ana" {
			acts[e.What+" "+e.Subject] = true
		}
	}
	for _, want := range []string{"subscriber.approve " + a.Host(), "subscriber.approve " + b.Host(), "rule.add domain " + b.Host()} {
		if !acts[want] {
			t.Errorf("audit log lacks %q by ana: %v", want, acts)
		}
	}
	if _, body = ana.get("/admin/audit?who=ana&what=rule"); !strings.Contains(body, "spam waves") {
		t.Errorf("the audit page does not show ana's rule with its reason:\n%s", body)
	}
	// The overview draws the day's deliveries; the peers page shows the
	// keys pinned for the subscribers that published.
	if _, body = ana.get("/admin/"); !regexp.MustCompile(`Deliveries: [1-9]`).MatchString(body) {
		t.Errorf("the overview counts no deliveries:\n%s", body)
	}
	if status, body = ana.get("/admin/peers"); status != http.StatusOK || !strings.Contains(body, a.Host()) {
		t.Errorf("the peers page does not show %s's pinned key: %d", a.Host(), status)
	}
}

// relayIdle reports whether nothing is waiting for delivery.
func relayIdle(ctx context.Context, r *testRelay) bool {
	ds, err := r.Admin.Deliveries(ctx, "", "", 0)
	return err == nil && len(ds.Deliveries) == 0
}

// postFile submits a multipart form with one file, with the page's CSRF
// token.
func (b *browser) postFile(path string, fields url.Values, file string) (int, string) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", b.csrf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", "list.csv")
	io.WriteString(fw, file)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.base)
	status, body, _ := b.do(req)
	return status, body
}

// A moderator imports a Mastodon CSV as drafts after a preview, approves
// one draft and discards the other; nothing applies before approval.
func TestConsoleListImportAndDrafts(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil)
	ana := addModerator(t, r, "ana", "moderator", "a long phrase of words")
	ana.get("/admin/lists")
	csv := "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nspam.example,suspend,false,false,spam,false\nads.example,silence,false,false,ads,false\n"
	status, body := ana.postFile("/admin/lists/import", url.Values{"name": {"coop"}, "action": {"suspend"}, "draft": {"yes"}}, csv)
	if status != http.StatusOK || !strings.Contains(body, "It would add 2 rule(s)") {
		t.Fatalf("import preview: %d %s", status, body)
	}
	if rules, _ := r.Admin.Rules(ctx); len(rules) != 0 {
		t.Fatalf("a preview imported: %+v", rules)
	}
	// The list waits on the server: the preview carries only its id,
	// which another moderator cannot use.
	if strings.Contains(body, "spam.example,suspend") {
		t.Errorf("the preview sends the list back to the browser")
	}
	upload := regexp.MustCompile(`name="upload" value="([^"]+)"`).FindStringSubmatch(body)
	if upload == nil {
		t.Fatalf("the preview names no upload:\n%s", body)
	}
	bob := addModerator(t, r, "bob", "moderator", "another long passphrase")
	bob.get("/admin/lists")
	if status, _ := bob.post("/admin/lists/import", url.Values{"upload": {upload[1]}, "confirm": {"yes"}}); status != http.StatusNotFound {
		t.Errorf("another moderator's upload: %d, want 404", status)
	}
	if status, body = ana.postFile("/admin/lists/import", url.Values{"upload": {upload[1]}, "confirm": {"yes"}}, ""); status != http.StatusOK || !strings.Contains(body, "2 rule(s) added") {
		t.Fatalf("import: %d %s", status, body)
	}
	if status, _ := ana.post("/admin/lists/import", url.Values{"upload": {upload[1]}, "confirm": {"yes"}}); status != http.StatusNotFound {
		t.Errorf("an upload imported twice: %d, want 404", status)
	}
	rules, _ := r.Admin.Rules(ctx)
	ids := map[string]string{}
	for _, rl := range rules {
		if !rl.Draft {
			t.Errorf("rule %s is live before approval", rl.Subject)
		}
		ids[rl.Subject] = strconv.FormatInt(rl.ID, 10)
	}
	if status, body = ana.post("/admin/lists/drafts", url.Values{"action": {"approve"}, "id": {ids["spam.example"]}}); status != http.StatusOK || !strings.Contains(body, "1 draft(s) approved") {
		t.Fatalf("approve: %d %s", status, body)
	}
	if status, body = ana.post("/admin/lists/drafts", url.Values{"action": {"discard"}, "id": {ids["ads.example"]}}); status != http.StatusOK || !strings.Contains(body, "1 draft(s) discarded") {
		t.Fatalf("discard: %d %s", status, body)
	}
	rules, _ = r.Admin.Rules(ctx)
	if len(rules) != 1 || rules[0].Subject != "spam.example" || rules[0].Draft {
		t.Errorf("rules after review = %+v, want spam.example live", rules)
	}
	entries, _ := r.Admin.Audit(ctx, 0, 100)
	var whats []string
	for _, e := range entries {
		if e.Who == "console:ana" {
			whats = append(whats, e.What)
		}
	}
	if got := strings.Join(whats, " "); strings.Count(got, "list.import") != 1 || !strings.Contains(got, "rule.remove") {
		t.Errorf("ana's audit entries: %s", got)
	}
}

// Rules of an actor with filters are made as the CLI makes them, and the
// audit log downloads as JSON lines, filtered.
func TestConsoleActorRuleAndAuditExport(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil)
	ana := addModerator(t, r, "ana", "moderator", "a long phrase of words")
	ana.get("/admin/rules")
	form := url.Values{"kind": {"actor"}, "domain": {"https://fmp.example/users/bot"}, "action": {"reject"}, "reason": {"spammy bot"},
		"keywords": {"casino, crypto"}, "kinds": {"surplus"}, "reject_media": {"yes"}, "confirm": {"yes"}}
	if status, body := ana.post("/admin/rules", form); status != http.StatusOK || !strings.Contains(body, "added") {
		t.Fatalf("add actor rule: %d %s", status, body)
	}
	rules, _ := r.Admin.Rules(ctx)
	if len(rules) != 1 || rules[0].Kind != "actor" || strings.Join(rules[0].Filters.Keywords, ",") != "casino,crypto" ||
		!rules[0].Filters.RejectMedia || strings.Join(rules[0].Filters.Kinds, ",") != "surplus" {
		t.Fatalf("rules = %+v", rules)
	}
	req, _ := http.NewRequest(http.MethodGet, r.URL+"/admin/audit/export?what=rule", nil)
	status, body, h := ana.do(req)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/jsonl") || len(lines) != 1 ||
		!strings.Contains(lines[0], `"what":"rule.add"`) || !strings.Contains(lines[0], "spammy bot") {
		t.Errorf("audit export: %d %q\n%s", status, h.Get("Content-Type"), body)
	}
}

// An admin switches new subscriptions to manual approval in the console:
// the next Follow waits, the front page and NodeInfo say so, a moderator
// cannot switch it back, and the choice outlives a restart.
func TestConsoleApprovalMode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := startRelayIn(t, dir, "127.0.0.1:0", nil)
	root := addModerator(t, r, "root", "admin", "correct horse battery staple")
	mia := addModerator(t, r, "mia", "moderator", "another long passphrase")
	root.get("/admin/trust")
	if status, body := root.post("/admin/approval", url.Values{"approval": {"manual"}, "reason": {"spam wave"}}); status != http.StatusOK || !strings.Contains(body, "New subscriptions: manual") {
		t.Fatalf("setting approval: %d %s", status, body)
	}
	mia.get("/admin/")
	if status, _ := mia.post("/admin/approval", url.Values{"approval": {"auto"}}); status != http.StatusForbidden {
		t.Errorf("a moderator set the approval mode: %d", status)
	}
	in := newInstance(t, relaytest.Mastodon)
	if _, status, err := in.Follow(ctx, r.Actor(), r.Inbox()); err != nil || status != http.StatusAccepted {
		t.Fatalf("Follow: %d %v", status, err)
	}
	subs, _ := r.Admin.Subscribers(ctx)
	if len(subs) != 1 || subs[0].State != "pending" {
		t.Errorf("after switching to manual a Follow is %+v, want pending", subs)
	}
	for path, want := range map[string]string{"/": "held until a moderator approves", "/nodeinfo/2.1": `"approval":"manual"`} {
		resp, err := http.Get(r.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s does not say %q", path, want)
		}
	}
	r.stop()
	r2 := startRelayIn(t, dir, "127.0.0.1:0", nil)
	if got := r2.ApprovalMode(); got != "manual" {
		t.Errorf("after a restart the approval mode is %q, want manual", got)
	}
}

// A moderator follows a shared list and excludes a domain from it; the
// audit page filters by date.
func TestConsoleListExcludeAndAuditSince(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil)
	ana := addModerator(t, r, "ana", "moderator", "a long phrase of words")
	ana.get("/admin/lists")
	form := url.Values{"name": {"coop"}, "url": {"https://lists.example/coop.csv"}, "every": {"24h"}}
	if status, body := ana.post("/admin/lists/subscriptions", form); status != http.StatusOK || !strings.Contains(body, "Following the list coop") {
		t.Fatalf("subscribe: %d %s", status, body)
	}
	if status, body := ana.post("/admin/lists/subscriptions/coop", url.Values{"action": {"exclude"}, "domain": {"friend.example"}}); status != http.StatusOK ||
		!strings.Contains(body, "friend.example will never be taken from coop") {
		t.Fatalf("exclude: %d %s", status, body)
	}
	if status, _ := ana.post("/admin/lists/subscriptions", form); status != http.StatusConflict {
		t.Errorf("following a list name again: %d, want 409 (it would replace the list and its excludes)", status)
	}
	if status, _ := ana.post("/admin/lists/subscriptions/coop", url.Values{"action": {"sync"}}); status == http.StatusTooManyRequests {
		t.Errorf("the first sync now was refused")
	}
	if status, _ := ana.post("/admin/lists/subscriptions/coop", url.Values{"action": {"sync"}}); status != http.StatusTooManyRequests {
		t.Errorf("a second sync now within the minute: %d, want 429", status)
	}
	for _, bad := range []string{"coop#x", "coop?x", "%63oop", "Coop"} {
		f := url.Values{"name": {bad}, "url": {"https://lists.example/x.csv"}, "every": {"24h"}}
		if status, _ := ana.post("/admin/lists/subscriptions", f); status != http.StatusBadRequest {
			t.Errorf("list name %q: %d, want 400", bad, status)
		}
	}
	lists, err := r.Admin.Lists().Subscriptions(ctx)
	if err != nil || len(lists) != 1 || strings.Join(lists[0].Excludes, ",") != "friend.example" {
		t.Errorf("list subscriptions = %+v, %v", lists, err)
	}
	if status, _ := ana.post("/admin/lists/subscriptions/nope", url.Values{"action": {"exclude"}, "domain": {"x.example"}}); status != http.StatusNotFound {
		t.Errorf("exclude from an unknown list: %d, want 404", status)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
	if _, body := ana.get("/admin/audit?what=list&since=" + today); !strings.Contains(body, "list.subscribe") {
		t.Errorf("the audit page since today lacks today's list.subscribe")
	}
	if _, body := ana.get("/admin/audit?what=list&since=" + tomorrow); strings.Contains(body, "list.subscribe") {
		t.Errorf("the audit page since tomorrow shows today's entries")
	}
	if status, _ := ana.get("/admin/audit?since=yesterday"); status != http.StatusBadRequest {
		t.Errorf("a malformed date: %d, want 400", status)
	}
}
