package relay_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

// The case other relays get wrong: blocking a subscriber that is live
// stops its traffic at once, both ways, including deliveries already queued
// or held in memory for it.
func TestBlockingALiveSubscriberStopsItAtOnce(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	a, bad := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, bad)
	publish(t, r, a, a.Note("", "before the block", nil), http.StatusAccepted)
	waitFor(t, "first delivery", func() bool { return len(bad.ReceivedOf("Announce")) == 1 })

	bad.Hold() // deliveries to it are in flight or queued when the block lands
	for i := 0; i < 5; i++ {
		publish(t, r, a, a.Note("", "queued for the peer about to be blocked", nil), http.StatusAccepted)
	}
	time.Sleep(100 * time.Millisecond)
	aff, err := r.Admin.PreviewRule(ctx, admin.AddRule{Rule: policy.Rule{Kind: policy.Domain, Subject: bad.Host(), Action: policy.Reject}})
	if err != nil || len(aff.Peers) != 1 || aff.Peers[0] != bad.Host() || aff.QueuedDeliveries != 5 {
		t.Fatalf("preview = %+v, %v", aff, err)
	}
	rule, _, err := r.Admin.Block(ctx, admin.Block{Domain: bad.Host(), Severity: "reject", Reason: "spam wave", PublicComment: "spam"})
	if err != nil || rule.ID == 0 || rule.Action != policy.Reject {
		t.Fatalf("block: %+v %v", rule, err)
	}
	// Requests that were held are cancelled by the client timeout or
	// complete; queued ones are dropped at send time.
	bad.Release()
	publish(t, r, a, a.Note("", "after the block", nil), http.StatusAccepted)
	status, text, _ := bad.Post(ctx, r.Inbox(), bad.Note("", "the blocked peer speaks", nil))
	if status != http.StatusForbidden || !strings.Contains(text, "spam") {
		t.Errorf("blocked peer publishing: %d %q", status, text)
	}
	waitFor(t, "queue for the blocked peer emptied", func() bool {
		d, _ := r.Admin.Deliveries(ctx, "", bad.Host(), 0)
		return len(d.Deliveries) == 0
	})
	// At most the requests already on the wire when the block landed may
	// have arrived (the per-peer concurrency, 4); nothing after.
	got := len(bad.ReceivedOf("Announce"))
	if got > 1+4 {
		t.Errorf("blocked peer received %d announces", got)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(bad.ReceivedOf("Announce")); n != got {
		t.Errorf("deliveries continued after the block: %d then %d", got, n)
	}
	if v := metric(t, r, `runrig_deliveries_total{result="blocked"}`); v == "" || v == "0" {
		t.Errorf("blocked deliveries metric = %q", v)
	}
	entries, _ := r.Admin.Audit(ctx, 0, 0)
	if len(entries) != 1 || entries[0].What != "rule.add" || entries[0].Why != "spam wave" || entries[0].Who == "" {
		t.Errorf("audit = %+v", entries)
	}
}

// Suspending drops every subscription and queued delivery of the peer, and
// nothing is fetched from it afterwards.
func TestSuspendDropsEverything(t *testing.T) {
	r := startRelay(t, withRegions)
	ctx := context.Background()
	a, bad := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, bad)
	followSlice(t, r, bad, "surplus")
	bad.InboxStatus.Store(http.StatusServiceUnavailable)
	publish(t, r, a, a.Note("", "queued", nil), http.StatusAccepted)
	if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: bad.Host(), Severity: "suspend", Reason: "abuse"}); err != nil {
		t.Fatal(err)
	}
	subs, _ := r.Admin.Subscribers(ctx)
	for _, s := range subs {
		if s.Peer == bad.Host() {
			t.Errorf("suspended peer still subscribed: %+v", s)
		}
	}
	d, _ := r.Admin.Deliveries(ctx, "", bad.Host(), 0)
	if len(d.Deliveries) != 0 {
		t.Errorf("suspended peer keeps %d queued deliveries", len(d.Deliveries))
	}
	fetches := bad.ActorFetches.Load()
	if _, status, _ := bad.Follow(ctx, r.Actor(), r.Inbox()); status != http.StatusForbidden {
		t.Errorf("suspended peer following again: %d", status)
	}
	if n := bad.ActorFetches.Load(); n != fetches {
		t.Errorf("the relay fetched from a suspended peer (%d fetches)", n-fetches)
	}
}

