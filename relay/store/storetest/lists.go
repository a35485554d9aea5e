package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
)

// listBody serves a shared list's text, as a list server would.
type listBody string

func (b listBody) Get(context.Context, string) ([]byte, error) { return []byte(b), nil }

type noSubscriptions struct{}

func (noSubscriptions) Subscribed(context.Context) ([]policy.Subscribed, error) { return nil, nil }

// beforeRules runs hook the first time the sync reads the rules: after it
// read its list subscription again, before it writes.
type beforeRules struct {
	policy.Store
	once sync.Once
	hook func()
}

func (b *beforeRules) Rules(ctx context.Context) ([]policy.Rule, error) {
	if b.hook != nil {
		b.once.Do(b.hook)
	}
	return b.Store.Rules(ctx)
}

// testListSyncKeepsAnUnsubscribe: a list sync on one replica and an
// operator's unsubscribe on another (two moderators on one store) — the
// sync does not bring the list back (found by review: it wrote the whole
// subscription back).
func testListSyncKeepsAnUnsubscribe(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	if _, err := db.Moderate(ctx, policy.Change{PutList: &policy.ListSubscription{Name: "shared",
		URL: "https://lists.example/l.txt", Interval: time.Hour, PlainAction: "suspend", Created: time.Now(), Author: "op"},
		Audit: []policy.AuditEntry{{Who: "op", What: "list.subscribe", Subject: "shared"}}}); err != nil {
		t.Fatal(err)
	}
	cfg := policy.ModeratorConfig{Lists: listBody("bad.example\n")}
	other, err := policy.NewModerator(ctx, db, noSubscriptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hooked := &beforeRules{Store: db}
	syncing, err := policy.NewModerator(ctx, hooked, noSubscriptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hooked.hook = func() {
		if err := other.UnsubscribeList(ctx, policy.Operator{Who: "op"}, "shared"); err != nil {
			t.Errorf("unsubscribing on the other replica: %v", err)
		}
	}
	if _, err := syncing.SyncList(ctx, "shared"); err == nil {
		t.Errorf("the sync of a list unsubscribed meanwhile succeeded")
	}
	if lists, _ := db.ListSubscriptions(ctx); len(lists) != 0 {
		t.Errorf("the list unsubscribed during a sync is back: %+v", lists)
	}
	if rules, _ := db.Rules(ctx); len(rules) != 0 {
		t.Errorf("the sync of a list unsubscribed meanwhile added rules: %+v", rules)
	}
}
