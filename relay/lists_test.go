package relay_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

// Lists: a bad list imports nothing and names its lines; an import never
// overwrites a manual rule; drafts do not apply; the export is Mastodon's
// format and the published list masks obfuscated domains.
func TestListsImportExport(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	bad := "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nok.example,suspend,false,false,,false\nx.example,obliterate,false,false,,false\n"
	_, err := r.Admin.Lists().Import(ctx, admin.ImportList{Name: "shared", Content: bad})
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("bad list: %v", err)
	}
	if rules, _ := r.Admin.Rules(ctx); len(rules) != 0 {
		t.Fatalf("half-imported: %+v", rules)
	}
	if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: "spam.example", Severity: "reject", PublicComment: "ours", Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	good := "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n" +
		"spam.example,silence,false,false,theirs,false\n" +
		"ads.example,silence,true,false,Ads,false\n" +
		"secret.example,suspend,false,false,Harassment,true\n"
	res, err := r.Admin.Lists().Import(ctx, admin.ImportList{Name: "shared", Content: good, Reason: "weekly sync"})
	if err != nil || res.Added != 2 || len(res.Skipped) != 1 || res.Skipped[0] != "spam.example" {
		t.Fatalf("import: %+v %v", res, err)
	}
	rules, _ := r.Admin.Rules(ctx)
	for _, rule := range rules {
		if rule.Subject == "spam.example" && (rule.Action != policy.Reject || rule.Source != "manual" || rule.PublicComment != "ours") {
			t.Errorf("the manual rule was overwritten: %+v", rule)
		}
		if rule.Subject == "ads.example" && (rule.Source != "list:shared" || !rule.Filters.RejectMedia) {
			t.Errorf("imported rule = %+v", rule)
		}
	}
	drafts, err := r.Admin.Lists().Import(ctx, admin.ImportList{Name: "review", Content: "draft.example\n", Draft: true})
	if err != nil || drafts.Added != 1 {
		t.Fatalf("draft import: %+v %v", drafts, err)
	}
	inst := newInstance(t, relaytest.Mastodon)
	if _, status, _ := inst.Follow(ctx, r.Actor(), r.Inbox()); status != 202 {
		t.Errorf("an unrelated peer refused: %d", status)
	}

	csv, err := r.Admin.Lists().Export(ctx, false, false)
	if err != nil || !strings.HasPrefix(string(csv), policy.MastodonBlocksHeader+"\n") ||
		!strings.Contains(string(csv), "ads.example,silence,true,false,Ads,false\n") ||
		!strings.Contains(string(csv), "spam.example,suspend,false,false,ours,false\n") ||
		strings.Contains(string(csv), "draft.example") {
		t.Errorf("export:\n%s %v", csv, err)
	}
	back, err := policy.ParseList(csv, policy.Suspend)
	if err != nil || len(back) != 3 {
		t.Errorf("export does not read back: %+v %v", back, err)
	}
	resp, err := http.Get(r.URL + "/policy/blocks.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pub := new(strings.Builder)
	io.Copy(pub, resp.Body)
	if strings.Contains(pub.String(), "secret.example") || !strings.Contains(pub.String(), "ads.example") {
		t.Errorf("published list:\n%s", pub)
	}
	entries, _ := r.Admin.Audit(ctx, 0, 0)
	var imports int
	for _, e := range entries {
		if e.What == "list.import" {
			imports++
		}
	}
	if imports != 2 {
		t.Errorf("list imports audited: %d (the failed one must not be)", imports)
	}
}

// Drafts wait for review: they do not apply until a moderator approves
// them, and the approval is audited.
func TestDraftReview(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	bad := newInstance(t, relaytest.Mastodon)
	res, err := r.Admin.Lists().Import(ctx, admin.ImportList{Name: "shared", Content: bad.Host() + "\n", Draft: true})
	if err != nil || res.Added != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}
	subscribe(t, r, bad) // the draft does not apply yet
	ids, err := r.Admin.ApproveDrafts(ctx, admin.ApproveDrafts{All: true, Reason: "reviewed"})
	if err != nil || len(ids) != 1 {
		t.Fatalf("approve: %v %v", ids, err)
	}
	if status, _, _ := bad.Post(ctx, r.Inbox(), bad.Note("", "x", nil)); status != http.StatusForbidden {
		t.Errorf("approved block not applied: %d", status)
	}
	if subs, _ := r.Admin.Subscribers(ctx); len(subs) != 0 {
		t.Errorf("an approved suspension left subscriptions: %+v", subs)
	}
	if _, err := r.Admin.ApproveDrafts(ctx, admin.ApproveDrafts{IDs: ids}); err == nil {
		t.Error("approved a rule that is no longer a draft")
	}
	entries, _ := r.Admin.Audit(ctx, 0, 0)
	if last := entries[len(entries)-1]; last.What != "rule.approve" || last.Why != "reviewed" || last.Source != "list:shared" {
		t.Errorf("audit = %+v", last)
	}
}

