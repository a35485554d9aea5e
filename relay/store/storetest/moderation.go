package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// Settings are created once: the first value set stays.
func testSettings(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t, t.TempDir())
	defer st.Close()
	if _, err := st.Setting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a setting never set: %v", err)
	}
	v, _ := st.InitSetting(ctx, "k", "one")
	v2, _ := st.InitSetting(ctx, "k", "two")
	if v != "one" || v2 != "one" {
		t.Fatalf("InitSetting = %q, %q", v, v2)
	}
	if got, err := st.Setting(ctx, "k"); err != nil || got != "one" {
		t.Fatalf("Setting = %q, %v", got, err)
	}
}

// Moderation changes are atomic with their audit entries, which are
// append-only; rules are added, approved and removed by id; a list's rules
// are added only for unruled subjects and are unique per kind and subject;
// trust levels and list subscriptions are kept.
func testModeration(t *testing.T, open Opener) {
	ctx := context.Background()
	dir := t.TempDir()
	st := open(t, dir)
	now := time.Now().UTC().Truncate(time.Millisecond)
	audit := func(what string) []store.AuditEntry {
		return []store.AuditEntry{{At: now, Who: "mod", What: what, Subject: "s", Source: "manual"}}
	}
	rule := func(subject string, source string, draft bool) policy.Rule {
		return policy.Rule{Kind: policy.Domain, Subject: subject, Action: policy.Suspend, Source: source, Draft: draft,
			Created: now, Author: "mod"}
	}
	if _, err := st.Moderate(ctx, store.ModerationChange{Add: []policy.Rule{rule("a.example", "manual", false)}}); err == nil {
		t.Fatal("a change without an audit entry was applied")
	}
	ids, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("rule.add"),
		Add: []policy.Rule{rule("a.example", "manual", false), rule("b.example", "list:x", true)}})
	if err != nil || len(ids) != 2 || ids[0] == 0 || ids[1] == 0 || ids[0] == ids[1] {
		t.Fatalf("adding two rules: ids %v, %v", ids, err)
	}
	if _, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("rule.approve"), Approve: []int64{ids[0]}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approving a rule that is no draft: %v", err)
	}
	if _, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("rule.approve"), Approve: []int64{ids[1]}}); err != nil {
		t.Errorf("approving a draft: %v", err)
	}
	// A failing step undoes the whole change, its audit entry included.
	if _, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("rule.remove"), Remove: []int64{ids[0], 9999}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing a rule that does not exist: %v", err)
	}
	// A list adds only what no rule covers yet, and never a second rule
	// for one subject.
	added, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("list.sync"), AddUnruled: true,
		Add: []policy.Rule{rule("a.example", "list:y", false), rule("c.example", "list:y", false)}})
	if err != nil || len(added) != 2 || added[0] != 0 || added[1] == 0 {
		t.Fatalf("list rules for a ruled and an unruled domain: ids %v, %v", added, err)
	}
	if _, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("list.import"),
		Add: []policy.Rule{rule("c.example", "list:z", false)}}); err == nil {
		t.Error("a second list rule for one domain was stored")
	}
	rules, err := st.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, fmt.Sprintf("%s/%s/draft=%v", r.Subject, r.Source, r.Draft))
	}
	if fmt.Sprint(got) != "[a.example/manual/draft=false b.example/list:x/draft=false c.example/list:y/draft=false]" {
		t.Errorf("rules = %v", got)
	}

	level := store.TrustSetting{Peer: "p.example", Level: "trusted", Reason: "member", SetBy: "mod", SetAt: now}
	list := store.ListSubscription{Name: "x", URL: "https://lists.example/x.csv", Priority: 3, Interval: time.Hour, Draft: true,
		PlainAction: "suspend", Excludes: []string{"partner.example"}, Created: now, Author: "mod", Entries: []string{"b.example"}}
	if _, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("trust.set"), SetTrust: []store.TrustSetting{level}, PutList: &list}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = open(t, dir) // what was committed survives a restart
	defer st.Close()
	if ls, err := st.TrustLevels(ctx); err != nil || len(ls) != 1 || ls[0].Level != "trusted" || !ls[0].SetAt.Equal(now) {
		t.Errorf("trust levels = %+v, %v", ls, err)
	}
	if ls, err := st.ListSubscriptions(ctx); err != nil || len(ls) != 1 || ls[0].URL != list.URL || ls[0].Interval != time.Hour ||
		fmt.Sprint(ls[0].Excludes) != "[partner.example]" || fmt.Sprint(ls[0].Entries) != "[b.example]" {
		t.Errorf("list subscriptions = %+v, %v", ls, err)
	}
	entries, err := st.Audit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var whats []string
	for _, e := range entries {
		whats = append(whats, e.What)
	}
	if fmt.Sprint(whats) != "[rule.add rule.approve list.sync trust.set]" {
		t.Errorf("audit = %v: every applied change once, in order, none of the refused ones", whats)
	}
	if page, _ := st.Audit(ctx, entries[1].ID, 1); len(page) != 1 || page[0].What != "list.sync" {
		t.Errorf("audit after entry %d, one: %+v", entries[1].ID, page)
	}
}

