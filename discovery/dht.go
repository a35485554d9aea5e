package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Limits of DHT lookups.
const (
	// maxLookupPeers bounds the providers one lookup reads records of.
	maxLookupPeers = 200
	// lookupParallel bounds the records fetched and verified at once.
	lookupParallel = 8
	// recordFetchTimeout bounds fetching one record from the DHT.
	recordFetchTimeout = 10 * time.Second
	// recordQuorum is how many holders' copies of a record a read
	// compares, keeping the newest (and handing it to those holding an
	// older one). With one, a read took whichever copy came first, and a
	// relay that joined after another's farewell could read the
	// announcement the farewell replaced from a holder the farewell's
	// publication missed (seen in the 100-relay churn simulation).
	recordQuorum = 3
	// joinWait bounds the wait for a bootstrap peer to enter the routing
	// table.
	joinWait = 5 * time.Second
)

// DHTConfig configures a node of the relays' Kademlia DHT.
type DHTConfig struct {
	// Identity is the node's libp2p key; its peer id is derived from
	// it. Keep it across restarts (an Ed25519 key; required).
	Identity crypto.PrivKey
	// Listen are the multiaddrs to listen on, e.g.
	// "/ip4/0.0.0.0/tcp/4001". Required.
	Listen []string
	// Bootstrap are full multiaddrs (with /p2p/<peer id>) of nodes to
	// join through. Empty starts a new network.
	Bootstrap []string
	// AllowPrivate permits dialling private and loopback addresses that
	// peers announce. Bootstrap addresses are always dialled. Default
	// false: only public addresses.
	AllowPrivate bool
	// Logger receives the layer's messages.
	Logger *slog.Logger
	// Bandwidth, when set, counts the node's traffic (the simulation
	// sums every node's).
	Bandwidth metrics.Reporter
}

// DHT is a node of the relays' Kademlia DHT (server mode, private
// protocol prefix). It stores this node's announcement under its record
// key and advertises the node under rendezvous keys; lookups find
// advertisers, read their records and verify each before it enters the
// directory.
type DHT struct {
	host   host.Host
	kad    *dht.IpfsDHT
	key    crypto.PrivKey
	verify Verify
	dir    *Directory
	log    *slog.Logger

	// OnRejected, if set before lookups run, is told why a record read
	// from the DHT was refused before verification (size, envelope
	// signature, peer binding, validity window); the Verify function
	// reports its own refusals.
	OnRejected func(err error)

	closeOnce sync.Once
}

