package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/postgres"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
	"github.com/runrig/runrig/relay/store/storetest"
)

func TestStoreContract(t *testing.T) {
	srv := pgtest.Server(t)
	storetest.Run(t, func(t *testing.T, dir string) store.Store {
		db, err := postgres.Open(context.Background(), srv.Database(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// Behind a transaction-mode PgBouncer, with the URL's
// default_query_exec_mode=exec, the store keeps the same contract: its
// transactions and transaction-level advisory locks hold, though every
// statement may meet another server connection.
func TestStoreContractBehindPooler(t *testing.T) {
	srv := pgtest.Pooler(t)
	storetest.Run(t, func(t *testing.T, dir string) store.Store {
		db, err := postgres.Open(context.Background(), srv.Database(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// Replicas split the peers between them by a hash of the peer: each
// claims only its shard, and none claims a peer another holds leases on,
// also when the shards change after a replica died.
func TestReplicasSplitPeers(t *testing.T) {
	srv := pgtest.Server(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, srv.Database(t, "split"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Truncate(time.Millisecond)
	m := store.Message{ActivityID: "a1", Body: []byte(`{}`), At: now}
	for i := range 90 {
		p := fmt.Sprintf("p%d.example", i)
		m.Targets = append(m.Targets, store.Target{Peer: p, Inbox: "https://" + p + "/inbox"})
	}
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{m}}); err != nil {
		t.Fatal(err)
	}
	claimed := map[string]string{}
	claim := func(owner string, shard, shards int) int {
		cl, err := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 1000, Owner: owner, Shard: shard, Shards: shards})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range cl.Deliveries {
			if prev, ok := claimed[d.Peer]; ok {
				t.Fatalf("%s claimed %s, which %s holds", owner, d.Peer, prev)
			}
			claimed[d.Peer] = owner
		}
		return len(cl.Deliveries)
	}
	// Three replicas: A and B take their thirds (C's stays queued).
	for i, id := range []string{"A", "B"} {
		if n := claim(id, i, 3); n < 15 || n > 45 {
			t.Errorf("%s claimed %d of 90 peers; want about a third", id, n)
		}
	}
	// C died: two shards now. A and B take what C would have, and nothing
	// the other holds.
	claim("A", 0, 2)
	claim("B", 1, 2)
	if len(claimed) != 90 {
		t.Fatalf("after C left, %d of 90 peers were claimed", len(claimed))
	}
}

// The audit log is append-only in the database itself: the relay's own
// update, delete or truncate fails. (Its role owns the table and could
// drop the trigger: the trigger guards against the relay's mistakes, not
// against whoever holds the owner's credentials; docs/scaling.md.)
func TestAuditIsAppendOnly(t *testing.T) {
	srv := pgtest.Server(t)
	ctx := context.Background()
	url := srv.Database(t, "audit")
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SetSetting(ctx, "approval", "manual", store.AuditEntry{Who: "op", What: "approval.set", Subject: "manual"}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`UPDATE audit SET who = 'someone else'`, `DELETE FROM audit`, `TRUNCATE audit`} {
		if _, err := raw.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only refusal", q, err)
		}
	}
	if a, _ := db.Audit(ctx, 0, 10); len(a) != 1 || a[0].Who != "op" {
		t.Fatalf("audit = %+v", a)
	}
}

// Behind a transaction-mode pooler without default_query_exec_mode=exec,
// a relay's named statements meet server connections that already hold
// them: the error says what to add to the URL.
func TestPoolerWithoutExecModeSaysWhatToAdd(t *testing.T) {
	srv := pgtest.Pooler(t)
	u, err := url.Parse(srv.Database(t, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("default_query_exec_mode")
	u.RawQuery = q.Encode()
	err = nil
	for i := 0; i < 5 && err == nil; i++ {
		var db *postgres.DB
		if db, err = postgres.Open(context.Background(), u.String()); err == nil {
			db.Close()
		}
	}
	if err == nil {
		t.Fatal("five relays opened through the pooler and none met another's named statement: is PgBouncer in transaction mode?")
	}
	if !strings.Contains(err.Error(), postgres.PoolerParams) {
		t.Errorf("the error does not say to add %s: %v", postgres.PoolerParams, err)
	}
}

// Replicas started together on an empty database (docker compose up)
// all open it: one migrates, the others wait for it.
func TestReplicasOpenAnEmptyDatabaseTogether(t *testing.T) {
	srv := pgtest.Server(t)
	for round := range 3 {
		dsn := srv.Database(t, fmt.Sprintf("together-%d", round))
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				db, err := postgres.Open(context.Background(), dsn)
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, replica %d: %v", round, i, err)
			}
		}
	}
}

// Two replicas' list syncs adding the same list rule at once: the second
// skips it, as SQLite's single writer does, instead of failing its whole
// sync on the unique index (found by review).
func TestListRulesAddedAtOnce(t *testing.T) {
	srv := pgtest.Server(t)
	ctx := context.Background()
	dsn := srv.Database(t, "unruled")
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	other, err := raw.BeginTx(ctx, nil) // another replica's sync, not yet committed
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `INSERT INTO rules(kind, subject, action, source, created_at, author)
		VALUES ('domain', 'bad.example', 'suspend', 'list:a', 1, 'list:a')`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.Moderate(ctx, store.ModerationChange{AddUnruled: true,
			Audit: []store.AuditEntry{{Who: "list:b", What: "list.sync", Subject: "b"}},
			Add: []policy.Rule{{Kind: policy.Domain, Subject: "bad.example", Action: policy.Suspend, Source: "list:b",
				Author: "list:b", Created: time.Now()}}})
		done <- err
	}()
	waitFor(t, "the second sync to wait on the first's row", func() bool {
		var n int
		raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock'`).Scan(&n)
		return n > 0
	})
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("a list sync racing another's: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A subscription ended by one replica while another fans out to it gets
// nothing queued: the fan-out waits for the end and then sees it (found
// by review: under READ COMMITTED it queued a delivery to the ended
// subscription).
func TestFanOutToASubscriptionEndingMeanwhile(t *testing.T) {
	srv := pgtest.Server(t)
	ctx := context.Background()
	dsn := srv.Database(t, "fanout")
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sub := store.Subscriber{Peer: "p.example", Actor: "https://p.example/actor", Inbox: "https://p.example/inbox",
		FollowID: "https://p.example/f/1", Style: store.Mastodon, State: store.Accepted}
	if err := db.Apply(ctx, store.Change{Upsert: &sub}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	end, err := raw.BeginTx(ctx, nil) // another replica ends the subscription
	if err != nil {
		t.Fatal(err)
	}
	defer end.Rollback()
	for _, q := range []string{`DELETE FROM subscribers WHERE slice = '' AND peer = 'p.example'`,
		`DELETE FROM deliveries WHERE slice = '' AND peer = 'p.example'`} {
		if _, err := end.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		m := msg("a1", "p.example")
		m.ToSubscribers = true
		done <- db.Apply(ctx, store.Change{Messages: []store.Message{m}})
	}()
	var fanned error
	finished := false
	waitFor(t, "the fan-out to finish or wait on the subscription", func() bool {
		select {
		case fanned = <-done:
			finished = true
			return true
		default:
		}
		var n int
		raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock'`).Scan(&n)
		return n > 0
	})
	if err := end.Commit(); err != nil {
		t.Fatal(err)
	}
	if !finished {
		fanned = <-done
	}
	if fanned != nil {
		t.Fatal(fanned)
	}
	if ds, _ := db.Deliveries(ctx, store.DeliveryFilter{Peer: "p.example"}); len(ds) != 0 {
		t.Errorf("%d deliveries queued to a subscription that had ended", len(ds))
	}
}

func msg(id, peer string) store.Message {
	return store.Message{ActivityID: id, Body: []byte(`{"id":"` + id + `"}`),
		Targets: []store.Target{{Peer: peer, Inbox: "https://" + peer + "/inbox"}}}
}
