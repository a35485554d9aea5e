package replica_test

import (
	"context"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/replica"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// openReplicas opens a store for replicas timed ten times faster than
// by default; it closes with the test.
func openReplicas(t *testing.T) (*sqlite.DB, replica.Config) {
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, replica.Config{Store: db.Replicas(), Heartbeat: 100 * time.Millisecond, DeadAfter: time.Second}
}

// beatPastDeadAfter has m beat every heartbeat, as Run does, until
// DeadAfter and three heartbeats have passed.
func beatPastDeadAfter(t *testing.T, m *replica.Member, cfg replica.Config) {
	for end := time.Now().Add(cfg.DeadAfter + 3*cfg.Heartbeat); time.Now().Before(end); {
		time.Sleep(cfg.Heartbeat)
		if err := m.Beat(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// After an outage longer than DeadAfter in which no replica could beat,
// the first to beat again does not forget the others, which are as alive
// as it is: it would take the deliveries they hold and make them twice
// (found by review).
func TestBackFromAnOutageForgetsNoOne(t *testing.T) {
	ctx := context.Background()
	db, cfg := openReplicas(t)
	a, b := replica.New(cfg), replica.New(cfg)
	for _, m := range []*replica.Member{a, b} {
		if err := m.Beat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{{ActivityID: "a1", Body: []byte(`{}`),
		Targets: []store.Target{{Peer: "p.example", Inbox: "https://p.example/inbox"}}}}}); err != nil {
		t.Fatal(err)
	}
	held, err := db.Claim(ctx, store.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 10, Owner: b.ID()})
	if err != nil || len(held.Deliveries) != 1 {
		t.Fatalf("B's claim = %+v, %v", held.Deliveries, err)
	}
	time.Sleep(2 * cfg.DeadAfter) // the outage: no one beats
	if err := a.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	if rs, _ := db.Replicas().List(ctx); len(rs) != 2 {
		t.Errorf("after the outage A's first beat left %d replicas listed, want both", len(rs))
	}
	taken, err := db.Claim(ctx, store.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 10, Owner: a.ID()})
	if err != nil || len(taken.Deliveries) != 0 {
		t.Errorf("A claimed %+v, held by B, which is alive: %v", taken.Deliveries, err)
	}

	// B does not come back: A, beating on, forgets it once it has had
	// DeadAfter to beat, and takes its delivery.
	beatPastDeadAfter(t, a, cfg)
	if rs, _ := db.Replicas().List(ctx); len(rs) != 1 || rs[0].ID != a.ID() {
		t.Errorf("B, silent after the outage, is still listed: %+v", rs)
	}
	taken, err = db.Claim(ctx, store.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 10, Owner: a.ID()})
	if err != nil || len(taken.Deliveries) != 1 {
		t.Errorf("A did not take the delivery of B, forgotten: %+v, %v", taken.Deliveries, err)
	}
}

// A replica whose clock is an hour ahead beats in the store's time: when
// it dies, the others forget it after DeadAfter, not after an hour in
// which its share of the peers goes unserved (found by review).
func TestAClockAheadDiesOnTime(t *testing.T) {
	ctx := context.Background()
	db, cfg := openReplicas(t)
	fast := cfg
	fast.Now = func() time.Time { return time.Now().Add(time.Hour) }
	ahead, b := replica.New(fast), replica.New(cfg)
	if err := ahead.Beat(ctx); err != nil { // then it dies
		t.Fatal(err)
	}
	beatPastDeadAfter(t, b, cfg)
	if rs, _ := db.Replicas().List(ctx); len(rs) != 1 || rs[0].ID != b.ID() {
		t.Errorf("the replica with a clock an hour ahead, dead for DeadAfter, is still listed: %+v", rs)
	}
	if i, of := b.Shard(); i != 0 || of != 1 {
		t.Errorf("the living replica serves shard %d of %d, not every peer", i, of)
	}
}
