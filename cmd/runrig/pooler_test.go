package main

import (
	"context"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/relaytest"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
)

// Two replicas reaching the database through a transaction-mode PgBouncer,
// where LISTEN carries nothing, are still one relay: both deliver, and a
// block made on one reaches the other through the audit-log poll.
func TestReplicasBehindPooler(t *testing.T) {
	rs := startReplicas(t, pgtest.Pooler(t), 2)
	pub, blocked := newInstance(t), newInstance(t)
	subs := []*relaytest.Instance{newInstance(t), newInstance(t), newInstance(t)}
	for _, in := range append([]*relaytest.Instance{pub, blocked}, subs...) {
		follow(t, in, rs.url)
	}
	if st := rs.status(t, 1); len(st.Replicas) != 2 {
		t.Fatalf("admin replicas lists %d replicas: %+v", len(st.Replicas), st)
	}
	all := publish(t, pub, rs.url, 8, "offer")
	waitAll(t, append(subs, blocked), all, "every subscriber gets every activity")

	// Only replica 1 takes requests; the block is made on replica 0.
	rs.lb.setDown(0)
	runCLI(t, "admin", "--data", rs.dirs[0], "block", blocked.Host(), "--reason", "test")
	waitFor(t, "replica 1 to refuse the blocked peer", 30*time.Second, func() bool {
		status, _, err := blocked.Post(context.Background(), rs.url+"/inbox", blocked.Note("", "still here?", nil))
		return err == nil && status == 403
	})
	after := publish(t, pub, rs.url, 4, "after the block")
	waitAll(t, subs, append(all, after...), "deliveries after the block")
	got := announcedObjects(blocked)
	for _, id := range after {
		if got[id] > 0 {
			t.Errorf("the blocked subscriber got %s, published after the block", id)
		}
	}
}
