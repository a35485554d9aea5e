package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// testLeaseOwners: only a delivery's lease owner records its outcome. A
// replica whose lease expired and went to another records nothing; the
// new owner does.
func testLeaseOwners(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{msg("a1", "p1")}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a, err := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, Owner: "A"})
	if err != nil || len(a.Deliveries) != 1 || a.Deliveries[0].Owner != "A" {
		t.Fatalf("A's claim = %+v, %v", a.Deliveries, err)
	}
	// A's lease expires; B takes the delivery.
	later := now.Add(2 * time.Minute)
	b, err := db.Claim(ctx, store.ClaimRequest{Now: later, Lease: time.Minute, Limit: 10, Owner: "B"})
	if err != nil || len(b.Deliveries) != 1 || b.Deliveries[0].Owner != "B" {
		t.Fatalf("B's claim after A's lease expired = %+v, %v", b.Deliveries, err)
	}
	// A, late, says it failed: nothing changes (B holds it).
	if err := db.Complete(ctx, []store.Outcome{{Delivery: a.Deliveries[0], At: later, Err: "late",
		NextAttempt: later.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	// A, late, says it was delivered: the row stays, B's to record.
	if err := db.Complete(ctx, []store.Outcome{{Delivery: a.Deliveries[0], At: later, Delivered: true}}); err != nil {
		t.Fatal(err)
	}
	all, _ := db.Deliveries(ctx, store.DeliveryFilter{})
	if len(all) != 1 || all[0].Attempts != 0 || all[0].LastError != "" {
		t.Fatalf("a stale owner's outcome was recorded: %+v", all)
	}
	if err := db.Complete(ctx, []store.Outcome{{Delivery: b.Deliveries[0], At: later, Delivered: true}}); err != nil {
		t.Fatal(err)
	}
	if all, _ := db.Deliveries(ctx, store.DeliveryFilter{}); len(all) != 0 {
		t.Fatalf("the owner's delivery was not recorded: %+v", all)
	}
}

// testOnePeerOneReplica: while one replica holds leases on a peer's
// deliveries, another claims none of that peer's, so per-peer limits hold
// across replicas; other peers' deliveries it does claim.
func testOnePeerOneReplica(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{msg("a1", "p1", "p2"), msg("a2", "p1", "p2")}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a, err := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 1, Owner: "A"})
	if err != nil || len(a.Deliveries) != 1 {
		t.Fatalf("A's claim = %+v, %v", a.Deliveries, err)
	}
	held := a.Deliveries[0].Peer
	b, err := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, Owner: "B"})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Deliveries) != 2 {
		t.Fatalf("B claimed %d deliveries, want the other peer's 2", len(b.Deliveries))
	}
	for _, d := range b.Deliveries {
		if d.Peer == held {
			t.Fatalf("B claimed %s's delivery while A holds that peer", held)
		}
	}
	// A may take more of its own peer's.
	more, _ := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, Owner: "A"})
	if len(more.Deliveries) != 1 || more.Deliveries[0].Peer != held {
		t.Fatalf("A's second claim = %+v", more.Deliveries)
	}
}

// testReplicasAndSingletons: replicas beat and are listed; one that stops
// beating is forgotten with its delivery and singleton leases released; a
// singleton lease has one owner until it expires or is released.
func testReplicasAndSingletons(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	rs := db.Replicas()
	if c, err := rs.Clock(ctx); err != nil || time.Since(c).Abs() > time.Minute {
		t.Fatalf("the store's clock reads %v, %v; this machine's %v", c, err, time.Now())
	}
	now := time.Now().Truncate(time.Millisecond)
	for i, id := range []string{"A", "B"} {
		r := store.Replica{ID: id, Host: "host-" + id, StartedAt: now.Add(time.Duration(i) * time.Second), SeenAt: now, InFlight: i}
		if err := rs.Beat(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	list, err := rs.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "B" || list[0].InFlight != 1 || list[1].Host != "host-A" {
		t.Fatalf("replicas = %+v, %v", list, err)
	}

	until := now.Add(10 * time.Second)
	if ok, err := rs.Acquire(ctx, "lists", "A", now, until); err != nil || !ok {
		t.Fatalf("A's acquire = %v, %v", ok, err)
	}
	if ok, _ := rs.Acquire(ctx, "lists", "B", now.Add(time.Second), until); ok {
		t.Fatal("B took a lease A holds")
	}
	if ok, _ := rs.Acquire(ctx, "lists", "A", now.Add(time.Second), until.Add(time.Second)); !ok {
		t.Fatal("A could not renew its lease")
	}
	if ok, _ := rs.Acquire(ctx, "lists", "B", until.Add(2*time.Second), until.Add(time.Minute)); !ok {
		t.Fatal("B could not take an expired lease")
	}
	if err := rs.Release(ctx, "lists", "A"); err != nil { // not A's any more: no effect
		t.Fatal(err)
	}
	if ls, _ := rs.Leases(ctx); len(ls) != 1 || ls[0].Owner != "B" {
		t.Fatalf("leases = %+v", ls)
	}

	// B holds deliveries and a singleton, then stops beating.
	m := msg("a1", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8")
	m.At = now
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{m}}); err != nil {
		t.Fatal(err)
	}
	if cl, _ := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Hour, Limit: 10, Owner: "B"}); len(cl.Deliveries) == 0 {
		t.Fatalf("B claimed nothing")
	}
	if err := rs.Beat(ctx, store.Replica{ID: "A", Host: "host-A", StartedAt: now, SeenAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	gone, err := rs.Forget(ctx, now.Add(30*time.Second))
	if err != nil || len(gone) != 1 || gone[0] != "B" {
		t.Fatalf("forgot %v, %v", gone, err)
	}
	if ls, _ := rs.Leases(ctx); len(ls) != 0 {
		t.Fatalf("a forgotten replica's leases stay: %+v", ls)
	}
	cl, _ := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Hour, Limit: 10, Owner: "A"})
	if len(cl.Deliveries) != 8 {
		t.Fatalf("a forgotten replica's deliveries were not released: A, alone now, claimed %d of 8", len(cl.Deliveries))
	}
	if err := rs.Leave(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if list, _ := rs.List(ctx); len(list) != 0 {
		t.Fatalf("after leaving: %+v", list)
	}
	if cl, _ := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Hour, Limit: 10, Owner: "C"}); len(cl.Deliveries) != 8 {
		t.Fatalf("a replica that left kept its leases: C claimed %d of 8", len(cl.Deliveries))
	}
}
