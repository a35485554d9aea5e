package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/relaytest"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
)

// replicaSubscribers is how many subscribers the replica benchmark fans
// out to.
const replicaSubscribers = 250

// BenchmarkReplicas measures signed deliveries per second by 1, 2 and 3
// replicas on one PostgreSQL database, behind a loopback balancer, with
// one relay on SQLite behind the same balancer as the bound (same
// machine, same run). It reports the relay's and the database's CPU per
// delivery: on one 2-core machine more replicas only share the same
// cores, so the figure of interest is what the database costs each
// delivery, which a second machine would not take away.
func BenchmarkReplicas(b *testing.B) {
	srv := pgtest.Server(b)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	var bound float64
	for _, c := range []struct {
		name     string
		replicas int
		postgres bool
	}{{"sqlite", 1, false}, {"postgres/replicas=1", 1, true}, {"postgres/replicas=2", 2, true}, {"postgres/replicas=3", 3, true}} {
		b.Run(c.name, func(b *testing.B) {
			db := ""
			if c.postgres {
				db = srv.Database(b, c.name)
			}
			r := benchReplicas(b, key, db, c.replicas)
			if !c.postgres {
				bound = r.rate
			}
			b.ReportMetric(r.rate, "deliveries/s")
			if bound > 0 {
				b.ReportMetric(r.rate/bound, "ratio")
			}
			fmt.Printf("replicas %s: %d deliveries in %v: %.0f/s (%.2f of SQLite's in this run)\n", c.name, r.want,
				r.wall.Round(time.Millisecond), r.rate, r.rate/bound)
			fmt.Printf("  CPU per delivery: relay %.0f us, database %.0f us (%.0f%% of the CPU spent)\n",
				float64(r.relayCPU.Microseconds())/float64(r.want), float64(r.dbCPU.Microseconds())/float64(r.want),
				100*r.dbCPU.Seconds()/(r.dbCPU+r.relayCPU).Seconds())
		})
	}
}

// replicaRun is one run's figures.
type replicaRun struct {
	want                int64
	wall                time.Duration
	rate                float64
	relayCPU, dbCPU     time.Duration
	deliveredByReplicas []int64
}

// benchReplicas fans out through n replicas on db (SQLite when db is "").
func benchReplicas(b *testing.B, key *rsa.PrivateKey, db string, n int) replicaRun {
	lb := &balancer{down: map[int]bool{}}
	front := httptest.NewServer(lb)
	defer front.Close()
	procs, dataDirs := startBenchReplicas(b, lb, front.URL, db, n)
	var received atomic.Int64
	sinks, err := newCrowd(replicaSubscribers, key, nil, func(string, time.Time) { received.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer sinks.close()
	pub, err := relaytest.New(relaytest.Mastodon, relaytest.Config{Key: key})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	if err := sinks.subscribe(front.URL); err != nil {
		b.Fatal(err)
	}
	subscribeAll(b, front.URL, []*relaytest.Instance{pub})
	nActs := deliveriesPerRun / replicaSubscribers
	var reqs []*requestAndObject
	for range nActs {
		note := pub.Note("", "surplus apples, 40 kg, pick up by Friday", nil)
		req, err := pub.SignedRequest(context.Background(), front.URL+"/inbox", note, relaytest.Signing{})
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, &requestAndObject{req: req})
	}
	runtime.GC()
	procsBefore := runtime.GOMAXPROCS(1)
	relay0, db0 := replicasCPU(procs), postgresCPU()
	start := time.Now()
	b.ResetTimer()
	work := make(chan *requestAndObject)
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for r := range work {
				if status, text, err := pub.Do(r.req); err != nil || status != 202 {
					b.Errorf("publish: %d %s %v", status, text, err)
				}
			}
		})
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	run := replicaRun{want: int64(nActs * replicaSubscribers)}
	deadline := time.Now().Add(15 * time.Minute)
	for received.Load() < run.want {
		if time.Now().After(deadline) || b.Failed() {
			b.Fatalf("only %d of %d deliveries arrived", received.Load(), run.want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	run.wall = time.Since(start)
	runtime.GOMAXPROCS(procsBefore)
	run.relayCPU, run.dbCPU = replicasCPU(procs)-relay0, postgresCPU()-db0
	if db == "" {
		run.dbCPU = 0 // SQLite runs inside the relay
	}
	run.rate = float64(run.want) / run.wall.Seconds()
	if db != "" && n > 1 {
		run.deliveredByReplicas = deliveredByReplicas(dataDirs[0], run.want)
		fmt.Printf("  deliveries by replica: %v\n", run.deliveredByReplicas)
	}
	for _, p := range procs {
		p.kill9(b)
	}
	return run
}

// startBenchReplicas starts n relays with public URL front behind lb, on
// database db (SQLite in their data directories when empty).
func startBenchReplicas(b *testing.B, lb *balancer, front, db string, n int) (procs []*proc, dataDirs []string) {
	for range n {
		dir := b.TempDir()
		dataDirs = append(dataDirs, filepath.Join(dir, "data"))
		addr := freeAddr(b)
		args := []string{"--listen", addr, "--public-url", front, "--data", filepath.Join(dir, "data")}
		if db != "" {
			args = append(args, "--database", db)
		}
		procs = append(procs, startServe(b, dir, "http://"+addr, []string{"RUNRIG_ALLOW_PRIVATE_NETWORKS=true",
			"RUNRIG_LOG_LEVEL=warn", "RUNRIG_INBOUND_RATE=1000000", "RUNRIG_INBOUND_BURST=1000000"}, args...))
		lb.add("http://" + addr)
	}
	return procs, dataDirs
}

// deliveredByReplicas asks `admin replicas` how many deliveries each
// replica made, until their heartbeats account for want (or a minute
// passes).
func deliveredByReplicas(data string, want int64) []int64 {
	deadline := time.Now().Add(time.Minute)
	for {
		var st struct{ Replicas []struct{ Delivered int64 } }
		out, err := runCLIErr("admin", "--data", data, "replicas", "--json")
		if err == nil && json.Unmarshal([]byte(out), &st) == nil {
			var by []int64
			var sum int64
			for _, r := range st.Replicas {
				by = append(by, r.Delivered)
				sum += r.Delivered
			}
			if sum >= want || time.Now().After(deadline) {
				return by
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// replicasCPU sums the CPU the replicas used.
func replicasCPU(procs []*proc) time.Duration {
	var sum time.Duration
	for _, p := range procs {
		sum += procCPU(p.cmd.Process.Pid)
	}
	return sum
}

// postgresCPU sums the CPU of every running PostgreSQL process (the test
// cluster's server and its backends).
func postgresCPU() time.Duration {
	entries, _ := os.ReadDir("/proc")
	var sum time.Duration
	for _, e := range entries {
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		var pid int
		fmt.Sscan(e.Name(), &pid)
		sum += procCPU(pid)
	}
	return sum
}
