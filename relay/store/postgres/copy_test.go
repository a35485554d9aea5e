package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/postgres"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
	"github.com/runrig/runrig/relay/store/sqlite"
	"github.com/runrig/runrig/relay/store/sqlstore"
)

// TestCopyFromSQLite moves a SQLite relay holding a little of everything
// into PostgreSQL and reads both back through the store: the same
// settings, subscriptions, queue, rules, audit, bridges and listings;
// deliveries unleased; ids that go on after the copied ones. A second
// copy into the now full database is refused and changes nothing.
func TestCopyFromSQLite(t *testing.T) {
	srv := pgtest.Server(t)
	ctx := context.Background()
	src, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fill(t, src)
	// A rule added and removed: its id is never given again, in either.
	gone, err := src.Moderate(ctx, store.ModerationChange{Audit: []store.AuditEntry{{Who: "mod", What: "rule.add", Subject: "gone.example"}},
		Add: []policy.Rule{{Kind: policy.Domain, Subject: "gone.example", Action: policy.Suspend, Source: "manual", Author: "mod"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Moderate(ctx, store.ModerationChange{Remove: gone,
		Audit: []store.AuditEntry{{Who: "mod", What: "rule.remove", Subject: "gone.example"}}}); err != nil {
		t.Fatal(err)
	}

	dst, err := postgres.Open(ctx, srv.Database(t, "copy"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	var heard, last, lastTotal int // the progress reports
	copied, err := sqlstore.Copy(ctx, src.DB, dst.DB, sqlstore.CopyProgress{Rows: func(done, total int) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		heard, last, lastTotal = heard+1, done, total
	}})
	if err != nil {
		t.Fatal(err)
	}
	rows, sum := map[string]int{}, 0
	for _, c := range copied {
		rows[c.Table] = c.Rows
		sum += c.Rows
	}
	if heard == 0 || last != sum || lastTotal != sum {
		t.Fatalf("progress: %d reports, the last %d of %d; %d rows copied", heard, last, lastTotal, sum)
	}
	if rows["deliveries"] != 3 || rows["audit"] != 5 || rows["rules"] != 2 || rows["bridges"] != 1 || rows["settings"] != 2 {
		t.Fatalf("copied %v", rows)
	}
	same := func(what string, read func(store.Store) (any, error)) {
		t.Helper()
		a, err := read(src)
		if err != nil {
			t.Fatalf("%s from SQLite: %v", what, err)
		}
		b, err := read(dst)
		if err != nil {
			t.Fatalf("%s from PostgreSQL: %v", what, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differ:\nSQLite     %+v\nPostgreSQL %+v", what, a, b)
		}
	}
	same("settings", func(s store.Store) (any, error) { return s.Setting(ctx, "actor_key") })
	same("subscribers", func(s store.Store) (any, error) { return s.SubscribersIn(ctx, "", store.Accepted) })
	same("rules", func(s store.Store) (any, error) { return s.Rules(ctx) })
	same("audit", func(s store.Store) (any, error) { return s.Audit(ctx, 0, 100) })
	same("bridges", func(s store.Store) (any, error) { return s.Bridges().Bridges(ctx) })
	same("listing", func(s store.Store) (any, error) { return s.Listing(ctx, "https://fmp.example/l/1") })
	same("queue", func(s store.Store) (any, error) { return s.QueueDepth(ctx) })

	// The delivery leased in SQLite is free in PostgreSQL.
	cl, err := dst.Claim(ctx, store.ClaimRequest{Now: time.Now().Add(time.Second), Lease: time.Minute, Limit: 10, Owner: "new"})
	if err != nil || len(cl.Deliveries) != 3 {
		t.Fatalf("claimed %d of 3 copied deliveries: %v", len(cl.Deliveries), err)
	}
	// New ids follow the copied ones.
	before, _ := src.Rules(ctx)
	ids, err := dst.Moderate(ctx, store.ModerationChange{Audit: []store.AuditEntry{{Who: "mod", What: "rule.add", Subject: "c.example"}},
		Add: []policy.Rule{{Kind: policy.Domain, Subject: "c.example", Action: policy.Suspend, Source: "manual", Author: "mod"}}})
	if err != nil || ids[0] <= before[len(before)-1].ID || ids[0] <= gone[0] {
		t.Fatalf("a new rule after the copy got id %v (copied up to %d, removed %d): %v", ids, before[len(before)-1].ID, gone[0], err)
	}

	if _, err := sqlstore.Copy(ctx, src.DB, dst.DB, sqlstore.CopyProgress{}); !errors.Is(err, sqlstore.ErrNotEmpty) {
		t.Fatalf("a copy into a full database: %v, want ErrNotEmpty", err)
	}
	if n, _ := dst.Rules(ctx); len(n) != 3 {
		t.Fatalf("a refused copy changed the rules: %d", len(n))
	}
}

// fill puts a little of everything in st.
func fill(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	if _, err := st.InitSetting(ctx, "actor_key", "PEM"); err != nil {
		t.Fatal(err)
	}
	sub := store.Subscriber{Peer: "fmp.example", Actor: "https://fmp.example/actor", Inbox: "https://fmp.example/inbox",
		FollowID: "https://fmp.example/f/1", Style: store.Mastodon, State: store.Accepted}
	lat := 45.5
	listing := &store.ListingRecord{ID: "https://fmp.example/l/1", ActivityID: "https://fmp.example/a/1", Actor: sub.Actor,
		Peer: sub.Peer, Kind: "offer", Name: "Beans", Start: now, End: now.Add(time.Hour), Lat: &lat, Lon: &lat,
		Regions: []string{"it-bg"}, Products: []string{"https://fmp.example/p/beans"}, Activity: []byte(`{"type":"Create"}`), ReceivedAt: now}
	m := store.Message{ActivityID: "https://fmp.example/a/1", Body: []byte(`{"id":"a1"}`), At: now,
		Targets: []store.Target{{Peer: "a.example", Inbox: "https://a.example/inbox"}, {Peer: "b.example", Inbox: "https://b.example/inbox"},
			{Peer: "c.example", Inbox: "https://c.example/inbox"}}}
	if err := st.Apply(ctx, store.Change{Seen: "https://fmp.example/a/1", Upsert: &sub, PutListing: listing, Messages: []store.Message{m}}); err != nil {
		t.Fatal(err)
	}
	if cl, err := st.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Hour, Limit: 1, Owner: "old"}); err != nil || len(cl.Deliveries) != 1 {
		t.Fatalf("claim: %+v, %v", cl, err)
	}
	audit := func(what string) []store.AuditEntry {
		return []store.AuditEntry{{At: now, Who: "mod", What: what, Subject: "s", Source: "manual"}}
	}
	if _, err := st.Moderate(ctx, store.ModerationChange{Audit: audit("rule.add"), Add: []policy.Rule{
		{Kind: policy.Domain, Subject: "a.example", Action: policy.Suspend, Source: "manual", Created: now, Author: "mod"},
		{Kind: policy.Domain, Subject: "b.example", Action: policy.Limit, Source: "list:x", Draft: true, Created: now, Author: "mod"}}}); err != nil {
		t.Fatal(err)
	}
	b := store.Bridge{Name: "farm", CatalogURL: "https://ofn.example/catalog", Every: 15 * time.Minute, Kind: "offer",
		KeyPEM: "PEM", Ed25519Seed: make([]byte, 32), Created: now}
	if err := st.Bridges().CreateBridge(ctx, b, audit("bridge.add")[0]); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSetting(ctx, "approval", "manual", audit("approval.set")[0]); err != nil {
		t.Fatal(err)
	}
}