// testRuleIDsNeverReused: a rule's id is its own for ever, so that the
// audit log's entries about it never come to name another rule.
func testRuleIDsNeverReused(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	add := func(subject string) int64 {
		ids, err := db.Moderate(ctx, policy.Change{Add: []policy.Rule{{Kind: policy.Domain, Subject: subject,
			Action: policy.Suspend, Source: "manual", Created: time.Now(), Author: "op"}},
			Audit: []policy.AuditEntry{{Who: "op", What: "rule.add", Subject: "domain " + subject}}})
		if err != nil {
			t.Fatal(err)
		}
		return ids[0]
	}
	first := []int64{add("a.example"), add("b.example"), add("c.example")}
	if _, err := db.Moderate(ctx, policy.Change{Remove: first,
		Audit: []policy.AuditEntry{{Who: "op", What: "rule.remove", Subject: "all three"}}}); err != nil {
		t.Fatal(err)
	}
	if next := add("d.example"); next <= first[2] {
		t.Errorf("after rules %v were removed the next is rule %d again", first, next)
	}
}

// testRuleUpdatedInPlace: a rule changes in place, keeping its id, kind,
// subject, source and creation; a rule that is gone is not found.
func testRuleUpdatedInPlace(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	created := time.Now().Truncate(time.Millisecond).UTC()
	r := policy.Rule{Kind: policy.Domain, Subject: "a.example", Action: policy.Limit, Source: "manual", Created: created, Author: "op"}
	ids, err := db.Moderate(ctx, policy.Change{Add: []policy.Rule{r}, Audit: []policy.AuditEntry{{Who: "op", What: "rule.add"}}})
	if err != nil {
		t.Fatal(err)
	}
	r.ID, r.Action, r.PublicComment, r.Author = ids[0], policy.Suspend, "spam wave", "mod2"
	if _, err := db.Moderate(ctx, policy.Change{Update: []policy.Rule{r}, Audit: []policy.AuditEntry{{Who: "mod2", What: "rule.change"}}}); err != nil {
		t.Fatal(err)
	}
	rules, err := db.Rules(ctx)
	if err != nil || len(rules) != 1 || rules[0].ID != ids[0] || rules[0].Action != policy.Suspend ||
		rules[0].PublicComment != "spam wave" || rules[0].Author != "mod2" || !rules[0].Created.Equal(created) {
		t.Fatalf("after the update: %+v, %v", rules, err)
	}
	r.ID = ids[0] + 100
	if _, err := db.Moderate(ctx, policy.Change{Update: []policy.Rule{r}, Audit: []policy.AuditEntry{{Who: "op", What: "rule.change"}}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("updating a rule that is not there: %v, want ErrNotFound", err)
	}
}
