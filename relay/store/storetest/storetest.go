// Package storetest is the contract every store backend meets: the
// behaviours the relay relies on, run against a backend by its own tests
// (SQLite's in relay/store/sqlite; the next backend proves itself by
// passing the same suite).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/schemes"
	"github.com/runrig/runrig/relay/store"
)

// Opener opens the store kept in dir, creating it when dir is new. Opening
// the same dir again after Close is a restart of the relay: what was
// committed is there.
type Opener func(t *testing.T, dir string) store.Store

// Run runs the whole contract against the backend open opens.
func Run(t *testing.T, open Opener) {
	t.Run("ApplyDedupesAtomically", func(t *testing.T) { testApplyDedupesAtomically(t, open) })
	t.Run("ClaimLeaseCompleteAndReopen", func(t *testing.T) { testClaimLeaseCompleteAndReopen(t, open) })
	t.Run("SubscribersAndRemove", func(t *testing.T) { testSubscribersAndRemove(t, open) })
	t.Run("UpdatesDoNotResurrect", func(t *testing.T) { testUpdatesDoNotResurrect(t, open) })
	t.Run("ListingIndex", func(t *testing.T) { testListingIndex(t, open) })
	t.Run("RelayFollowsAndSeenObjects", func(t *testing.T) { testRelayFollowsAndSeenObjects(t, open) })
	t.Run("FanOutSkipsEndedSubscriptions", func(t *testing.T) { testFanOutSkipsEndedSubscriptions(t, open) })
	t.Run("PinsBoundedPerPeer", func(t *testing.T) { testPinsBoundedPerPeer(t, open) })
	t.Run("SubscriberSummary", func(t *testing.T) { testSubscriberSummary(t, open) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, open) })
	t.Run("Moderation", func(t *testing.T) { testModeration(t, open) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("SignatureMemory", func(t *testing.T) { testSignatureMemory(t, open) })
	t.Run("LargeFanOut", func(t *testing.T) { testLargeFanOut(t, open) })
	t.Run("Bridges", func(t *testing.T) { testBridges(t, open) })
	t.Run("LeaseOwners", func(t *testing.T) { testLeaseOwners(t, open) })
	t.Run("OnePeerOneReplica", func(t *testing.T) { testOnePeerOneReplica(t, open) })
	t.Run("ReplicasAndSingletons", func(t *testing.T) { testReplicasAndSingletons(t, open) })
	t.Run("PeerTextKept", func(t *testing.T) { testPeerTextKept(t, open) })
	t.Run("ListSyncKeepsAnUnsubscribe", func(t *testing.T) { testListSyncKeepsAnUnsubscribe(t, open) })
	t.Run("RuleIDsNeverReused", func(t *testing.T) { testRuleIDsNeverReused(t, open) })
	t.Run("RuleUpdatedInPlace", func(t *testing.T) { testRuleUpdatedInPlace(t, open) })
}

func msg(id string, peers ...string) store.Message {
	m := store.Message{ActivityID: id, Body: []byte(`{"id":"` + id + `"}`)}
	for _, p := range peers {
		m.Targets = append(m.Targets, store.Target{Peer: p, Inbox: "http://" + p + "/inbox"})
	}
	return m
}

func testApplyDedupesAtomically(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	c := store.Change{Seen: "a1", Messages: []store.Message{msg("a1", "p1", "p2")}}
	if err := db.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(ctx, c); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second Apply = %v", err)
	}
	depth, _ := db.QueueDepth(ctx)
	if depth[store.Queued] != 2 {
		t.Fatalf("depth = %v, want 2 queued", depth)
	}
}

func testClaimLeaseCompleteAndReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{msg("a1", "p1", "p2", "p3")}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cl, err := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, ExcludePeers: []string{"p3"}, Owner: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Deliveries) != 2 || len(cl.Bodies) != 1 {
		t.Fatalf("claimed %d deliveries, %d bodies", len(cl.Deliveries), len(cl.Bodies))
	}
	if cl.Deliveries[0].ActivityID != "a1" || string(cl.Bodies[cl.Deliveries[0].PayloadID]) != `{"id":"a1"}` {
		t.Fatalf("claimed %+v", cl)
	}
	again, _ := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, Owner: "r1"})
	if len(again.Deliveries) != 1 || again.Deliveries[0].Peer != "p3" {
		t.Fatalf("leased rows claimed again: %+v", again.Deliveries)
	}
	err = db.Complete(ctx, []store.Outcome{
		{Delivery: cl.Deliveries[0], At: now, Delivered: true},
		{Delivery: cl.Deliveries[1], At: now, Err: "503", NextAttempt: now.Add(time.Hour), CircuitUntil: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	// A new process: the old one's leases are released when it is known
	// to be gone (SQLite knows at start, PostgreSQL when it leaves or
	// stops beating).
	db = open(t, dir)
	defer db.Close()
	if err := db.Replicas().Leave(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	cl, _ = db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, Owner: "r2"})
	if len(cl.Deliveries) != 1 || cl.Deliveries[0].Peer != "p3" {
		t.Fatalf("after reopen claimed %+v", cl.Deliveries)
	}
	// p2 is retrying an hour from now and its circuit is open until then;
	// two hours on, p3's one-minute lease has expired too.
	cl, _ = db.Claim(ctx, store.ClaimRequest{Now: now.Add(2 * time.Hour), Lease: time.Minute, Limit: 10, ExcludePeers: []string{"p3"}})
	if len(cl.Deliveries) != 1 || cl.Deliveries[0].Peer != "p2" || cl.Deliveries[0].Attempts != 1 || cl.Deliveries[0].State != store.Retrying {
		t.Fatalf("retry claim = %+v", cl.Deliveries)
	}
	if err := db.Complete(ctx, []store.Outcome{{Delivery: cl.Deliveries[0], At: now, Dead: true, Err: "gone"}}); err != nil {
		t.Fatal(err)
	}
	dead, _ := db.Deliveries(ctx, store.DeliveryFilter{State: store.Dead})
	if len(dead) != 1 || dead[0].LastError != "gone" {
		t.Fatalf("dead = %+v", dead)
	}
	if n, err := db.RetryDead(ctx, nil, now, nil); err != nil || n != 1 {
		t.Fatalf("RetryDead = %d, %v", n, err)
	}
	depth, _ := db.QueueDepth(ctx)
	if depth[store.Dead] != 0 || depth[store.Retrying] != 1 {
		t.Fatalf("depth = %v", depth)
	}
}

func testSubscribersAndRemove(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	now := time.Now()
	s := store.Subscriber{Peer: "p1", Actor: "http://p1/actor", Inbox: "http://p1/inbox", FollowID: "f1",
		Style: store.Mastodon, State: store.Pending, CreatedAt: now, UpdatedAt: now}
	if err := db.Apply(ctx, store.Change{Upsert: &s, Messages: []store.Message{msg("x", "p1")}}); err != nil {
		t.Fatal(err)
	}
	s.State = store.Accepted
	db.Apply(ctx, store.Change{Upsert: &s})
	got, err := db.Subscriber(ctx, "", "p1")
	if err != nil || got.State != store.Accepted || got.CreatedAt.UnixMilli() != now.UnixMilli() {
		t.Fatalf("Subscriber = %+v, %v", got, err)
	}
	st, _ := db.SubscriberStatuses(ctx)
	if len(st) != 1 || st[0].Queued != 1 {
		t.Fatalf("statuses = %+v", st)
	}
	if err := db.Apply(ctx, store.Change{Remove: &store.SubscriptionKey{Peer: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Subscriber(ctx, "", "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
	if d, _ := db.QueueDepth(ctx); d[store.Queued] != 0 {
		t.Fatalf("deliveries of a removed peer remain: %v", d)
	}
	if err := db.Prune(ctx, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
}

// Updates never resurrect a subscription that was removed meanwhile, and
// a failed update leaves the whole change unapplied.
func testUpdatesDoNotResurrect(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	now := time.Now()
	s := store.Subscriber{Peer: "p1", Actor: "http://p1/relay", Inbox: "http://p1/inbox", FollowID: "f1",
		Style: store.LitePub, State: store.Accepted, FollowBackID: "fb1", FollowBackState: store.Pending,
		CreatedAt: now, UpdatedAt: now}
	if err := db.Apply(ctx, store.Change{Upsert: &s}); err != nil {
		t.Fatal(err)
	}
	wrong := &store.FollowBackAnswer{Peer: "p1", FollowID: "other", State: store.Accepted}
	if err := db.Apply(ctx, store.Change{Seen: "a1", FollowBack: wrong}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("follow-back with wrong id = %v", err)
	}
	right := &store.FollowBackAnswer{Peer: "p1", FollowID: "fb1", State: store.Accepted}
	if err := db.Apply(ctx, store.Change{Seen: "a1", FollowBack: right}); err != nil {
		t.Fatalf("follow-back = %v (the failed change must not have marked a1 seen)", err)
	}
	if got, _ := db.Subscriber(ctx, "", "p1"); got.FollowBackState != store.Accepted {
		t.Fatalf("follow-back state = %q", got.FollowBackState)
	}
	if err := db.Apply(ctx, store.Change{Remove: &store.SubscriptionKey{Peer: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(ctx, store.Change{Seen: "a2", FollowBack: right}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("follow-back after removal = %v", err)
	}
	s.State = store.Rejected
	if err := db.Apply(ctx, store.Change{Update: &s, Messages: []store.Message{msg("r", "p1")}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update after removal = %v", err)
	}
	if _, err := db.Subscriber(ctx, "", "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("removed subscription came back")
	}
	if d, _ := db.QueueDepth(ctx); d[store.Queued] != 0 {
		t.Fatalf("a failed change queued messages: %v", d)
	}
}

func testListingIndex(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	now := time.Now()
	put := func(id, actor, kind string, end time.Duration, regions, products []string) error {
		return db.Apply(ctx, store.Change{PutListing: &store.ListingRecord{ID: id, ActivityID: id + "/a", Actor: actor,
			Peer: "p", Kind: kind, Name: id, Start: now, End: now.Add(end), Regions: regions, Products: products,
			Activity: []byte(`{}`), ReceivedAt: now}})
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(put("l1", "a1", "offer", time.Hour, []string{"it-bg"}, []string{"potatoes"}))
	must(put("l2", "a1", "surplus", 30*time.Minute, []string{"it-bg", "it-mi"}, []string{"bread"}))
	must(put("l3", "a2", "request", 2*time.Hour, []string{"it-mi"}, []string{"potatoes"}))
	ids := func(q store.ListingQuery) string {
		if q.Now.IsZero() {
			q.Now = now
		}
		ls, err := db.Listings(ctx, q)
		must(err)
		var out []string
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		q    store.ListingQuery
		want string
	}{
		{store.ListingQuery{}, "l2,l1,l3"},
		{store.ListingQuery{Kind: "offer"}, "l1"},
		{store.ListingQuery{Region: "it-mi"}, "l2,l3"},
		{store.ListingQuery{Product: "potatoes"}, "l1,l3"},
		{store.ListingQuery{Region: "it-bg", Kind: "surplus"}, "l2"},
		{store.ListingQuery{Limit: 1, Offset: 1}, "l1"},
		{store.ListingQuery{Now: now.Add(90 * time.Minute)}, "l3"},
	}
	for _, tt := range tests {
		if got := ids(tt.q); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.q, got, tt.want)
		}
	}
	ls, _ := db.Listings(ctx, store.ListingQuery{Now: now.Add(90 * time.Minute)})
	if len(ls) != 1 || ls[0].ID != "l3" {
		t.Errorf("expired listings returned: %+v", ls)
	}
	// An update by the author replaces; by someone else it is ignored.
	must(put("l1", "a1", "offer", time.Hour, []string{"it-mi"}, []string{"onions"}))
	must(put("l1", "intruder", "offer", time.Hour, nil, nil))
	if got := ids(store.ListingQuery{Region: "it-mi", Kind: "offer"}); got != "l1" {
		t.Errorf("after update: %q", got)
	}
	if got := ids(store.ListingQuery{Product: "potatoes"}); got != "l3" {
		t.Errorf("old products kept: %q", got)
	}
	must(db.Apply(ctx, store.Change{DeleteListing: &store.ListingDelete{ID: "l3", Actor: "a1"}}))
	must(db.Apply(ctx, store.Change{DeleteListing: &store.ListingDelete{ID: "l2", Actor: "a1"}}))
	if got := ids(store.ListingQuery{}); got != "l1,l3" {
		t.Errorf("after deletes: %q (only the author may delete)", got)
	}
	must(db.Prune(ctx, now, now.Add(3*time.Hour)))
	if got := ids(store.ListingQuery{Now: now}); got != "" {
		t.Errorf("after prune: %q", got)
	}
}

// Relay follows are recorded with their Follow and answered by id; an
// object is relayed once across activities.
func testRelayFollowsAndSeenObjects(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	f := &store.RelayFollow{Peer: "r1", Actor: "http://r1/actor", Inbox: "http://r1/inbox", FollowID: "http://me/f/1", State: store.Pending}
	if err := db.Apply(ctx, store.Change{Follow: f}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		answer store.RelayFollowAnswer
		want   error
	}{
		{store.RelayFollowAnswer{Peer: "r1", FollowID: "http://me/f/other", State: store.Accepted}, store.ErrNotFound},
		{store.RelayFollowAnswer{Peer: "r2", FollowID: "http://me/f/1", State: store.Accepted}, store.ErrNotFound},
		{store.RelayFollowAnswer{Peer: "r1", FollowID: "http://me/f/1", State: store.Accepted}, nil},
	} {
		if err := db.Apply(ctx, store.Change{FollowAnswer: &tc.answer}); !errors.Is(err, tc.want) {
			t.Errorf("answer %+v: %v, want %v", tc.answer, err, tc.want)
		}
	}
	if fs, _ := db.RelayFollows(ctx); len(fs) != 1 || fs[0].State != store.Accepted {
		t.Errorf("follows = %+v", fs)
	}
	if f, err := db.RelayFollow(ctx, "r1"); err != nil || f.State != store.Accepted || f.Inbox != "http://r1/inbox" {
		t.Errorf("follow of r1 = %+v, %v", f, err)
	}
	if _, err := db.RelayFollow(ctx, "r2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("follow of a relay never followed: %v", err)
	}
	if err := db.Apply(ctx, store.Change{Seen: "a1", SeenObject: "o1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(ctx, store.Change{Seen: "a2", SeenObject: "o1"}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("a second activity sharing o1: %v", err)
	}
	if err := db.Apply(ctx, store.Change{Seen: "a2", SeenObject: "o2"}); err != nil {
		t.Errorf("a2 was marked seen by the refused change: %v", err)
	}
}

// A fan-out whose targets were read before a subscription ended (or was
// rejected) and that commits after it queues nothing for that target; an
// answer to a subscription (ToSubscribers unset) is queued regardless.
func testFanOutSkipsEndedSubscriptions(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	now := time.Now()
	for i, st := range []store.SubscriptionState{store.Accepted, store.Pending, store.Accepted} {
		s := store.Subscriber{Peer: fmt.Sprintf("p%d", i+1), Actor: "http://p/actor", Inbox: "http://p/inbox", FollowID: "f",
			Style: store.Mastodon, State: st, CreatedAt: now, UpdatedAt: now}
		if err := db.Apply(ctx, store.Change{Upsert: &s}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Apply(ctx, store.Change{Remove: &store.SubscriptionKey{Peer: "p3"}}); err != nil {
		t.Fatal(err)
	}
	fanout := msg("post", "p1", "p2", "p3", "p4") // p2 pending, p3 gone, p4 never subscribed
	fanout.ToSubscribers = true
	answer := msg("reject", "p3")
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{fanout, answer}}); err != nil {
		t.Fatal(err)
	}
	ds, err := db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.ActivityID+"→"+d.Peer)
	}
	if strings.Join(got, " ") != "post→p1 reject→p3" {
		t.Fatalf("queued %v, want the post for p1 only and the answer for p3", got)
	}
}

// A peer keeps at most keepPerPeer pinned keys: a new one beyond that
// makes its pins first seen longest ago go, except those a key rule names;
// other peers keep theirs. A first pin never replaces a pin (only a
// rotation, with its audit entry, does), and a rotation of a kept pin
// stays one pin.
func testPinsBoundedPerPeer(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	t0 := time.Unix(1000, 0)
	id := func(peer string, i int) string { return fmt.Sprintf("https://%s/users/u%d#main-key", peer, i) }
	pin := func(peer string, i int, fp string, rotation bool) {
		t.Helper()
		k := store.PinnedKey{KeyID: id(peer, i), Owner: "o", Peer: peer, Fingerprint: fp, FirstSeen: t0.Add(time.Duration(i) * time.Second)}
		var audit *store.AuditEntry
		if rotation {
			k.PreviousFingerprint, k.Rotations, k.RotatedAt = "f", 1, t0.Add(time.Hour)
			audit = &store.AuditEntry{At: t0, Who: "peer:" + peer, What: "key.rotated", Subject: k.KeyID, Source: "peer"}
		}
		if err := db.PinKey(ctx, k, audit, 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Moderate(ctx, store.ModerationChange{Audit: []store.AuditEntry{{Who: "mod", What: "rule.add"}},
		Add: []policy.Rule{{Kind: policy.Key, Subject: id("minting.example", 0), Action: policy.Reject, Source: "manual"}}}); err != nil {
		t.Fatal(err)
	}
	pin("other.example", 0, "f", false)
	for i := range 5 {
		pin("minting.example", i, "f", false)
	}
	pin("minting.example", 3, "unproven", false) // a first pin of a pinned id: ignored
	pin("minting.example", 4, "rotated", true)
	keys, err := db.PinnedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, strings.TrimPrefix(k.KeyID, "https://")+"="+k.Fingerprint)
	}
	want := "minting.example/users/u0#main-key=f minting.example/users/u2#main-key=f minting.example/users/u3#main-key=f " +
		"minting.example/users/u4#main-key=rotated other.example/users/u0#main-key=f"
	if strings.Join(got, " ") != want {
		t.Fatalf("pins = %s\nwant   %s", strings.Join(got, " "), want)
	}
	if k, err := db.PinnedKey(ctx, id("minting.example", 4)); err != nil || k.Rotations != 1 || k.PreviousFingerprint != "f" {
		t.Fatalf("PinnedKey = %+v, %v", k, err)
	}
	if _, err := db.PinnedKey(ctx, id("minting.example", 1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an evicted pin: %v", err)
	}
}

// The summary counts subscriptions by state and those whose every
// delivery failed since before failingSince: since their last success, or
// since they subscribed when none succeeded.
func testSubscriberSummary(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	now := time.Now()
	for _, sub := range []struct {
		peer  string
		state store.SubscriptionState
		since time.Duration
	}{{"old-failing", store.Accepted, 3 * time.Hour}, {"old-fine", store.Accepted, 3 * time.Hour},
		{"new-failing", store.Accepted, 0}, {"waiting", store.Pending, 0}} {
		s := store.Subscriber{Peer: sub.peer, Actor: "http://" + sub.peer + "/actor", Inbox: "http://" + sub.peer + "/inbox",
			FollowID: "f", Style: store.Mastodon, State: sub.state, CreatedAt: now.Add(-sub.since), UpdatedAt: now}
		if err := db.Apply(ctx, store.Change{Upsert: &s}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{msg("a1", "old-failing", "old-fine", "new-failing")}}); err != nil {
		t.Fatal(err)
	}
	// Due from when they were queued, which is after now.
	cl, err := db.Claim(ctx, store.ClaimRequest{Now: time.Now().Add(time.Second), Lease: time.Minute, Limit: 10})
	if err != nil || len(cl.Deliveries) != 3 {
		t.Fatalf("claimed %+v, %v", cl.Deliveries, err)
	}
	var outs []store.Outcome
	for _, d := range cl.Deliveries {
		o := store.Outcome{Delivery: d, At: now, Delivered: d.Peer == "old-fine"}
		if !o.Delivered {
			o.Err, o.NextAttempt = "503", now.Add(time.Minute)
		}
		outs = append(outs, o)
	}
	if err := db.Complete(ctx, outs); err != nil {
		t.Fatal(err)
	}
	sum, err := db.SubscriberSummary(ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sum.ByState[store.Accepted] != 3 || sum.ByState[store.Pending] != 1 || sum.ByState[store.Rejected] != 0 || sum.Failing != 1 {
		t.Errorf("summary = %+v, want 3 accepted, 1 pending, 1 failing (old-failing)", sum)
	}
}

// testSignatureMemory: what a host accepted or refused, per kind, is kept
// across a restart, and a second entry for the same kind replaces the
// first.
func testSignatureMemory(t *testing.T, open Opener) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	for _, e := range []schemes.Entry{
		{Host: "a.example", Kind: httpsig.KindCavage, Accepted: false, Until: until},
		{Host: "a.example", Kind: httpsig.KindRFC9421, Accepted: true, Until: until},
		{Host: "a.example", Kind: httpsig.KindCavage, Accepted: true, Until: until.Add(time.Hour)},
		{Host: "b.example:8443", Kind: httpsig.KindEd25519, Accepted: true, Until: until},
	} {
		if err := db.Signatures().RememberSignature(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db = open(t, dir)
	defer db.Close()
	got, err := db.Signatures().SignatureMemory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]schemes.Entry{
		"a.example cavage":               {Host: "a.example", Kind: httpsig.KindCavage, Accepted: true, Until: until.Add(time.Hour)},
		"a.example rfc9421":              {Host: "a.example", Kind: httpsig.KindRFC9421, Accepted: true, Until: until},
		"b.example:8443 rfc9421-ed25519": {Host: "b.example:8443", Kind: httpsig.KindEd25519, Accepted: true, Until: until},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for _, e := range got {
		w, ok := want[e.Host+" "+string(e.Kind)]
		if !ok || w.Accepted != e.Accepted || !w.Until.Equal(e.Until) {
			t.Fatalf("entry %+v, want %+v", e, w)
		}
	}
	// Pruning forgets what ended.
	if err := db.Prune(ctx, time.Now(), until.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err = db.Signatures().SignatureMemory(ctx)
	if err != nil || len(got) != 1 || got[0].Kind != httpsig.KindCavage {
		t.Fatalf("after pruning at %v: %+v %v", until.Add(time.Minute), got, err)
	}
}

// testLargeFanOut: a message to 85 peers (more than any one statement's
// batch) queues every delivery once, each with its own inbox, and they
// are claimed in the order they were given.
func testLargeFanOut(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	peers := make([]string, 85)
	for i := range peers {
		peers[i] = fmt.Sprintf("p%02d.example", i)
	}
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{msg("a1", peers...)}}); err != nil {
		t.Fatal(err)
	}
	cl, err := db.Claim(ctx, store.ClaimRequest{Now: time.Now().Add(time.Second), Lease: time.Minute, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Deliveries) != len(peers) {
		t.Fatalf("claimed %d deliveries, want %d", len(cl.Deliveries), len(peers))
	}
	for i, d := range cl.Deliveries {
		if d.Peer != peers[i] || d.Inbox != "http://"+peers[i]+"/inbox" || d.ActivityID != "a1" {
			t.Fatalf("delivery %d = %s %s %s, want %s", i, d.Peer, d.Inbox, d.ActivityID, peers[i])
		}
	}
}
