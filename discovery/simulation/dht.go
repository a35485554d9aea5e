package simulation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/metrics"

	"github.com/runrig/runrig/discovery"
)

// regions are the regions the simulated relays serve, in turn.
var regions = []string{"it-bg", "it-mi", "fr-ly", "de-by", "es-ct"}

// DHTPoint is what a DHT network of N relays cost.
type DHTPoint struct {
	N int
	// Start is how long the network took to start and publish.
	Start time.Duration
	// LookupP50 and LookupP99 are a region lookup's time (find the
	// region's advertisers, read and verify each record).
	LookupP50, LookupP99 time.Duration
	// HeapPerNode is the live heap each node holds, bytes.
	HeapPerNode float64
	// PublishBytes, LookupBytes and RefreshBytes are the network's traffic
	// (bytes sent by all nodes) for one publication, one lookup of `all`
	// and one routing-table refresh.
	PublishBytes, LookupBytes, RefreshBytes float64
	// BytesPerHour is one relay's share of the traffic in an hour of its
	// schedule: 6 lookups of `all`, 6 refreshes, 1/12 of a publication.
	BytesPerHour float64
}

// dhtRelay is one simulated relay of the DHT.
type dhtRelay struct {
	domain string
	d      *discovery.DHT
	dir    *discovery.Directory // what its lookups found
}

// RunDHT starts n DHT nodes on loopback, each publishing its announcement,
// then measures lookups (trials of them) and the traffic of each
// operation. With spawn, only perProcess nodes run in this process (those
// that measure) and the rest in other processes of perProcess each.
// Everything is closed before it returns.
func RunDHT(ctx context.Context, n, trials int, spawn Spawn, perProcess int) (DHTPoint, error) {
	p := DHTPoint{N: n}
	ring, bw := newKeyring(), metrics.NewBandwidthCounter()
	local := n
	if spawn != nil && perProcess > 1 {
		local = min(n, perProcess)
	}
	before := heapInUse()
	t0 := time.Now()
	nodes, err := startLocal(ctx, ring, bw, local)
	defer func() {
		for _, nd := range nodes {
			nd.d.Close()
		}
	}()
	if err != nil {
		return p, err
	}
	heap := float64(heapInUse() - before)
	remotes, err := startRemotes(ctx, ring, spawn, nodes, n, perProcess)
	defer func() {
		for _, r := range remotes {
			r.Close()
		}
	}()
	if err != nil {
		return p, err
	}
	p.Start = time.Since(t0)
	for _, r := range remotes {
		heap += r.Heap()
	}
	p.HeapPerNode = heap / float64(n)
	sent := func() float64 {
		total := settled(bw)
		for _, r := range remotes {
			total += r.Sent()
		}
		return total
	}
	return measureDHT(ctx, p, nodes, ring, trials, sent)
}

// startLocal starts n nodes in this process, each joining through an
// earlier one, then publishes their announcements.
func startLocal(ctx context.Context, ring *keyring, bw metrics.Reporter, n int) ([]*dhtRelay, error) {
	nodes := make([]*dhtRelay, 0, n)
	for i := range n {
		var boot []string
		if i > 0 { // each through an earlier relay, as operators pick theirs
			boot = nodes[(i*7919)%i].d.Addrs()[:1]
		}
		nd, err := startDHTRelay(ctx, ring, bw, fmt.Sprintf("relay%04d.example", i), boot)
		if err != nil {
			return nodes, err
		}
		nodes = append(nodes, nd)
	}
	for i, nd := range nodes { // once every node has peers to store at
		if err := publish(ctx, nd, ring.privOf(nd.domain), i%len(regions), 1); err != nil {
			return nodes, err
		}
	}
	return nodes, nil
}

// startRemotes starts the nodes numbered len(local) to n in other
// processes of perProcess each, joining through the local nodes.
func startRemotes(ctx context.Context, ring *keyring, spawn Spawn, local []*dhtRelay, n, perProcess int) ([]Remote, error) {
	var remotes []Remote
	var boot []string
	for _, nd := range local {
		boot = append(boot, nd.d.Addrs()[0])
	}
	for first := len(local); first < n; first += perProcess {
		r, err := spawn(ctx, first, min(perProcess, n-first), boot, ring.put)
		if err != nil {
			return remotes, fmt.Errorf("nodes from %d: %w", first, err)
		}
		remotes = append(remotes, r)
	}
	return remotes, nil
}