// StartDHT starts a DHT node and connects it to the bootstrap peers (at
// least one must answer when any are given).
func StartDHT(ctx context.Context, cfg DHTConfig, verify Verify, dir *Directory) (*DHT, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Identity == nil || cfg.Identity.Type() != crypto.Ed25519 {
		return nil, errors.New("dht: an Ed25519 identity key is required")
	}
	boot := make([]peer.AddrInfo, 0, len(cfg.Bootstrap))
	gater := &addrGater{allowPrivate: cfg.AllowPrivate, allowed: map[string]bool{}}
	for _, s := range cfg.Bootstrap {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("dht bootstrap %q: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("dht bootstrap %q: want a full multiaddr ending in /p2p/<peer id>: %w", s, err)
		}
		for _, addr := range ai.Addrs {
			gater.allowed[addr.String()] = true
		}
		boot = append(boot, *ai)
	}
	cm, rm, err := dhtBounds()
	if err != nil {
		return nil, err
	}
	h, err := libp2p.New(libp2p.Identity(cfg.Identity), libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(noise.ID, noise.New), libp2p.DisableRelay(), libp2p.ConnectionGater(gater),
		libp2p.UserAgent("runrig"), libp2p.ConnectionManager(cm), libp2p.ResourceManager(rm), bandwidth(cfg.Bandwidth))
	if err != nil {
		return nil, fmt.Errorf("dht listen: %w", err)
	}
	v := recordValidator{now: time.Now}
	kad, err := dht.New(ctx, h, dht.ProtocolPrefix(ProtocolPrefix), dht.Mode(dht.ModeServer),
		dht.Validator(record.NamespacedValidator{dhtNamespace: v}), dht.BootstrapPeers(boot...))
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	d := &DHT{host: h, kad: kad, key: cfg.Identity, verify: verify, dir: dir, log: cfg.Logger}
	if err := d.connect(ctx, boot); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Bounds of a DHT node, whatever the network's size.
const (
	// dhtConnsLow and dhtConnsHigh are the connection manager's water
	// marks: above high, connections older than dhtConnGrace are trimmed
	// to low, the DHT's closest peers last. The routing table's peers
	// need not stay connected: a lookup dials those it asks. Each
	// connection holds about 25 KiB of heap (measured: make simulate).
	dhtConnsLow, dhtConnsHigh = 32, 64
	// dhtConnGrace is how long a new connection is safe from trimming.
	dhtConnGrace = 20 * time.Second
	// dhtMemory and dhtFDs size the resource manager's limits (libp2p's
	// defaults scaled to them): streams and buffer memory of all peers
	// together.
	dhtMemory = 128 << 20
	dhtFDs    = 1024
	// dhtMaxConns and dhtMaxConnsIn are the hard limits on connections
	// (all, and inbound), well above the connection manager's high mark:
	// a bootstrap node that many relays dial accepts them and the
	// connection manager then trims, instead of refusing new relays at
	// the handshake (libp2p's defaults scaled to dhtMemory allow about 70
	// inbound connections).
	dhtMaxConns, dhtMaxConnsIn = 4 * dhtConnsHigh, 3 * dhtConnsHigh
)

// bandwidth is the option that counts traffic with r, if any.
func bandwidth(r metrics.Reporter) libp2p.Option {
	if r == nil {
		return func(*libp2p.Config) error { return nil }
	}
	return libp2p.BandwidthReporter(r)
}

// dhtBounds returns the connection and resource managers that bound a DHT
// node's connections, streams and memory.
func dhtBounds() (*connmgr.BasicConnMgr, network.ResourceManager, error) {
	cm, err := connmgr.NewConnManager(dhtConnsLow, dhtConnsHigh, connmgr.WithGracePeriod(dhtConnGrace))
	if err != nil {
		return nil, nil, fmt.Errorf("dht connection manager: %w", err)
	}
	scaled := rcmgr.DefaultLimits
	limits := rcmgr.PartialLimitConfig{System: rcmgr.ResourceLimits{Conns: dhtMaxConns, ConnsInbound: dhtMaxConnsIn,
		ConnsOutbound: dhtMaxConns}}.Build(scaled.Scale(dhtMemory, dhtFDs))
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits))
	if err != nil {
		return nil, nil, fmt.Errorf("dht resource manager: %w", err)
	}
	return cm, rm, nil
}

// connect dials the bootstrap peers and fills the routing table.
func (d *DHT) connect(ctx context.Context, boot []peer.AddrInfo) error {
	if len(boot) == 0 {
		return nil
	}
	var errs []error
	for _, ai := range boot {
		if err := d.host.Connect(ctx, ai); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ai.ID, err))
		}
	}
	if len(errs) == len(boot) {
		return fmt.Errorf("dht bootstrap: no bootstrap peer answered: %w", errors.Join(errs...))
	}
	// A peer enters the routing table once identify shows it speaks the
	// DHT protocol, shortly after the connection.
	for deadline := time.Now().Add(joinWait); d.kad.RoutingTable().Size() == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-d.kad.ForceRefresh(); err != nil {
		d.log.Warn("dht: routing table refresh", "err", err)
	}
	return nil
}

// PeerID is the node's libp2p peer id.
func (d *DHT) PeerID() peer.ID { return d.host.ID() }

// Addrs are the node's full multiaddrs (ending in /p2p/<peer id>), ready
// for another node's bootstrap list.
func (d *DHT) Addrs() []string {
	p2p, _ := ma.NewComponent("p2p", d.host.ID().String()) // a valid peer id always encodes
	var out []string
	for _, a := range d.host.Addrs() {
		out = append(out, a.Encapsulate(p2p.Multiaddr()).String())
	}
	return out
}

// RoutingTableSize counts the peers in the routing table.
func (d *DHT) RoutingTableSize() int { return d.kad.RoutingTable().Size() }

// Refresh refreshes the routing table and waits for it.
func (d *DHT) Refresh() error { return <-d.kad.ForceRefresh() }

