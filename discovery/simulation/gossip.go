package simulation

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	gometrics "github.com/hashicorp/go-metrics"

	"github.com/runrig/runrig/discovery"
)

// convergeLimit is how long a gossip run waits for a new member to be
// known everywhere before it gives up on it.
const convergeLimit = 3 * time.Minute

// GossipPoint is what a gossip cluster of N relays cost.
type GossipPoint struct {
	N int
	// Start is how long the cluster took to form: every member listing
	// every other with its verified announcement.
	Start time.Duration
	// ConvergeP50 and ConvergeMax are how long until every member knew a
	// new member, with its verified announcement.
	ConvergeP50, ConvergeMax time.Duration
	// HeapPerNode is the live heap each member holds, bytes.
	HeapPerNode float64
	// MessagesPerHour and BytesPerHour are one member's sent traffic in
	// an hour of steady state (probes, gossip, state exchanges), measured
	// over the run's window.
	MessagesPerHour, BytesPerHour float64
	// Asked and Joined count the repairs of missed gossip (gossiprepair).
	Asked, Joined int64
}

// traffic reads memberlist's own counters of sent messages and bytes, for
// every member of the process. memberlist reports to go-metrics' global
// sink: one meter per process.
type traffic struct{ sink *gometrics.InmemSink }

var (
	meterOnce sync.Once
	meter     traffic
)

func processTraffic() traffic {
	meterOnce.Do(func() {
		sink := gometrics.NewInmemSink(24*time.Hour, 48*time.Hour)
		cfg := gometrics.DefaultConfig("")
		cfg.EnableHostname, cfg.EnableRuntimeMetrics, cfg.EnableServiceLabel = false, false, false
		gometrics.NewGlobal(cfg, sink)
		meter = traffic{sink: sink}
	})
	return meter
}

// sent is the messages and bytes sent so far by every member.
func (t traffic) sent() (msgs, bytes float64) {
	for _, iv := range t.sink.Data() {
		iv.RLock()
		for k, v := range iv.Counters {
			if strings.Contains(k, "memberlist.udp.sent") || strings.Contains(k, "memberlist.tcp.sent") {
				msgs, bytes = msgs+float64(v.Count), bytes+v.Sum
			}
		}
		iv.RUnlock()
	}
	return msgs, bytes
}

// gossipRelay is one simulated relay of the cluster.
type gossipRelay struct {
	domain string
	dir    *discovery.Directory
	g      *discovery.Gossip
}

// RunGossip forms a cluster of n members on loopback with memberlist's
// lan timing, each announcing itself; measures its steady traffic over
// window; then adds trials new members one at a time and measures how
// long each takes to be known everywhere. Everything is shut down before
// it returns.
func RunGossip(ctx context.Context, n, trials int, window time.Duration) (GossipPoint, error) {
	p := GossipPoint{N: n}
	ring, meter := newKeyring(), processTraffic()
	var members []*gossipRelay
	defer func() {
		for _, m := range members {
			m.g.Shutdown()
		}
	}()
	before := heapInUse()
	t0 := time.Now()
	members, err := formCluster(ctx, ring, n, memberOptions{})
	if err != nil {
		return p, err
	}
	p.Start = time.Since(t0)
	p.HeapPerNode = float64(heapInUse()-before) / float64(n)
	m0, b0 := meter.sent()
	select {
	case <-ctx.Done():
		return p, ctx.Err()
	case <-time.After(window):
	}
	m1, b1 := meter.sent()
	perHour := float64(time.Hour) / float64(window) / float64(n)
	p.MessagesPerHour, p.BytesPerHour = (m1-m0)*perHour, (b1-b0)*perHour
	var times []time.Duration
	for i := range trials {
		t := time.Now()
		m, err := startMember(ring, fmt.Sprintf("joiner%04d.example", i), members, memberOptions{})
		if err != nil {
			return p, err
		}
		d, err := converge(ctx, members, m, t)
		members = append(members, m)
		if err != nil {
			return p, err
		}
		times = append(times, d)
	}
	p.ConvergeP50, p.ConvergeMax = percentile(times, .5), percentile(times, 1)
	for _, m := range members {
		r := m.g.Repairs()
		p.Asked, p.Joined = p.Asked+r.Asked, p.Joined+r.Joined
	}
	return p, nil
}

