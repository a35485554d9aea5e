package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// Federate follows verified relays the rules accept, never itself, and
// drops its follows of relays the rules now block or limit.
func TestFederate(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	dir := discovery.NewDirectory()
	for _, d := range []string{"self.example", "open.example", "blocked.example", "limited.example"} {
		dir.Put(discovery.Record{Domain: d, Actor: "https://" + d + "/actor", Inbox: "https://" + d + "/inbox",
			Expires: now.Add(time.Hour)}, nil, discovery.SourceManual, now)
	}
	// This relay followed gone.example before the rules blocked it.
	if err := db.Apply(ctx, store.Change{Follow: &store.RelayFollow{Peer: "gone.example", Actor: "https://gone.example/actor",
		Inbox: "https://gone.example/inbox", FollowID: "https://self.example/activities/1", State: store.Accepted}}); err != nil {
		t.Fatal(err)
	}
	rules := map[string]policy.Action{"blocked.example": policy.Suspend, "limited.example": policy.Limit, "gone.example": policy.Suspend}
	notified := 0
	ids := 1
	s := New(Config{
		Host: "self.example", ActorID: "https://self.example/actor", KeyID: "https://self.example/actor#main-key",
		NewID: func() string { ids++; return "https://self.example/activities/" + strconv.Itoa(ids) },
		Judge: func(subj policy.Subject) policy.Decision {
			if a, ok := rules[subj.Peer]; ok {
				return policy.Decision{Action: a}
			}
			return policy.Decision{Action: policy.Accept}
		},
		Notify: func() { notified++ },
		Store:  db, Directory: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := s.Federate(ctx); err != nil {
		t.Fatal(err)
	}
	follows, err := db.RelayFollows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range follows {
		got = append(got, f.Peer+":"+string(f.State))
	}
	// The dispatcher is woken for the Follow of open.example and the Undo
	// to gone.example.
	if len(got) != 1 || got[0] != "open.example:pending" || notified != 2 {
		t.Errorf("follows after Federate = %v (dispatcher notified %d times), want [open.example:pending], notified twice", got, notified)
	}
	// A second run follows nothing new.
	if err := s.Federate(ctx); err != nil {
		t.Fatal(err)
	}
	if notified != 2 {
		t.Errorf("a second Federate queued another Follow")
	}
}

// fixture is a federation service over a real SQLite store, with the
// rules, the directory and the clock in the test's hands.
type fixture struct {
	db    *sqlite.DB
	dir   *discovery.Directory
	rules map[string]policy.Action
	now   time.Time
	logs  *syncBuffer
	s     *Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fx := &fixture{db: db, dir: discovery.NewDirectory(), rules: map[string]policy.Action{}, now: time.Now(), logs: &syncBuffer{}}
	ids := 100
	fx.s = New(Config{
		Host: "self.example", ActorID: "https://self.example/actor", KeyID: "https://self.example/actor#main-key",
		NewID: func() string { ids++; return "https://self.example/activities/" + strconv.Itoa(ids) },
		Judge: func(subj policy.Subject) policy.Decision {
			if a, ok := fx.rules[subj.Peer]; ok {
				return policy.Decision{Action: a}
			}
			return policy.Decision{Action: policy.Accept}
		},
		Notify: func() {},
		Now:    func() time.Time { return fx.now },
		Store:  db, Directory: fx.dir, Log: slog.New(slog.NewTextHandler(fx.logs, nil)),
	})
	return fx
}

// follow records an accepted follow of the relay at domain, in the
// directory or not.
func (fx *fixture) follow(t *testing.T, domain string, listed bool) store.RelayFollow {
	t.Helper()
	f := store.RelayFollow{Peer: domain, Actor: "https://" + domain + "/actor", Inbox: "https://" + domain + "/inbox",
		FollowID: "https://self.example/follows/" + domain, State: store.Accepted}
	if err := fx.db.Apply(context.Background(), store.Change{Follow: &f}); err != nil {
		t.Fatal(err)
	}
	if listed {
		fx.dir.Put(discovery.Record{Domain: domain, Actor: f.Actor, Inbox: f.Inbox, Expires: fx.now.Add(365 * 24 * time.Hour)},
			nil, discovery.SourceManual, fx.now)
	}
	return f
}

func (fx *fixture) federate(t *testing.T) {
	t.Helper()
	if err := fx.s.Federate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// followed lists the relays followed.
func (fx *fixture) followed(t *testing.T) []string {
	t.Helper()
	follows, err := fx.db.RelayFollows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range follows {
		out = append(out, f.Peer)
	}
	return out
}

// queued returns the bodies queued for delivery, by inbox, and checks
// each is signed as the relay actor.
func (fx *fixture) queued(t *testing.T) map[string][]byte {
	t.Helper()
	cl, err := fx.db.Claim(context.Background(), store.ClaimRequest{Now: fx.now.Add(365 * 24 * time.Hour), Lease: time.Minute, Limit: 100, Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, d := range cl.Deliveries {
		if d.KeyID != "https://self.example/actor#main-key" || d.Slice != store.FarewellSlice {
			t.Errorf("delivery to %s signed with %q for slice %q, want the relay actor's key, as a farewell", d.Inbox, d.KeyID, d.Slice)
		}
		out[d.Inbox] = cl.Bodies[d.PayloadID]
	}
	return out
}

// checkUndo checks that body is the relay actor's Undo of follow f,
// addressed to the followed relay.
func checkUndo(t *testing.T, f store.RelayFollow, body []byte) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("Undo to %s: %v (%s)", f.Peer, err, body)
	}
	id, _ := got["id"].(string)
	if !strings.HasPrefix(id, "https://self.example/activities/") {
		t.Errorf("Undo to %s has id %q, want a fresh one", f.Peer, id)
	}
	delete(got, "id")
	want := map[string]any{
		"@context": []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"},
		"type":     "Undo", "actor": "https://self.example/actor", "to": []any{f.Actor},
		"object": map[string]any{"id": f.FollowID, "type": "Follow", "actor": "https://self.example/actor",
			"object": "https://www.w3.org/ns/activitystreams#Public"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Undo to %s = %s, want (with a fresh id) %v", f.Peer, body, want)
	}
}

// Dropping the follow of a relay the rules now block or limit queues,
// with the drop, the Undo of its Follow to the relay's inbox.
func TestFederateUndoesRefusedFollow(t *testing.T) {
	fx := newFixture(t)
	blocked, limited := fx.follow(t, "blocked.example", true), fx.follow(t, "limited.example", true)
	fx.follow(t, "open.example", true)
	fx.rules["blocked.example"], fx.rules["limited.example"] = policy.Suspend, policy.Limit
	fx.federate(t)
	if got := fx.followed(t); len(got) != 1 || got[0] != "open.example" {
		t.Errorf("followed after Federate = %v, want [open.example]", got)
	}
	q := fx.queued(t)
	if len(q) != 2 {
		t.Fatalf("queued deliveries to %d inboxes, want 2 (the Undos): %v", len(q), q)
	}
	for _, f := range []store.RelayFollow{blocked, limited} {
		checkUndo(t, f, q[f.Inbox])
	}
}

// A followed relay missing from the directory is unfollowed, with an
// Undo, once it has been missing for VanishedAfter, and logged once. The
// wait counts from when the service first found it missing: a directory
// empty after a restart drops nothing.
func TestFederateUnfollowsVanishedRelay(t *testing.T) {
	fx := newFixture(t)
	gone := fx.follow(t, "gone.example", false)
	fx.follow(t, "here.example", true)
	start := fx.now
	fx.now = start.Add(30 * 24 * time.Hour) // the follow is old; the service just started
	fx.federate(t)
	fx.now = fx.now.Add(VanishedAfter - time.Minute)
	fx.federate(t)
	if got := fx.followed(t); len(got) != 2 {
		t.Fatalf("followed after %v missing = %v, want both still", VanishedAfter-time.Minute, got)
	}
	if q := fx.queued(t); len(q) != 0 {
		t.Fatalf("queued before the grace period ended: %v", q)
	}
	fx.now = fx.now.Add(2 * time.Minute)
	fx.federate(t)
	fx.federate(t)
	if got := fx.followed(t); len(got) != 1 || got[0] != "here.example" {
		t.Errorf("followed after %v missing = %v, want [here.example]", VanishedAfter+time.Minute, got)
	}
	q := fx.queued(t)
	if len(q) != 1 {
		t.Fatalf("queued deliveries to %d inboxes, want 1 (the Undo): %v", len(q), q)
	}
	checkUndo(t, gone, q[gone.Inbox])
	if n := strings.Count(fx.logs.String(), "gone from the directory"); n != 1 {
		t.Errorf("the unfollow was logged %d times, want once:\n%s", n, fx.logs)
	}
}

// A relay back in the directory before VanishedAfter keeps its follow,
// and a later absence counts from the start again.
func TestFederateKeepsRelayBackInDirectory(t *testing.T) {
	fx := newFixture(t)
	fx.follow(t, "flaky.example", false)
	fx.federate(t)
	fx.now = fx.now.Add(VanishedAfter - time.Hour)
	fx.dir.Put(discovery.Record{Domain: "flaky.example", Actor: "https://flaky.example/actor", Inbox: "https://flaky.example/inbox",
		Expires: fx.now.Add(time.Hour)}, nil, discovery.SourceGossip, fx.now)
	fx.federate(t)
	fx.dir.Prune(fx.now.Add(48 * time.Hour)) // expired and removed again
	fx.federate(t)
	fx.now = fx.now.Add(2 * time.Hour)
	fx.federate(t)
	if got := fx.followed(t); len(got) != 1 {
		t.Errorf("followed = %v, want flaky.example still: it was seen %v ago", got, 2*time.Hour)
	}
	fx.now = fx.now.Add(VanishedAfter)
	fx.federate(t)
	if got := fx.followed(t); len(got) != 0 {
		t.Errorf("followed = %v, want flaky.example dropped: it was seen %v ago", got, VanishedAfter+2*time.Hour)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