// A limited peer's listings reach only their slices' followers; its other
// posts are accepted but not relayed. Filters refuse what they name.
func TestLimitAndFilters(t *testing.T) {
	r := startRelay(t, withRegions)
	ctx := context.Background()
	quiet, everything, surplusFan := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, quiet)
	subscribe(t, r, everything)
	followSlice(t, r, surplusFan, "surplus")
	if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: quiet.Host(), Severity: "silence", Reason: "new member, on probation"}); err != nil {
		t.Fatal(err)
	}
	publish(t, r, quiet, quiet.Note("", "limited chatter", nil), http.StatusAccepted)
	publish(t, r, quiet, quiet.Listing("surplus", time.Now().Add(time.Hour), nil), http.StatusAccepted)
	waitFor(t, "surplus slice served", func() bool { return len(surplusFan.ReceivedOf("Announce")) == 1 })
	time.Sleep(150 * time.Millisecond)
	if n := len(everything.ReceivedOf("Announce")); n != 0 {
		t.Errorf("a limited peer's activities reached the relay's subscribers: %d", n)
	}

	filtered := policy.Rule{Kind: policy.Domain, Subject: everything.Host(), Action: policy.Accept,
		Filters: policy.Filters{Keywords: []string{"casino"}, Types: []string{"Question"}, RejectMedia: true}}
	if _, err := r.Admin.AddRule(ctx, admin.AddRule{Rule: filtered, Reason: "spam filters"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		body []byte
		want int
	}{
		{everything.Note("", "Win big at the CASINO", nil), http.StatusForbidden},
		{everything.Note("", "a photo", map[string]any{"object": map[string]any{"id": everything.NewID("n"), "type": "Note",
			"attachment": []any{map[string]any{"type": "Image", "url": "https://x/y.png"}}}}), http.StatusForbidden},
		{everything.Activity("Create", everything.ActorID, map[string]any{"id": everything.NewID("q"), "type": "Question"}, nil), http.StatusForbidden},
		{everything.Note("", "fresh apples", nil), http.StatusAccepted},
	} {
		if status, text, _ := everything.Post(ctx, r.Inbox(), tt.body); status != tt.want {
			t.Errorf("filtered post: %d %q, want %d", status, text, tt.want)
		}
	}
}

// In allowlist mode only allowed peers federate; a block of a subdomain
// overrides the allow of its parent. Precedence in blocklist mode: an
// explicit allow overrides a parent block (unit-tested in package policy).
func TestAllowlistMode(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { c.FederationMode = policy.Allowlist })
	ctx := context.Background()
	member, stranger := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	if _, status, _ := member.Follow(ctx, r.Actor(), r.Inbox()); status != http.StatusForbidden {
		t.Fatalf("unlisted peer in allowlist mode: %d", status)
	}
	if _, _, err := r.Admin.Allow(ctx, admin.Allow{Domain: member.Host(), Reason: "cooperative member"}); err != nil {
		t.Fatal(err)
	}
	subscribe(t, r, member)
	if _, status, _ := stranger.Follow(ctx, r.Actor(), r.Inbox()); status != http.StatusForbidden {
		t.Errorf("stranger in allowlist mode: %d", status)
	}
	rules, _ := r.Admin.Rules(ctx)
	if len(rules) != 1 || rules[0].Action != policy.Accept || rules[0].Author == "" || rules[0].Source != "manual" {
		t.Fatalf("rules = %+v", rules)
	}
	if err := r.Admin.RemoveRule(ctx, rules[0].ID, "membership ended"); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := member.Post(ctx, r.Inbox(), member.Note("", "still here?", nil)); status != http.StatusForbidden {
		t.Errorf("after the allow was removed: %d", status)
	}
	entries, _ := r.Admin.Audit(ctx, 0, 0)
	if len(entries) != 2 || entries[1].What != "rule.remove" || entries[1].Why != "membership ended" {
		t.Errorf("audit = %+v", entries)
	}
	if v := metric(t, r, `runrig_policy_rejections_total{action="reject",source="default"}`); v == "" {
		t.Error("default-deny rejections not counted")
	}
}