// memberOptions are what the churn and partition scenarios change in a
// member; the zero value is a member as RunGossip starts it.
type memberOptions struct {
	// reconnect is GossipConfig.ReconnectInterval (0: the default).
	reconnect time.Duration
	// cut, when set, carries the member's traffic over a transport that
	// the scenario can cut in two (partition.go).
	cut *cut
	// used, when set, holds the addresses members of the run had: a new
	// member never takes a departed one's, which would answer for it.
	used map[string]bool
}

// formCluster starts n members, each joining through the first, and waits
// until every member lists every other with its verified announcement. It
// returns the members started, also on failure (to shut them down).
func formCluster(ctx context.Context, ring *keyring, n int, opts memberOptions) ([]*gossipRelay, error) {
	var members []*gossipRelay
	for i := range n {
		m, err := startMember(ring, fmt.Sprintf("member%04d.example", i), members, opts)
		if err != nil {
			return members, err
		}
		members = append(members, m)
	}
	for _, m := range members {
		if _, err := converge(ctx, members, m, time.Now()); err != nil {
			return members, err
		}
	}
	return members, nil
}

// memberRecord is the announcement of a simulated member at gossip
// address addr, valid for DefaultValidity from now.
func memberRecord(domain, addr string, seq uint64, now time.Time) discovery.Record {
	return discovery.Record{Domain: domain, Actor: "https://" + domain + "/actor", Inbox: "https://" + domain + "/inbox",
		Software: "runrig simulation", Regions: []string{"it-bg"}, Seq: seq, Issued: now,
		Expires: now.Add(discovery.DefaultValidity), Gossip: addr}
}

// startMember starts a member announcing itself, joining through the
// first of members (if any).
func startMember(ring *keyring, domain string, members []*gossipRelay, opts memberOptions) (*gossipRelay, error) {
	priv := ring.add(domain)
	addr, err := memberAddr(opts.used)
	if err != nil {
		return nil, err
	}
	signed, err := sign(memberRecord(domain, addr, 1, time.Now()), priv)
	if err != nil {
		return nil, err
	}
	cfg := discovery.GossipConfig{Name: domain, Bind: addr, Profile: "lan", Announcement: signed,
		ReconnectInterval: opts.reconnect}
	if len(members) > 0 {
		cfg.Join = []string{members[0].g.Addr()}
	}
	if opts.cut != nil {
		t, err := newCutTransport(opts.cut, addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", domain, err)
		}
		cfg.Transport = t
	}
	dir := discovery.NewDirectory()
	g, err := discovery.StartGossip(cfg, discovery.NewVerifier(ring).Verify, dir)
	if err != nil {
		if cfg.Transport != nil {
			cfg.Transport.Shutdown()
		}
		return nil, fmt.Errorf("%s: %w", domain, err)
	}
	return &gossipRelay{domain: domain, dir: dir, g: g}, nil
}

// memberAddr is a free loopback address not among used, when given, and
// adds it there.
func memberAddr(used map[string]bool) (string, error) {
	for range 100 {
		addr, err := freeAddr()
		if err != nil || used == nil {
			return addr, err
		}
		if !used[addr] {
			used[addr] = true
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port that no earlier member had")
}

// converge waits until every one of members lists m and holds its
// verified announcement, and returns the time since t.
func converge(ctx context.Context, members []*gossipRelay, m *gossipRelay, t time.Time) (time.Duration, error) {
	for {
		all := true
		for _, o := range members {
			if o == m {
				continue
			}
			if e, ok := o.dir.Get(m.domain); !ok || !e.Verified || !o.g.HasMember(m.domain) {
				all = false
				break
			}
		}
		if all {
			return time.Since(t), nil
		}
		if time.Since(t) > convergeLimit {
			return 0, fmt.Errorf("%s not known everywhere after %v", m.domain, convergeLimit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freeAddr is a loopback address whose port is free for both UDP and TCP
// now.
func freeAddr() (string, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port for both UDP and TCP")
}
