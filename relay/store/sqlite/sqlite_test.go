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
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func msg(id string, peers ...string) store.Message {
	m := store.Message{ActivityID: id, Body: []byte(`{"id":"` + id + `"}`)}
	for _, p := range peers {
		m.Targets = append(m.Targets, store.Target{Peer: p, Inbox: "http://" + p + "/inbox"})
	}
	return m
}

func TestApplyDedupesAtomically(t *testing.T) {
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

func TestClaimLeaseCompleteAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{msg("a1", "p1", "p2", "p3")}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cl, err := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, ExcludePeers: []string{"p3"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Deliveries) != 2 || len(cl.Bodies) != 1 {
		t.Fatalf("claimed %d deliveries, %d bodies", len(cl.Deliveries), len(cl.Bodies))
	}
	if cl.Deliveries[0].ActivityID != "a1" || string(cl.Bodies[cl.Deliveries[0].PayloadID]) != `{"id":"a1"}` {
		t.Fatalf("claimed %+v", cl)
	}
	again, _ := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10})
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

	// A new process: leases from the old one are released.
	db = open(t, dir)
	defer db.Close()
	cl, _ = db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10})
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
	if n, err := db.RetryDead(ctx, nil, now); err != nil || n != 1 {
		t.Fatalf("RetryDead = %d, %v", n, err)
	}
	depth, _ := db.QueueDepth(ctx)
	if depth[store.Dead] != 0 || depth[store.Retrying] != 1 {
		t.Fatalf("depth = %v", depth)
	}
}

func TestLockedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	defer db.Close()
	if _, err := Open(context.Background(), dir); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open = %v", err)
	}
}

func TestSubscribersAndRemove(t *testing.T) {
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

func TestSettingsAndSchema(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	if _, err := db.Setting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	v, _ := db.InitSetting(ctx, "k", "one")
	v2, _ := db.InitSetting(ctx, "k", "two")
	if v != "one" || v2 != "one" {
		t.Fatalf("InitSetting = %q, %q", v, v2)
	}
	if n, _ := db.SchemaVersion(ctx); n != SchemaVersion {
		t.Fatalf("schema version %d, want %d", n, SchemaVersion)
	}
}

// Updates never resurrect a subscription that was removed meanwhile, and
// a failed update leaves the whole change unapplied.
func TestUpdatesDoNotResurrect(t *testing.T) {
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

func TestListingIndex(t *testing.T) {
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

// A store of the previous schema version, holding what it could (a
// subscription, a queued delivery, and the duplicate rules two list syncs
// at once could leave), is migrated to the current one: what it held is
// kept, the duplicates go, and what the new version adds works.
func TestMigrateFromPreviousVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	prev := SchemaVersion - 1
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
		`INSERT INTO rules(id, kind, subject, action, source, created_at, author) VALUES
			(1, 'domain', 'spam.example', 'suspend', 'list:a', 1, 'list:a'),
			(2, 'domain', 'spam.example', 'suspend', 'list:a', 1, 'list:a'),
			(3, 'domain', 'spam.example', 'suspend', 'list:b', 1, 'list:b'),
			(4, 'domain', 'spam.example', 'limit', 'manual', 1, 'mod'),
			(5, 'domain', 'ads.example', 'limit', 'list:a', 1, 'list:a')`,
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
	if fmt.Sprint(ids) != "[1 4 5]" {
		t.Fatalf("rules after migration %v, want the first list rule per domain and the manual one: [1 4 5]", ids)
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

// Relay follows are recorded with their Follow and answered by id; an
// object is relayed once across activities.
func TestRelayFollowsAndSeenObjects(t *testing.T) {
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

// A fan-out whose targets were read before a subscription ended (or was
// rejected) and that commits after it queues nothing for that target; an
// answer to a subscription (ToSubscribers unset) is queued regardless.
func TestFanOutSkipsEndedSubscriptions(t *testing.T) {
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

// A peer keeps at most keepPerPeer pinned keys: a new one beyond that
// makes its pins first seen longest ago go; other peers keep theirs, and
// a rotation of a kept pin stays one pin.
func TestPinsBoundedPerPeer(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	t0 := time.Unix(1000, 0)
	pin := func(peer string, i int, fp string) {
		t.Helper()
		k := store.PinnedKey{KeyID: fmt.Sprintf("https://%s/users/u%d#main-key", peer, i), Owner: "o", Peer: peer,
			Fingerprint: fp, FirstSeen: t0.Add(time.Duration(i) * time.Second)}
		if err := db.PinKey(ctx, k, nil, 3); err != nil {
			t.Fatal(err)
		}
	}
	pin("other.example", 0, "f")
	for i := range 5 {
		pin("minting.example", i, "f")
	}
	pin("minting.example", 4, "rotated")
	keys, err := db.PinnedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, strings.TrimPrefix(k.KeyID, "https://")+"="+k.Fingerprint)
	}
	want := "minting.example/users/u2#main-key=f minting.example/users/u3#main-key=f minting.example/users/u4#main-key=rotated other.example/users/u0#main-key=f"
	if strings.Join(got, " ") != want {
		t.Fatalf("pins = %s\nwant   %s", strings.Join(got, " "), want)
	}
	if k, err := db.PinnedKey(ctx, "https://minting.example/users/u3#main-key"); err != nil || k.Peer != "minting.example" {
		t.Fatalf("PinnedKey = %+v, %v", k, err)
	}
	if _, err := db.PinnedKey(ctx, "https://minting.example/users/u0#main-key"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an evicted pin: %v", err)
	}
}
