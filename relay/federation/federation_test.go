package federation

import (
	"context"
	"io"
	"log/slog"
	"strconv"
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
	if len(got) != 1 || got[0] != "open.example:pending" || notified != 1 {
		t.Errorf("follows after Federate = %v (dispatcher notified %d times), want [open.example:pending] once", got, notified)
	}
	// A second run follows nothing new.
	if err := s.Federate(ctx); err != nil {
		t.Fatal(err)
	}
	if notified != 1 {
		t.Errorf("a second Federate queued another Follow")
	}
}