func TestBadModerationRequests(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	for _, b := range []admin.Block{{Domain: "not a domain"}, {Domain: "ok.example", Severity: "obliterate"},
		{Domain: "ok.example", ExpiresIn: "soon", Reason: "r"}, {Domain: "ok.example", Severity: "suspend"}} {
		if _, _, err := r.Admin.Block(ctx, b); err == nil {
			t.Errorf("block %+v accepted", b)
		}
	}
	if err := r.Admin.RemoveRule(ctx, 42, ""); err == nil {
		t.Error("removed a rule that does not exist")
	}
	if entries, _ := r.Admin.Audit(ctx, 0, 0); len(entries) != 0 {
		t.Errorf("refused changes were audited: %+v", entries)
	}
}

// Inbound rate limits scale with trust; excess gets 429 with Retry-After.
func TestRateLimitsScaleWithTrust(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { c.InboundRate, c.InboundBurst = 0.01, 3 })
	ctx := context.Background()
	normal, trusted, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	if err := r.Admin.SetTrust(ctx, admin.SetTrust{Domain: trusted.Host(), Level: "trusted", Reason: "founding member"}); err != nil {
		t.Fatal(err)
	}
	subscribe(t, r, sub)
	accepted := func(in *relaytest.Instance) (int, string) {
		n := 0
		for i := 0; i < 30; i++ {
			req, _ := in.SignedRequest(ctx, r.Inbox(), in.Activity("Follow", in.ActorID, relaytest.Public, nil), relaytest.Signing{})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				return n, resp.Header.Get("Retry-After")
			}
			n++
		}
		return n, ""
	}
	if n, retry := accepted(normal); n != 3 || retry == "" {
		t.Errorf("normal peer: %d accepted, Retry-After %q; want 3 then 429", n, retry)
	}
	if n, retry := accepted(trusted); n != 15 || retry == "" {
		t.Errorf("trusted peer: %d accepted, Retry-After %q; want 15 (5x) then 429", n, retry)
	}
	peers, err := r.Admin.Trust(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, p := range peers {
		if p.Peer == trusted.Host() {
			found = p.Level == "trusted" && p.Reason == "founding member" && p.Subscriptions == 1 && p.Rejected == 1
		}
	}
	if !found {
		t.Errorf("trust listing = %+v", peers)
	}
	if err := r.Admin.SetTrust(ctx, admin.SetTrust{Domain: trusted.Host(), Level: "best-friends"}); err == nil {
		t.Error("unknown level accepted")
	}
	if v := metric(t, r, `runrig_inbox_rejected_total{reason="rate_limited"}`); v != "2" {
		t.Errorf("rate_limited metric = %q", v)
	}
}

