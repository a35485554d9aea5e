package relay_test

import (
	"context"
	"net/http"
	"strings"
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
	if v := metric(t, r, `runrig_policy_rejections_total{action="reject",rule="default"}`); v == "" {
		t.Error("default-deny rejections not counted")
	}
}

func TestBadModerationRequests(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	for _, b := range []admin.Block{{Domain: "not a domain"}, {Domain: "ok.example", Severity: "obliterate"},
		{Domain: "ok.example", ExpiresIn: "soon"}} {
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
