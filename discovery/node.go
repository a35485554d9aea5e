package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// Timing of a node's announcing.
const (
	// DefaultValidity is how long a node's announcement is valid; it is
	// announced again at half of it.
	DefaultValidity = 24 * time.Hour
	// publishRetryMin and publishRetryMax bound how soon a failed DHT
	// publication is tried again (the routing table may still be empty:
	// the first relay of a network waits for a second one); the wait
	// doubles in between.
	publishRetryMin = time.Second
	publishRetryMax = time.Minute
	// dhtCallTimeout bounds one DHT publication or lookup.
	dhtCallTimeout = time.Minute
	// gossipLeaveTimeout bounds telling the cluster the node is going.
	gossipLeaveTimeout = 2 * time.Second
	// farewellTimeout bounds the publication of that announcement.
	farewellTimeout = 5 * time.Second
)

// NodeConfig configures a [Node]: the discovery layers a relay takes part
// in. Zero fields take the defaults given.
type NodeConfig struct {
	// DHT joins the wide-area DHT when it has Listen addresses; its
	// verify function and directory are the node's.
	DHT DHTConfig
	// LookupInterval is how often the node looks up every peer in the
	// DHT, to keep the directory current. Default 10 minutes.
	LookupInterval time.Duration
	// Gossip joins a regional cluster when it has a Bind address; its
	// first announcement is made by the node.
	Gossip GossipConfig
	// Validity is how long an announcement is valid. Default
	// DefaultValidity.
	Validity time.Duration
	// After is a sequence number the node's announcements stay above:
	// the last one an earlier node of the same relay signed.
	After uint64
	// Logger receives the node's messages.
	Logger *slog.Logger
	// OnRejected, when set, is told why a record was refused before
	// verification, and by which layer ("dht" or "gossip"); the verify
	// function reports its own refusals.
	OnRejected func(layer string, err error)
	// Farewell, when set, has the node announce, when Run ends, that the
	// relay is leaving (Record.Leaving). Only a relay that alone holds its
	// discovery identity may: a replica handing the node over to another
	// must not mark the relay down for all its peers. Default false.
	Farewell bool
}

// Describe returns what a node announces of itself now: its domain,
// actor, inbox, software, regions, kinds and members. The node adds the
// sequence number, the validity and the addresses of its layers.
type Describe func(ctx context.Context) (Record, error)

// Signer signs a record as the relay's announcement.
type Signer func(r Record) ([]byte, error)

// Node is a relay's part in discovery: it joins the configured layers,
// announces the relay in them (again before the announcement expires),
// looks up peers now and then, and leaves when stopped.
type Node struct {
	cfg      NodeConfig
	describe Describe
	sign     Signer
	log      *slog.Logger
	dir      *Directory

	dht    *DHT    // nil when the DHT is off
	gossip *Gossip // nil when gossip is off
	seq    atomic.Uint64
}