// Subscriptions to shared lists: entries come in as drafts by default;
// excludes and existing (manual) rules are respected; entries the list
// drops are reported as retracted and their rules kept; failures recorded.
func TestListSubscriptions(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	var content atomic.Value
	content.Store("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n" +
		"spam.example,suspend,false,false,Spam,false\n" +
		"ads.example,silence,false,false,Ads,false\n" +
		"friend.example,suspend,false,false,disputed,false\n" +
		"cdn.partner.example,suspend,false,false,,false\n")
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c := content.Load().(string)
		if c == "" {
			http.Error(w, "gone", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(c))
	}))
	defer lists.Close()
	if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: "friend.example", Severity: "limit", Reason: "our own call"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admin.Lists().Subscribe(ctx, admin.ListSubscribe{Name: "shared", URL: lists.URL + "/blocks.csv",
		Excludes: []string{"partner.example"}, Reason: "regional consensus list"}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Admin.Lists().Sync(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Added, ",") != "spam.example,ads.example" || strings.Join(res.Skipped, ",") != "friend.example" ||
		strings.Join(res.Excluded, ",") != "cdn.partner.example" {
		t.Fatalf("first sync = %+v", res)
	}
	rules, _ := r.Admin.Rules(ctx)
	for _, rule := range rules {
		switch rule.Subject {
		case "spam.example", "ads.example":
			if !rule.Draft || rule.Source != "list:shared" {
				t.Errorf("list rule = %+v, want a draft from list:shared", rule)
			}
		case "friend.example":
			if rule.Action != policy.Limit || rule.Source != "manual" {
				t.Errorf("manual rule overwritten: %+v", rule)
			}
		}
	}
	if _, err := r.Admin.ApproveDrafts(ctx, admin.ApproveDrafts{All: true, Reason: "reviewed"}); err != nil {
		t.Fatal(err)
	}

	// The list drops spam.example: reported as retracted, its rule kept.
	content.Store("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nads.example,silence,false,false,Ads,false\n")
	res, err = r.Admin.Lists().Sync(ctx, "shared")
	if err != nil || strings.Join(res.Retracted, ",") != "spam.example" {
		t.Fatalf("second sync = %+v, %v", res, err)
	}
	subs, _ := r.Admin.Lists().Subscriptions(ctx)
	if len(subs) != 1 || strings.Join(subs[0].Retracted, ",") != "spam.example" || subs[0].LastFetch.IsZero() {
		t.Errorf("subscription = %+v", subs)
	}
	rules, _ = r.Admin.Rules(ctx)
	var kept bool
	for _, rule := range rules {
		kept = kept || rule.Subject == "spam.example"
	}
	if !kept {
		t.Error("a retracted entry's rule was dropped silently")
	}
	// A failed fetch is recorded, nothing changes.
	content.Store("")
	if _, err := r.Admin.Lists().Sync(ctx, "shared"); err == nil {
		t.Error("failed fetch not reported")
	}
	subs, _ = r.Admin.Lists().Subscriptions(ctx)
	if subs[0].LastError == "" || strings.Join(subs[0].Retracted, ",") != "spam.example" {
		t.Errorf("after a failed fetch: %+v", subs[0])
	}
	entries, _ := r.Admin.Audit(ctx, 0, 0)
	var whats []string
	for _, e := range entries {
		whats = append(whats, e.What)
	}
	for _, want := range []string{"list.subscribe", "list.sync", "rule.approve", "list.retracted", "list.fetch_failed"} {
		if !strings.Contains(strings.Join(whats, " "), want) {
			t.Errorf("audit lacks %s: %v", want, whats)
		}
	}
	for _, e := range entries {
		if e.What == "list.sync" && !strings.Contains(string(e.Details), `"added":`) {
			t.Errorf("a sync's audit details lost their keys: %s", e.Details)
		}
	}
	if _, err := r.Admin.Lists().Subscribe(ctx, admin.ListSubscribe{Name: "bad name", URL: "ftp://x"}); err == nil {
		t.Error("bad subscription accepted")
	}
}