// Publish stores this node's signed announcement under its record key and
// advertises the node under the rendezvous keys of "all" and of each
// region and kind the record names. Call it again before the
// announcement expires.
func (d *DHT) Publish(ctx context.Context, announcement []byte) error {
	_, rec, err := Parse(announcement)
	if err != nil {
		return err
	}
	if rec.PeerID != d.host.ID().String() {
		return fmt.Errorf("%w: the announcement names peer %q, this node is %s", ErrMalformed, rec.PeerID, d.host.ID())
	}
	value, err := sealEnvelope(announcement, d.key)
	if err != nil {
		return err
	}
	if err := d.kad.PutValue(ctx, RecordKey(d.host.ID()), value); err != nil {
		return fmt.Errorf("dht put: %w", err)
	}
	keys := []struct{ region, kind string }{{"", ""}}
	for _, r := range rec.Regions {
		keys = append(keys, struct{ region, kind string }{r, ""})
	}
	for _, k := range rec.Kinds {
		keys = append(keys, struct{ region, kind string }{"", k})
	}
	for _, k := range keys {
		if err := d.kad.Provide(ctx, Rendezvous(k.region, k.kind), true); err != nil {
			return fmt.Errorf("dht provide: %w", err)
		}
	}
	return nil
}

// Lookup finds nodes advertised under the rendezvous key of region (or,
// without one, of kind, or of "all"), reads each one's record, checks it
// and verifies it against its domain. Verified records enter the
// directory; those matching both region and kind are returned. Records
// that fail are reported to OnRejected and skipped.
func (d *DHT) Lookup(ctx context.Context, region, kind string) ([]Record, error) {
	found := d.kad.FindProvidersAsync(ctx, Rendezvous(region, kind), maxLookupPeers)
	var (
		mu  sync.Mutex
		out []Record
		wg  sync.WaitGroup
		sem = make(chan struct{}, lookupParallel)
	)
	for ai := range found {
		if ai.ID == d.host.ID() {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(id peer.ID) {
			defer func() { <-sem; wg.Done() }()
			rec, err := d.fetch(ctx, id)
			if err != nil {
				d.log.Debug("dht: record refused", "peer", id, "err", err)
				return
			}
			if Matches(rec.Regions, region) && Matches(rec.Kinds, kind) {
				mu.Lock()
				out = append(out, rec)
				mu.Unlock()
			}
		}(ai.ID)
	}
	wg.Wait()
	return out, ctx.Err()
}

// errNoRecord is a provider without a readable record: a hint that led
// nowhere, not a refusal.
var errNoRecord = errors.New("no record")

// fetch reads a peer's record from the DHT and checks it again (the DHT
// returns locally held records without validating them) before verifying
// it against its domain.
func (d *DHT) fetch(ctx context.Context, id peer.ID) (Record, error) {
	ctx, cancel := context.WithTimeout(ctx, recordFetchTimeout)
	defer cancel()
	value, err := d.kad.GetValue(ctx, RecordKey(id), dht.Quorum(recordQuorum))
	if err != nil {
		return Record{}, fmt.Errorf("%w: %s: %v", errNoRecord, id, err)
	}
	announcement, rec, err := openEnvelope(RecordKey(id), value, time.Now())
	if err != nil {
		if d.OnRejected != nil {
			d.OnRejected(err)
		}
		return rec, err
	}
	if e, ok := d.dir.Get(rec.Domain); ok && e.Verified && bytes.Equal(e.Signed, announcement) {
		d.dir.Put(rec, announcement, SourceDHT, time.Now()) // verified before: seen again
		return rec, nil
	}
	verified, err := d.verify(ctx, announcement)
	if errors.Is(err, ErrReplay) {
		if e, ok := d.dir.Get(rec.Domain); ok && e.Verified && e.Record.Seq > rec.Seq {
			return Record{}, fmt.Errorf("%w: %s holds an older record", errNoRecord, id)
		}
	}
	if err != nil {
		return rec, err
	}
	d.dir.Put(verified, announcement, SourceDHT, time.Now())
	return verified, nil
}

// Close stops the node.
func (d *DHT) Close() error {
	var err error
	d.closeOnce.Do(func() { err = errors.Join(d.kad.Close(), d.host.Close()) })
	return err
}

// addrGater refuses to dial private and loopback addresses peers
// announce, unless allowed; the operator's bootstrap addresses are always
// dialled.
type addrGater struct {
	allowPrivate bool
	allowed      map[string]bool // read-only after start
}

func (g *addrGater) InterceptPeerDial(peer.ID) bool { return true }
func (g *addrGater) InterceptAddrDial(_ peer.ID, a ma.Multiaddr) bool {
	return g.allowPrivate || g.allowed[a.String()] || manet.IsPublicAddr(a)
}
func (g *addrGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }
func (g *addrGater) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}
func (g *addrGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
