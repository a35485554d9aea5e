package discovery

import (
	"context"
	"fmt"
	"math"
	"net"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// Targets of the discovery benchmarks (issue: loopback, 50 nodes).
const (
	targetLookupP99   = time.Second
	targetHeapPerNode = 1 << 20
	targetConvergence = 10 * time.Second
	// convergeLimit is when the gossip benchmark gives up: memberlist's
	// push/pull, which repairs lost gossip, runs every 60 s at 50 nodes.
	convergeLimit = 3 * time.Minute
)

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(math.Ceil(p*float64(len(d))))-1)]
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkDHTLookup starts 50 DHT nodes on loopback, then, again and
// again, a new node that joins, publishes its record and is looked for by
// a random existing node. It reports the time from the start of the
// publication until a lookup finds and verifies the record, and the
// lookup alone (p50/p99), against the 1 s target; and the heap each node
// holds, against 1 MiB.
func BenchmarkDHTLookup(b *testing.B) {
	const n, trials = 50, 20
	ring := &keyring{keys: map[string]AssertionKey{}}
	before := heapAlloc()
	nodes := startDHTNetwork(b, n, ring)
	heap := float64(heapAlloc()-before) / n
	ctx := context.Background()
	var found, lookups []time.Duration
	for i := 0; i < trials; i++ {
		nd := newDHTNode(b, ring, fmt.Sprintf("new%02d.example", i), nodes[i%n].d.Addrs()[0])
		region := fmt.Sprintf("trial-%d", i)
		start := time.Now()
		if err := nd.d.Publish(ctx, nd.sign(b, nd.record(1, start, time.Hour, []string{region}), nd.priv)); err != nil {
			b.Fatal(err)
		}
		seeker := nodes[(i*7+3)%n]
		for {
			ls := time.Now()
			recs, err := seeker.d.Lookup(ctx, region, "")
			if err != nil {
				b.Fatal(err)
			}
			if hasDomain(recs, nd.domain) {
				lookups = append(lookups, time.Since(ls))
				found = append(found, time.Since(start))
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("%s not found after a minute", nd.domain)
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i] < found[j] })
	sort.Slice(lookups, func(i, j int) bool { return lookups[i] < lookups[j] })
	b.ReportMetric(float64(percentile(found, .5).Milliseconds()), "publish-to-found-p50-ms")
	b.ReportMetric(float64(percentile(found, .99).Milliseconds()), "publish-to-found-p99-ms")
	b.ReportMetric(float64(percentile(lookups, .5).Milliseconds()), "lookup-p50-ms")
	b.ReportMetric(float64(percentile(lookups, .99).Milliseconds()), "lookup-p99-ms")
	b.ReportMetric(float64(percentile(found, .99))/float64(targetLookupP99), "p99/target")
	b.ReportMetric(heap/(1<<10), "heap-KiB/node")
	b.ReportMetric(heap/targetHeapPerNode, "heap/target")
}

// BenchmarkGossipConvergence starts 50 memberlist nodes on loopback with
// the default (lan) timing, then 20 new members one at a time, and reports
// the distribution of how long until every node lists the new member as
// alive and holds its verified announcement, against the 10 s target, and
// how many announcements were asked for because gossip missed a node.
func BenchmarkGossipConvergence(b *testing.B) {
	const n, trials = 50, 20
	ring := &keyring{keys: map[string]AssertionKey{}}
	var nodes []*node
	start := func(i int, announced bool) *node {
		d := fmt.Sprintf("gossip%02d.example", i)
		priv := ring.add(d)
		// The announcement names the member's gossip address, as a relay's does.
		nd := &node{domain: d, priv: priv, dir: NewDirectory(), addr: freeGossipAddr(b)}
		cfg := GossipConfig{Name: d, Bind: nd.addr, Profile: "lan"}
		if announced {
			cfg.Announcement = announce(b, nd, 1, priv)
		}
		if len(nodes) > 0 {
			cfg.Join = []string{nodes[0].g.Addr()}
		}
		g, err := StartGossip(cfg, NewVerifier(ring).Verify, nd.dir)
		if err != nil {
			b.Fatal(err)
		}
		nd.g = g
		b.Cleanup(func() { g.Shutdown() })
		return nd
	}
	for i := 0; i < n; i++ {
		nodes = append(nodes, start(i, true)) // every relay announces itself
	}
	var times []time.Duration
	for i := 0; i < trials; i++ {
		t0 := time.Now()
		nd := start(n+i, true)
		late := false
		for {
			if !late && time.Since(t0) > targetConvergence {
				late = true
				lack := lacking(nodes, nd)
				b.Logf("%s not known everywhere after %v: %s", nd.domain, targetConvergence, lack)
			}
			all := true
			for _, o := range nodes {
				if _, ok := o.dir.Get(nd.domain); !ok || !o.g.HasMember(nd.domain) {
					all = false
					break
				}
			}
			if all {
				break
			}
			if time.Since(t0) > convergeLimit {
				b.Fatalf("%s not known everywhere after %v: %s", nd.domain, convergeLimit, lacking(nodes, nd))
			}
			time.Sleep(10 * time.Millisecond)
		}
		times = append(times, time.Since(t0))
		nodes = append(nodes, nd)
	}
	b.Logf("convergence of each new member, in order: %v", times)
	var wants int64
	over := 0
	var joins, pulls int64
	for _, nd := range nodes {
		r := nd.g.Repairs()
		wants, joins, pulls = wants+r.Asked, joins+r.Joined, pulls+r.Pulled
	}
	for _, d := range times {
		if d > targetConvergence {
			over++
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(percentile(times, .5).Milliseconds()), "converge-p50-ms")
	b.ReportMetric(float64(percentile(times, .9).Milliseconds()), "converge-p90-ms")
	b.ReportMetric(float64(times[len(times)-1].Milliseconds()), "converge-max-ms")
	b.ReportMetric(float64(times[len(times)-1])/float64(targetConvergence), "max/target")
	b.ReportMetric(float64(over), "joins-over-target")
	b.ReportMetric(float64(wants), "announcements-asked")
	b.ReportMetric(float64(joins), "members-joined-directly")
	b.ReportMetric(float64(pulls), "state-pulls-over-digests")
}

// lacking says which nodes lack the new member's announcement or its
// membership, and whether they asked the member for its announcement.
func lacking(nodes []*node, nd *node) string {
	var out []string
	for _, o := range nodes {
		_, rec := o.dir.Get(nd.domain)
		member := o.g.HasMember(nd.domain)
		if !rec || !member {
			out = append(out, fmt.Sprintf("%s (announcement %v, member %v, asked %d, pulled %d)", o.domain, rec, member, o.g.Repairs().Asked, o.g.Repairs().Pulled))
		}
	}
	return strings.Join(out, "; ")
}

// freeGossipAddr is a loopback address whose port is free for both UDP
// and TCP now.
func freeGossipAddr(tb testing.TB) string {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	tb.Fatal("no free port for both UDP and TCP")
	return ""
}