// When two followed lists disagree about a domain, the higher priority
// list's rule is the one created.
func TestListPriority(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	serve := func(body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }))
		t.Cleanup(s.Close)
		return s
	}
	strict := serve("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\ncontested.example,suspend,false,false,,false\n")
	lenient := serve("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\ncontested.example,silence,false,false,,false\n")
	for _, l := range []admin.ListSubscribe{{Name: "strict", URL: strict.URL, Priority: 1}, {Name: "lenient", URL: lenient.URL, Priority: 5}} {
		if _, err := r.Admin.Lists().Subscribe(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	synced, err := r.SyncDue(ctx)
	if err != nil || strings.Join(synced, ",") != "lenient,strict" {
		t.Fatalf("synced %v, %v", synced, err)
	}
	rules, _ := r.Admin.Rules(ctx)
	if len(rules) != 1 || rules[0].Source != "list:lenient" || rules[0].Action != policy.Limit {
		t.Fatalf("rules = %+v", rules)
	}
}

// The 20,000-row list the docs promise imports through the admin API.
func TestImportLargeList(t *testing.T) {
	r := startRelay(t, nil)
	var b strings.Builder
	b.WriteString("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "spam-domain-%05d.example,suspend,false,false,imported from a shared list,false\n", i)
	}
	if b.Len() <= 1<<20 {
		t.Fatalf("the list is only %d bytes; the test needs more than the old 1 MiB bound", b.Len())
	}
	res, err := r.Admin.Lists().Import(context.Background(), admin.ImportList{Name: "big", Content: b.String(), Preview: true})
	if err != nil || res.Added != 20000 {
		t.Fatalf("import of 20,000 rows: %d added, %v", res.Added, err)
	}
	// Asked for progress, the relay streams it: each step from its start to
	// its end, then the result (2,000 rows: the terminal test in cmd/runrig
	// imports 20,000 through the built binary).
	const rows = 2000
	small := strings.Join(strings.SplitAfter(b.String(), "\n")[:rows+1], "")
	var heard []admin.Progress
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err = r.Admin.Lists().ImportProgress(ctx, admin.ImportList{Name: "big", Content: small, Reason: "shared"},
		func(p admin.Progress) { heard = append(heard, p) })
	if err != nil || res.Added != rows {
		t.Fatalf("import of %d rows with progress: %d added, %v", rows, res.Added, err)
	}
	ends := map[string]bool{}
	for _, p := range heard {
		if p.Unit != "rows" || p.Done > max(p.Total, rows) {
			t.Fatalf("progress %+v", p)
		}
		ends[p.Step] = ends[p.Step] || (p.Done == rows && p.Total == rows)
	}
	if len(heard) < 4 || heard[0] != (admin.Progress{Step: "checking", Total: rows, Unit: "rows"}) || !ends["checking"] || !ends["writing"] {
		t.Fatalf("progress heard: %+v", heard)
	}
	// An error before any progress keeps its message (and status).
	if _, err := r.Admin.Lists().ImportProgress(context.Background(), admin.ImportList{Name: "Bad Name", Content: "a.example\n"},
		func(admin.Progress) {}); err == nil || !strings.Contains(err.Error(), "list name") {
		t.Fatalf("a bad name with progress: %v", err)
	}
}

// Syncs of one list at once (the background one and operators') add each
// domain's rule once; a moderator's rule made while the list is fetched
// is kept, and the list's rule for that domain skipped.
func TestConcurrentListSyncs(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("#domain,#severity\n")
	for i := range 200 {
		fmt.Fprintf(&b, "spam-%03d.example,suspend\n", i)
	}
	var fetches atomic.Int32
	acted := make(chan struct{})
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fetches.Add(1) == 1 { // during the first fetch a moderator acts
			if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: "spam-007.example", Severity: "limit", Reason: "ours"}); err != nil {
				t.Error(err)
			}
			close(acted)
		}
		<-acted // every fetch ends after it
		w.Write([]byte(b.String()))
	}))
	defer lists.Close()
	if _, err := r.Admin.Lists().Subscribe(ctx, admin.ListSubscribe{Name: "shared", URL: lists.URL + "/blocks.csv", Reason: "consensus"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := r.Admin.Lists().Sync(ctx, "shared"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		<-acted
		if _, err := r.Admin.Lists().Import(ctx, admin.ImportList{Name: "shared", Content: b.String(), Reason: "by hand"}); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	rules, _ := r.Admin.Rules(ctx)
	bySubject := map[string][]policy.Rule{}
	for _, rule := range rules {
		bySubject[rule.Subject] = append(bySubject[rule.Subject], rule)
	}
	if len(rules) != 200 || len(bySubject) != 200 {
		t.Fatalf("%d rules for %d domains after concurrent syncs, want 200 for 200", len(rules), len(bySubject))
	}
	if rs := bySubject["spam-007.example"]; rs[0].Source != "manual" || rs[0].Action != policy.Limit {
		t.Errorf("the moderator's rule made during the fetch = %+v", rs)
	}
}

// An operator who unsubscribes from a list while it is being fetched is
// not overruled by the sync: the subscription stays gone and the list's
// entries bring no rules.
func TestUnsubscribeDuringSync(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	fetching, release := make(chan struct{}), make(chan struct{})
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		close(fetching)
		<-release
		w.Write([]byte("#domain,#severity\nspam.example,suspend\n"))
	}))
	defer lists.Close()
	if _, err := r.Admin.Lists().Subscribe(ctx, admin.ListSubscribe{Name: "shared", URL: lists.URL + "/blocks.csv", Reason: "consensus"}); err != nil {
		t.Fatal(err)
	}
	synced := make(chan error, 1)
	go func() { _, err := r.Admin.Lists().Sync(ctx, "shared"); synced <- err }()
	<-fetching
	if err := r.Admin.Lists().Unsubscribe(ctx, "shared", "no longer wanted"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-synced; err == nil {
		t.Error("the sync of a list unsubscribed meanwhile reported success")
	}
	if subs, _ := r.Admin.Lists().Subscriptions(ctx); len(subs) != 0 {
		t.Errorf("the sync brought the subscription back: %+v", subs)
	}
	if rules, _ := r.Admin.Rules(ctx); len(rules) != 0 {
		t.Errorf("the unsubscribed list's entries became rules: %+v", rules)
	}
}
