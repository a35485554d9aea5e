package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/storetest"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestLockedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	defer db.Close()
	if _, err := Open(context.Background(), dir); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open = %v", err)
	}
}

// The store contract (relay/store/storetest), run on SQLite.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) store.Store { return open(t, dir) })
}

func TestSchemaVersion(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	if n, _ := db.SchemaVersion(ctx); n != SchemaVersion {
		t.Fatalf("schema version %d, want %d", n, SchemaVersion)
	}
}

// A store made by an earlier schema version is migrated forward with its
// data intact.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Build the file as version 1 made it, with a queued delivery.
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0], `PRAGMA user_version = 1`,
		`INSERT INTO payloads(id, activity_id, body, created_at) VALUES (1, 'a1', '{}', 1)`,
		`INSERT INTO deliveries(payload_id, peer, inbox, state, next_at, created_at) VALUES (1, 'p1', 'http://p1/inbox', 'queued', 1, 1)`,
		`INSERT INTO subscribers(peer, actor, inbox, follow_id, style, state, created_at, updated_at)
			VALUES ('p1', 'http://p1/actor', 'http://p1/inbox', 'http://p1/f/1', 'mastodon', 'accepted', 1, 1)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db := open(t, dir)
	defer db.Close()
	if v, _ := db.SchemaVersion(ctx); v != SchemaVersion || v < 3 {
		t.Fatalf("schema version %d", v)
	}
	cl, err := db.Claim(ctx, store.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(cl.Deliveries) != 1 || !cl.Deliveries[0].Expires.IsZero() {
		t.Fatalf("after migration: %+v %v", cl, err)
	}
	if ls, err := db.Listings(ctx, store.ListingQuery{}); err != nil || len(ls) != 0 {
		t.Fatalf("listings after migration: %v %v", ls, err)
	}
	if sub, err := db.Subscriber(ctx, "", "p1"); err != nil || sub.State != store.Accepted || sub.FollowID != "http://p1/f/1" {
		t.Fatalf("subscription after migration: %+v %v", sub, err)
	}
}

// A store of schema version 10, the last before list rules became unique
// per subject, holding what it could (a
// subscription and the duplicate rules two list syncs at once could
// leave), is migrated to the current one: what it held is kept, of the
// duplicates the live and most severe stays (not the first, a draft), and
// what the new version adds works.
func TestMigrateFromPreviousVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	const prev = 10
	for i, m := range migrations[:prev] {
		if _, err := raw.Exec(m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	if _, err := raw.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, prev)); err != nil {
		t.Fatal(err)
	}
	// The previous version's rows, as it wrote them.
	for _, q := range []string{
		`INSERT INTO subscribers(slice, peer, actor, inbox, follow_id, style, state, created_at, updated_at)
			VALUES ('', 'p1', 'http://p1/actor', 'http://p1/inbox', 'http://p1/f/1', 'mastodon', 'accepted', 1, 1)`,
		`INSERT INTO rules(id, kind, subject, action, source, draft, created_at, author) VALUES
			(1, 'domain', 'spam.example', 'suspend', 'list:a', 1, 1, 'list:a'),
			(2, 'domain', 'spam.example', 'limit', 'list:a', 0, 1, 'list:a'),
			(3, 'domain', 'spam.example', 'suspend', 'list:b', 0, 1, 'list:b'),
			(4, 'domain', 'spam.example', 'limit', 'manual', 0, 1, 'mod'),
			(5, 'domain', 'ads.example', 'limit', 'list:a', 0, 1, 'list:a')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db := open(t, dir)
	defer db.Close()
	if v, _ := db.SchemaVersion(ctx); v != SchemaVersion {
		t.Fatalf("schema version %d, want %d", v, SchemaVersion)
	}
	if sub, err := db.Subscriber(ctx, "", "p1"); err != nil || sub.State != store.Accepted {
		t.Fatalf("subscription after migration: %+v %v", sub, err)
	}
	rules, err := db.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	if fmt.Sprint(ids) != "[3 4 5]" {
		t.Fatalf("rules after migration %v, want the live and most severe list rule per domain and the manual one: [3 4 5]", ids)
	}
	added, err := db.Moderate(ctx, store.ModerationChange{AddUnruled: true, Audit: []store.AuditEntry{{Who: "list:c", What: "list.sync"}},
		Add: []policy.Rule{{Kind: policy.Domain, Subject: "spam.example", Action: policy.Suspend, Source: "list:c"},
			{Kind: policy.Domain, Subject: "new.example", Action: policy.Suspend, Source: "list:c"}}})
	if err != nil || len(added) != 2 || added[0] != 0 || added[1] == 0 {
		t.Fatalf("adding list rules for a ruled and an unruled domain: ids %v, %v", added, err)
	}
	if _, err := db.Moderate(ctx, store.ModerationChange{Audit: []store.AuditEntry{{Who: "list:c", What: "list.sync"}},
		Add: []policy.Rule{{Kind: policy.Domain, Subject: "ads.example", Action: policy.Suspend, Source: "list:c"}}}); err == nil {
		t.Fatal("a second list rule for one domain was stored")
	}
}

// A store a newer runrig migrated is refused, not opened and damaged: the
// way back from an upgrade is the backup taken before it.
func TestRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	open(t, dir).Close()
	raw, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if _, err := raw.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, SchemaVersion+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := Open(context.Background(), dir)
	if err == nil {
		db.Close()
		t.Fatal("opened a store of a newer schema")
	}
	if !strings.Contains(err.Error(), "upgrade runrig") {
		t.Errorf("error = %v, want one that says to upgrade", err)
	}
}

// The store, which holds the actor's private key, is readable by its owner
// only: created 0600 in a data dir that already exists, and narrowed to it
// when an older version left it 0644.
func TestStoreFileIsPrivate(t *testing.T) {
	dir := t.TempDir() // exists already, mode 0755 or so
	db := open(t, dir)
	db.Close()
	path := filepath.Join(dir, FileName)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new store mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	db.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("reopened store mode = %v, want 0600", fi.Mode().Perm())
	}
}

// A store from before rule ids were AUTOINCREMENT keeps its rules, and
// the next rule's id is above every id a rule ever had, a removed one's
// (named by the audit log) included.
func TestMigratedRuleIDsNeverReused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	const prev = 15
	for i, m := range migrations[:prev] {
		if _, err := raw.Exec(m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	for _, q := range []string{
		fmt.Sprintf(`PRAGMA user_version = %d`, prev),
		`INSERT INTO rules(id, kind, subject, action, source, created_at, author) VALUES
			(1, 'domain', 'a.example', 'suspend', 'manual', 1, 'op'), (2, 'domain', 'b.example', 'suspend', 'manual', 1, 'op')`,
		`INSERT INTO audit(at, who, what, subject) VALUES (1, 'op', 'rule.remove', '3')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db := open(t, dir)
	defer db.Close()
	if rules, _ := db.Rules(ctx); len(rules) != 2 {
		t.Fatalf("rules after the migration: %+v", rules)
	}
	ids, err := db.Moderate(ctx, policy.Change{Add: []policy.Rule{{Kind: policy.Domain, Subject: "c.example",
		Action: policy.Suspend, Source: "manual", Created: time.Now(), Author: "op"}},
		Audit: []policy.AuditEntry{{Who: "op", What: "rule.add", Subject: "domain c.example"}}})
	if err != nil || ids[0] != 4 {
		t.Errorf("the first rule after the migration is %v (%v); want 4, above removed rule 3", ids, err)
	}
}
