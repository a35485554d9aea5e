package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/postgres"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// claimBatch is the dispatcher's claim size (delivery.DefaultConfig).
const claimBatch = 256

// BenchmarkClaims measures the queue alone, SQLite against PostgreSQL:
// deliveries claimed and recorded as delivered per second, in the
// dispatcher's batches of 256 over 2,000 peers, and, as the bound
// measured in the same run on the same database, empty write
// transactions per second (each claim and each record is one
// transaction). The ratio is deliveries per transaction-time.
func BenchmarkClaims(b *testing.B) {
	srv := pgtest.Server(b)
	ctx := context.Background()
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var st store.Store
			var err error
			if backend == "sqlite" {
				st, err = sqlite.Open(ctx, b.TempDir())
			} else {
				st, err = postgres.Open(ctx, srv.Database(b, "claims"))
			}
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			commits := commitRate(b, st)
			const peers, perPeer = 2000, 10
			msg := store.Message{ActivityID: "a", Body: []byte(`{"type":"Announce"}`), At: time.Now().Add(-time.Second)}
			for i := range peers {
				p := fmt.Sprintf("p%d.example", i)
				msg.Targets = append(msg.Targets, store.Target{Peer: p, Inbox: "https://" + p + "/inbox"})
			}
			for range perPeer {
				if err := st.Apply(ctx, store.Change{Messages: []store.Message{msg}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start, done := time.Now(), 0
			for {
				cl, err := st.Claim(ctx, store.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: claimBatch, Owner: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				if len(cl.Deliveries) == 0 {
					break
				}
				outs := make([]store.Outcome, len(cl.Deliveries))
				for i, d := range cl.Deliveries {
					outs[i] = store.Outcome{Delivery: d, At: time.Now(), Delivered: true}
				}
				if err := st.Complete(ctx, outs); err != nil {
					b.Fatal(err)
				}
				done += len(outs)
			}
			b.StopTimer()
			if done != peers*perPeer {
				b.Fatalf("claimed %d of %d", done, peers*perPeer)
			}
			rate := float64(done) / time.Since(start).Seconds()
			b.ReportMetric(rate, "deliveries/s")
			b.ReportMetric(commits, "empty-tx/s")
			b.ReportMetric(rate/commits, "ratio")
			fmt.Printf("claims %s: %.0f deliveries/s claimed and recorded in batches of %d; empty write transactions %.0f/s; ratio %.1f\n",
				backend, rate, claimBatch, commits, rate/commits)
		})
	}
}

// commitRate measures empty write transactions per second on st (an
// Apply with nothing in it).
func commitRate(b *testing.B, st store.Store) float64 {
	ctx := context.Background()
	start, n := time.Now(), 0
	for time.Since(start) < time.Second {
		if err := st.Apply(ctx, store.Change{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}
