package main

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/runrig/runrig/relay/relaytest"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
)

// Notifications are hints: any role that may connect to the database can
// send one. A forged "dropped" for a subscriber that is still subscribed,
// with a cutoff in the year 3000, drops none of its deliveries (found by
// review: every later delivery to it was dropped until restart).
func TestForgedNotificationDropsNothing(t *testing.T) {
	srv := pgtest.Server(t)
	rs := startReplicas(t, srv, 1)
	pub, sub := newInstance(t), newInstance(t)
	follow(t, pub, rs.url)
	follow(t, sub, rs.url)
	first := publish(t, pub, rs.url, 2, "before")
	waitAll(t, []*relaytest.Instance{sub}, first, "deliveries before the forged notification")

	super, err := sql.Open("pgx", os.Getenv(pgtest.Env))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	super.Exec(`DROP ROLE IF EXISTS runrig_test_intruder`)
	if _, err := super.Exec(`CREATE ROLE runrig_test_intruder LOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Exec(`DROP ROLE IF EXISTS runrig_test_intruder`) })
	intruder, err := sql.Open("pgx", strings.Replace(rs.db, "postgres@", "runrig_test_intruder@", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	// The relay slice is "" in the store.
	forged := fmt.Sprintf("dropped %d %s ", int64(32503680000000), sub.Host())
	if _, err := intruder.Exec(`SELECT pg_notify('runrig_changes', $1)`, forged); err != nil {
		t.Fatalf("the intruder's notification: %v", err)
	}
	// Two rounds: the replica hears the notification within
	// milliseconds, long before the second round is published.
	all := first
	for round := range 2 {
		all = append(all, publish(t, pub, rs.url, 3, fmt.Sprintf("after, round %d", round))...)
		waitAll(t, []*relaytest.Instance{sub}, all, "deliveries after the forged notification")
	}
}