// Relays publish endorsements and censures; a relay reads those of the
// peers it trusts, and they inform without blocking anything.
func TestEndorsementsBetweenRelays(t *testing.T) {
	a, b := startRelay(t, nil), startRelay(t, nil)
	ctx := context.Background()
	if err := b.Admin.Endorse(ctx, admin.Endorse{Domain: "goodcoop.example", Kind: "endorse", Reason: "reliable partner for years"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Endorse(ctx, admin.Endorse{Domain: "spammy.example", Kind: "censure", Reason: "mass unsolicited offers"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []admin.Endorse{{Domain: "x.example", Kind: "adore", Reason: "r"},
		{Domain: "x.example", Kind: "endorse"}, {Domain: "x.example", Kind: "endorse", Reason: strings.Repeat("x", 256)}} {
		if err := b.Admin.Endorse(ctx, bad); err == nil {
			t.Errorf("endorsement %+v accepted", bad)
		}
	}
	bHost := strings.TrimPrefix(b.URL, "http://")
	if pe, _ := a.Admin.PeerEndorsements(ctx); len(pe) != 0 {
		t.Fatalf("read endorsements from an untrusted peer: %+v", pe)
	}
	if err := a.Admin.SetTrust(ctx, admin.SetTrust{Domain: bHost, Level: "trusted"}); err != nil {
		t.Fatal(err)
	}
	pe, err := a.Admin.PeerEndorsements(ctx)
	if err != nil || len(pe) != 2 {
		t.Fatalf("peer endorsements = %+v, %v", pe, err)
	}
	for _, e := range pe {
		if e.From != bHost || e.Error != "" {
			t.Errorf("peer endorsement = %+v", e)
		}
	}
	// They inform only: spammy.example is not blocked on A.
	if rules, _ := a.Admin.Rules(ctx); len(rules) != 0 {
		t.Errorf("a censure created rules: %+v", rules)
	}
	own, _ := b.Admin.Endorsements(ctx)
	if err := b.Admin.Withdraw(ctx, own[0].ID, "merged"); err != nil {
		t.Fatal(err)
	}
	if own, _ = b.Admin.Endorsements(ctx); len(own) != 1 {
		t.Errorf("after withdraw: %+v", own)
	}
}

// With the default limits, a subscriber of normal trust flushing its queue
// after an outage (1,000 activities at once) gets none refused: each 429
// would delay its posts by minutes. TestRateLimitsScaleWithTrust shows the
// limit still bounds a peer.
func TestDefaultLimitsTakeABurst(t *testing.T) {
	const burst, senders = 1000, 8
	r := startRelay(t, nil)
	ctx := context.Background()
	flusher, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, flusher)
	subscribe(t, r, sub)
	reqs := make(chan *http.Request, burst)
	for i := range burst { // signed ahead, so they arrive as fast as a queue flush would
		req, err := flusher.SignedRequest(ctx, r.Inbox(), flusher.Note("", fmt.Sprintf("queued post %d", i), nil), relaytest.Signing{})
		if err != nil {
			t.Fatal(err)
		}
		reqs <- req
	}
	close(reqs)
	statuses := make(chan int, burst)
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range reqs {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusAccepted] != burst {
		t.Fatalf("of %d activities sent at once: %v by status; want all %d accepted", burst, count, http.StatusAccepted)
	}
}

// What an activity carries or names is judged too: a subscriber's Announce
// of a suspended server's post is refused like a post from it, and object
// IRIs that are not http(s) are refused.
func TestWrappedObjectsAreModerated(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	a, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, sub)
	if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: "suspended.example", Severity: "suspend", Reason: "abuse"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		object string
		status int
	}{
		{"https://suspended.example/notes/1", http.StatusForbidden},
		{"https://www.suspended.example/notes/2", http.StatusForbidden},
		{"javascript:alert(1)", http.StatusBadRequest},
		{"file:///etc/passwd", http.StatusBadRequest},
	} {
		status, text, err := a.Post(ctx, r.Inbox(), a.Activity("Announce", a.ActorID, tc.object, nil))
		if err != nil || status != tc.status {
			t.Errorf("Announce of %s: %d %q %v; want %d", tc.object, status, text, err, tc.status)
		}
	}
	ok := a.Note("", "still relayed", nil)
	publish(t, r, a, ok, http.StatusAccepted)
	waitFor(t, "the good post", func() bool { return len(sub.ReceivedOf("Announce")) == 1 })
	if got := sub.ReceivedOf("Announce")[0].ObjectID(); got != objectIDOf(t, ok) {
		t.Errorf("relayed %s", got)
	}
}

// Refusals are counted by the rule's source, never by its id: a list of
// thousands of rules must not make thousands of metric series.
func TestPolicyCountersStayBounded(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	start := counterSeries(t, r)
	for range 3 {
		bad := newInstance(t, relaytest.Mastodon)
		if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: bad.Host(), Severity: "suspend", Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		if _, status, _ := bad.Follow(ctx, r.Actor(), r.Inbox()); status != http.StatusForbidden {
			t.Fatalf("suspended peer following: %d", status)
		}
	}
	for s := range counterSeries(t, r) {
		if !start[s] {
			t.Errorf("a refusal added the series %s", s)
		}
	}
	if v := metric(t, r, `runrig_policy_rejections_total{action="suspend",source="manual"}`); v != "3" {
		t.Errorf("suspensions by moderators' rules counted %q, want 3", v)
	}
}

// A key rule covers the key, not only the id it was seen under: blocked
// by its id, the same key published as a user's key is refused too; a
// rule on a fingerprint (as `admin keys` shows it) covers it under any id.
func TestKeyRulesCoverTheKey(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, b)
	publish(t, r, a, a.Note("", "pinned", nil), http.StatusAccepted)
	if _, err := r.Admin.AddRule(ctx, admin.AddRule{Rule: policy.Rule{Kind: policy.Key, Subject: a.KeyID, Action: policy.Reject},
		Reason: "stolen key"}); err != nil {
		t.Fatal(err)
	}
	post := func(in *relaytest.Instance, keyID string) int {
		status, _, _ := in.PostWith(ctx, r.Inbox(), in.Note("", "hello", nil), relaytest.Signing{KeyID: keyID})
		return status
	}
	if s := post(a, a.KeyID); s != http.StatusForbidden {
		t.Errorf("the blocked key id: %d", s)
	}
	if s := post(a, a.Server.URL+"/users/alice#main-key"); s != http.StatusForbidden {
		t.Errorf("the blocked key under another id: %d, want 403", s)
	}

	var fp string
	keys, _ := r.Admin.Keys(ctx)
	for _, k := range keys {
		if k.KeyID == b.KeyID {
			fp = k.Fingerprint
		}
	}
	if fp == "" {
		t.Fatalf("b's key is not pinned: %+v", keys)
	}
	if _, err := r.Admin.AddRule(ctx, admin.AddRule{Rule: policy.Rule{Kind: policy.Key, Subject: "sha256:" + fp, Action: policy.Reject},
		Reason: "stolen key"}); err != nil {
		t.Fatal(err)
	}
	if s := post(b, b.Server.URL+"/users/carol#main-key"); s != http.StatusForbidden {
		t.Errorf("a key blocked by fingerprint, under a new id: %d, want 403", s)
	}

	// A filter on a key's fingerprint applies once the key is known.
	c := newInstance(t, relaytest.Mastodon)
	subscribe(t, r, c)
	keys, _ = r.Admin.Keys(ctx)
	for _, k := range keys {
		if k.KeyID == c.KeyID {
			fp = k.Fingerprint
		}
	}
	if _, err := r.Admin.AddRule(ctx, admin.AddRule{Rule: policy.Rule{Kind: policy.Key, Subject: "sha256:" + fp, Action: policy.Noop,
		Filters: policy.Filters{Keywords: []string{"casino"}}}, Reason: "spam from this key"}); err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]int{"casino night": http.StatusForbidden, "potatoes": http.StatusAccepted} {
		if s, _, _ := c.PostWith(ctx, r.Inbox(), c.Note("", text, nil), relaytest.Signing{KeyID: c.Server.URL + "/users/dave#main-key"}); s != want {
			t.Errorf("%q under a fingerprint filter: %d, want %d", text, s, want)
		}
	}
}
