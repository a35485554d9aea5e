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
}

// RunDHT starts n DHT nodes on loopback, each publishing its announcement,
// then measures lookups (trials of them) and the traffic of each
// operation. Everything is closed before it returns.
func RunDHT(ctx context.Context, n, trials int) (DHTPoint, error) {
	p := DHTPoint{N: n}
	ring, bw := newKeyring(), metrics.NewBandwidthCounter()
	before := heapInUse()
	t0 := time.Now()
	nodes := make([]*dhtRelay, 0, n)
	defer func() {
		for _, nd := range nodes {
			nd.d.Close()
		}
	}()
	var boot []string
	for i := range n {
		nd, err := startDHTRelay(ctx, ring, bw, fmt.Sprintf("relay%04d.example", i), boot)
		if err != nil {
			return p, err
		}
		nodes = append(nodes, nd)
		if i == 0 {
			boot = nd.d.Addrs()[:1]
		}
	}
	for i, nd := range nodes { // once every node has peers to store at
		if err := publish(ctx, nd, ring.privOf(nd.domain), i%len(regions), 1); err != nil {
			return p, err
		}
	}
	p.Start = time.Since(t0)
	p.HeapPerNode = float64(heapInUse()-before) / float64(n)

	var lookups []time.Duration
	sent := func() float64 { return settled(bw) }
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
	p.LookupP50, p.LookupP99 = percentile(lookups, .5), percentile(lookups, .99)
	p.LookupBytes = (b2 - b1) / float64(trials)
	p.RefreshBytes = (b3 - b2) / float64(refreshes)
	pub, err := publishCost(ctx, nodes, ring, bw, trials)
	if err != nil {
		return p, err
	}
	p.PublishBytes = pub
	p.BytesPerHour = lookupsPerHour*p.LookupBytes + refreshesPerHour*p.RefreshBytes + publishesPerHour*p.PublishBytes
	return p, nil
}

// publishCost republishes trials relays' announcements (a new sequence)
// and returns the traffic of one.
func publishCost(ctx context.Context, nodes []*dhtRelay, ring *keyring, bw *metrics.BandwidthCounter, trials int) (float64, error) {
	b0 := settled(bw)
	for i := range trials {
		nd := nodes[(i*17+2)%len(nodes)]
		if err := publish(ctx, nd, ring.privOf(nd.domain), i%len(regions), 2); err != nil {
			return 0, err
		}
	}
	return (settled(bw) - b0) / float64(trials), nil
}

// meterTick is how often libp2p's bandwidth meters fold what they counted
// into their totals (go-flow-metrics' sweeper: every second).
const meterTick = time.Second

// settled is the bytes sent by every node so far, read once the meters
// have folded in what the last operation sent.
func settled(bw *metrics.BandwidthCounter) float64 {
	time.Sleep(meterTick + meterTick/2)
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
	v := discovery.NewVerifier(ring)
	d, err := discovery.StartDHT(ctx, cfg, v.Verify, discovery.NewDirectory())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", domain, err)
	}
	return &dhtRelay{domain: domain, d: d}, nil
}

// publish signs and publishes a relay's announcement of region r.
func publish(ctx context.Context, nd *dhtRelay, priv ed25519.PrivateKey, r int, seq uint64) error {
	now := time.Now()
	rec := discovery.Record{Domain: nd.domain, Actor: "https://" + nd.domain + "/actor", Inbox: "https://" + nd.domain + "/inbox",
		PeerID: nd.d.PeerID().String(), Addrs: nd.d.Addrs(), Software: "runrig simulation", Regions: []string{regions[r]},
		Kinds: []string{"offers"}, Seq: seq, Issued: now, Expires: now.Add(discovery.DefaultValidity)}
	b, err := sign(rec, priv)
	if err != nil {
		return err
	}
	if err := nd.d.Publish(ctx, b); err != nil {
		return fmt.Errorf("%s: publish: %w", nd.domain, err)
	}
	return nil
}