// measureDHT measures lookups and the traffic of each operation on the
// local nodes; sent reads the bytes every node sent so far.
func measureDHT(ctx context.Context, p DHTPoint, nodes []*dhtRelay, ring *keyring, trials int, sent func() float64) (DHTPoint, error) {
	n := len(nodes)
	var lookups []time.Duration
	for i := range trials {
		seeker := nodes[(i*7+3)%n]
		ls := time.Now()
		if _, err := seeker.d.Lookup(ctx, regions[i%len(regions)], ""); err != nil {
			return p, fmt.Errorf("lookup: %w", err)
		}
		lookups = append(lookups, time.Since(ls))
	}
	b1 := sent()
	for i := range trials { // what the relay does every 10 minutes
		if _, err := nodes[(i*11+5)%n].d.Lookup(ctx, "", ""); err != nil {
			return p, fmt.Errorf("lookup of all: %w", err)
		}
	}
	b2 := sent()
	refreshes := min(trials, n)
	for i := range refreshes {
		nodes[(i*13+1)%n].d.Refresh()
	}
	b3 := sent()
	for i := range trials {
		nd := nodes[(i*17+2)%n]
		if err := publish(ctx, nd, ring.privOf(nd.domain), i%len(regions), 2); err != nil {
			return p, err
		}
	}
	b4 := sent()
	p.LookupP50, p.LookupP99 = percentile(lookups, .5), percentile(lookups, .99)
	p.LookupBytes = (b2 - b1) / float64(trials)
	p.RefreshBytes = (b3 - b2) / float64(refreshes)
	p.PublishBytes = (b4 - b3) / float64(trials)
	p.BytesPerHour = lookupsPerHour*p.LookupBytes + refreshesPerHour*p.RefreshBytes + publishesPerHour*p.PublishBytes
	return p, nil
}

// meterTick is how often libp2p's bandwidth meters fold what they counted
// into their totals (go-flow-metrics' sweeper: every second).
const meterTick = time.Second

// settled is the bytes sent by this process's nodes so far, read once
// the meters (here and in other processes, which report every
// reportEvery) have folded in what the last operation sent.
func settled(bw *metrics.BandwidthCounter) float64 {
	time.Sleep(2 * meterTick)
	return float64(bw.GetBandwidthTotals().TotalOut)
}

// startDHTRelay starts a DHT node for domain through boot.
func startDHTRelay(ctx context.Context, ring *keyring, bw metrics.Reporter, domain string, boot []string) (*dhtRelay, error) {
	ring.add(domain)
	id, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	cfg := discovery.DHTConfig{Identity: id, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, AllowPrivate: true,
		Bootstrap: boot, Bandwidth: bw}
	v, dir := discovery.NewVerifier(ring), discovery.NewDirectory()
	d, err := discovery.StartDHT(ctx, cfg, v.Verify, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", domain, err)
	}
	return &dhtRelay{domain: domain, d: d, dir: dir}, nil
}

// publish signs and publishes a relay's announcement of region r.
func publish(ctx context.Context, nd *dhtRelay, priv ed25519.PrivateKey, r int, seq uint64) error {
	return publishRecord(ctx, nd, priv, dhtRecord(nd, r, seq, time.Now()))
}

// dhtRecord is a relay's announcement of region r, valid for
// DefaultValidity from now.
func dhtRecord(nd *dhtRelay, r int, seq uint64, now time.Time) discovery.Record {
	return discovery.Record{Domain: nd.domain, Actor: "https://" + nd.domain + "/actor", Inbox: "https://" + nd.domain + "/inbox",
		PeerID: nd.d.PeerID().String(), Addrs: nd.d.Addrs(), Software: "runrig simulation", Regions: []string{regions[r]},
		Kinds: []string{"offers"}, Seq: seq, Issued: now, Expires: now.Add(discovery.DefaultValidity)}
}

// publishRecord signs rec as its relay's actor and publishes it.
func publishRecord(ctx context.Context, nd *dhtRelay, priv ed25519.PrivateKey, rec discovery.Record) error {
	b, err := sign(rec, priv)
	if err != nil {
		return err
	}
	if err := nd.d.Publish(ctx, b); err != nil {
		return fmt.Errorf("%s: publish: %w", nd.domain, err)
	}
	return nil
}