// StartNode joins the configured layers; Run then keeps the node
// announced until its context ends. When a layer fails to start, those
// already started are left again.
func StartNode(ctx context.Context, cfg NodeConfig, describe Describe, sign Signer, verify Verify, dir *Directory) (*Node, error) {
	if cfg.Validity <= 0 {
		cfg.Validity = DefaultValidity
	}
	if cfg.LookupInterval <= 0 {
		cfg.LookupInterval = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := &Node{cfg: cfg, describe: describe, sign: sign, log: cfg.Logger, dir: dir}
	n.seq.Store(cfg.After)
	rejected := func(layer string) func(error) {
		return func(err error) {
			if cfg.OnRejected != nil {
				cfg.OnRejected(layer, err)
			}
		}
	}
	if len(cfg.DHT.Listen) > 0 {
		d, err := StartDHT(ctx, cfg.DHT, verify, dir)
		if err != nil {
			return nil, fmt.Errorf("dht: %w", err)
		}
		d.OnRejected = rejected("dht")
		n.dht = d
		n.log.Info("joined the DHT", "peer_id", d.PeerID().String(), "addrs", d.Addrs(), "routing_table", d.RoutingTableSize())
	}
	if cfg.Gossip.Bind != "" {
		// The first announcement goes with the join's state exchange; Run
		// announces again at once, with the gossip address.
		first, err := n.Announcement(ctx)
		if err == nil {
			gc := cfg.Gossip
			gc.Announcement, gc.OnRejected = first, rejected("gossip")
			n.gossip, err = StartGossip(gc, verify, dir)
		}
		if err != nil {
			if n.dht != nil {
				n.dht.Close()
			}
			return nil, fmt.Errorf("gossip: %w", err)
		}
		n.log.Info("joined regional gossip", "addr", n.gossip.Addr(), "members", n.gossip.Members())
	}
	return n, nil
}

// Run keeps the node announced and its directory current until ctx ends,
// then leaves the layers.
func (n *Node) Run(ctx context.Context) {
	done := make(chan struct{}, 4)
	run := func(f func(context.Context)) {
		go func() { f(ctx); done <- struct{}{} }()
	}
	run(n.pruneDirectory)
	loops := 1
	if n.dht != nil {
		run(n.publishDHT)
		run(n.lookupDHT)
		loops += 2
	}
	if n.gossip != nil {
		run(n.announceGossip)
		loops++
	}
	for range loops {
		<-done
	}
	if n.cfg.Farewell {
		n.farewell()
	}
	if n.gossip != nil {
		n.gossip.Leave(gossipLeaveTimeout)
	}
	if n.dht != nil {
		n.dht.Close()
	}
}

// Announcement returns the node's signed announcement: what Describe
// says, with a new sequence number, its validity and the layers' addresses.
func (n *Node) Announcement(ctx context.Context) ([]byte, error) {
	return n.announcement(ctx, false)
}

// announcement signs what Describe says now, as Announcement does; a
// leaving one is the relay's last. It is valid as long as any other: the
// DHT peers its publication misses keep the previous announcement until
// that expires, and a lookup there must not find the relay up again
// meanwhile (a peer keeps the highest sequence it verified, so only a
// farewell still valid outranks the old copy).
func (n *Node) announcement(ctx context.Context, leaving bool) ([]byte, error) {
	r, err := n.describe(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	r.Seq, r.Issued, r.Expires, r.Leaving = n.nextSeq(now), now, now.Add(n.cfg.Validity), leaving
	if n.dht != nil {
		r.PeerID, r.Addrs = n.dht.PeerID().String(), n.dht.Addrs()
	}
	if n.gossip != nil {
		r.Gossip = n.gossip.Addr()
	}
	return n.sign(r)
}

// nextSeq is the sequence number of a new announcement: the issue time in
// milliseconds, kept strictly above the last one so that two announcements
// of one millisecond are not taken for a replay.
func (n *Node) nextSeq(now time.Time) uint64 {
	for {
		last := n.seq.Load()
		seq := max(uint64(now.UnixMilli()), last+1)
		if n.seq.CompareAndSwap(last, seq) {
			return seq
		}
	}
}

// ErrLookup wraps the failure of a DHT lookup.
var ErrLookup = errors.New("DHT lookup")

// LastSeq is the sequence number of the node's last announcement.
func (n *Node) LastSeq() uint64 { return n.seq.Load() }

// Lookup asks the DHT for peers serving region and carrying kind, when the
// DHT is on; what it finds enters the directory.
func (n *Node) Lookup(ctx context.Context, region, kind string) error {
	if n == nil || n.dht == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, dhtCallTimeout)
	defer cancel()
	if _, err := n.dht.Lookup(ctx, region, kind); err != nil {
		return fmt.Errorf("%w: %w", ErrLookup, err)
	}
	return nil
}

// DHT is the node's DHT, or nil when it is off.
func (n *Node) DHT() *DHT {
	if n == nil {
		return nil
	}
	return n.dht
}

// Gossip is the node's gossip cluster, or nil when it is off.
func (n *Node) Gossip() *Gossip {
	if n == nil {
		return nil
	}
	return n.gossip
}

// publishDHT publishes the announcement until ctx ends: again at half its
// validity, or soon after a failure.
func (n *Node) publishDHT(ctx context.Context) {
	retry := publishRetryMin
	for {
		wait := n.cfg.Validity / 2
		b, err := n.Announcement(ctx)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, dhtCallTimeout)
			err = n.dht.Publish(pctx, b)
			cancel()
		}
		switch {
		case err == nil:
			retry = publishRetryMin
		case ctx.Err() == nil:
			if retry >= 8*time.Second { // the first quick retries are expected
				n.log.Warn("publishing the announcement in the DHT; retrying", "err", err, "in", retry)
			}
			wait, retry = retry, min(2*retry, publishRetryMax)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// lookupDHT looks up every peer now, and then every LookupInterval.
func (n *Node) lookupDHT(ctx context.Context) {
	for {
		if err := n.Lookup(ctx, "", ""); err != nil && ctx.Err() == nil {
			n.log.Error("looking up peers in the DHT", "err", err)
		}
		if !sleep(ctx, n.cfg.LookupInterval) {
			return
		}
	}
}

// announceGossip announces the node in the cluster now, and again at half
// the announcement's validity.
func (n *Node) announceGossip(ctx context.Context) {
	for {
		if b, err := n.Announcement(ctx); err == nil {
			n.gossip.Announce(b)
		} else if ctx.Err() == nil {
			n.log.Error("signing the announcement", "err", err)
		}
		if !sleep(ctx, n.cfg.Validity/2) {
			return
		}
	}
}

// farewell announces, in each layer, that the relay is stopping, so that
// peers mark it down now rather than list it until its announcement
// expires (up to Validity later). A relay that crashes says nothing: it is
// marked down by gossip, and by DHT peers only when its announcement
// expires.
func (n *Node) farewell() {
	ctx, cancel := context.WithTimeout(context.Background(), farewellTimeout)
	defer cancel()
	b, err := n.announcement(ctx, true)
	if err != nil {
		n.log.Warn("signing the farewell announcement", "err", err)
		return
	}
	if n.gossip != nil {
		n.gossip.Farewell(b)
	}
	if n.dht != nil {
		if err := n.dht.Publish(ctx, b); err != nil {
			n.log.Warn("publishing the farewell announcement in the DHT", "err", err)
		}
	}
}

// pruneEvery is how often the directory drops long-expired peers.
const pruneEvery = time.Hour

// pruneDirectory removes long-expired peers from the directory, hourly.
func (n *Node) pruneDirectory(ctx context.Context) {
	for sleep(ctx, pruneEvery) {
		if k := n.dir.Prune(time.Now()); k > 0 {
			n.log.Info("discovery directory: removed peers expired over a day", "peers", k)
		}
	}
}

// sleep waits for d, or less when ctx ends first; it reports whether ctx
// is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
