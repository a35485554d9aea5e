package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Limits of the gossip layer.
const (
	// maxNodeMeta is kept far under memberlist's 512-byte limit, above
	// which it panics.
	maxNodeMeta = 256
	// maxStateRecords and maxStateBytes bound the records exchanged in
	// one push/pull, both the state sent and the state accepted.
	maxStateRecords = 2000
	maxStateBytes   = 8 << 20
	// verifyTimeout bounds the verification of one announcement.
	verifyTimeout = 15 * time.Second
)

// GossipConfig configures a regional gossip cluster. Zero fields take the
// defaults given.
type GossipConfig struct {
	// Name is this node's name in the cluster; its domain.
	Name string
	// Bind is the address (host:port; port 0 picks one) for both UDP and
	// TCP.
	Bind string
	// Join are addresses of members to join.
	Join []string
	// Profile is "lan" (default), "wan" or "local": memberlist's timing.
	Profile string
	// SecretKey, when set (16, 24 or 32 bytes), encrypts the cluster's
	// traffic with AES-GCM; every member needs it.
	SecretKey []byte
	// Label, when set, is authenticated with every packet: clusters with
	// different labels ignore each other.
	Label string
	// ProbeInterval, GossipInterval and PushPullInterval override the
	// profile (tests shorten them).
	ProbeInterval, GossipInterval, PushPullInterval time.Duration
	// Announcement, when set, is this node's signed announcement from the
	// start: the state exchange of the join already carries it, so the
	// members joined learn it at once rather than by gossip.
	Announcement []byte
	// Logger receives memberlist's and the layer's messages.
	Logger *slog.Logger
	// OnRejected, when set, is told why an announcement was refused
	// before verification (malformed, or the queue too busy to verify it
	// in time); the Verify function reports its own refusals.
	OnRejected func(err error)
	// ReconnectInterval is how often the node tries to join again one
	// member it saw fail (gossipreconnect.go), which heals a region cut in
	// two. Default DefaultReconnectInterval.
	ReconnectInterval time.Duration
	// Transport, when set, carries the cluster's packets and streams
	// instead of sockets bound at Bind (which stays the address
	// announced); the simulation cuts a region in two with it.
	Transport memberlist.Transport
}

// Verify checks a signed announcement and returns its record.
type Verify func(ctx context.Context, signed []byte) (Record, error)

// Gossip spreads signed announcements through a memberlist cluster. Every
// announcement received is verified before it enters the directory or is
// passed on; memberlist does not relay user messages, so a verified, newer
// announcement is re-broadcast here (deduplicated by domain and sequence).
// Push/pull state exchange carries the full set, for late joiners and for
// records too large for a gossip packet.
type Gossip struct {
	ml         *memberlist.Memberlist
	q          *memberlist.TransmitLimitedQueue
	name       string // this node's domain: its own announcements come back
	verify     Verify
	dir        *Directory
	log        *slog.Logger
	waiting    *verifyQueue
	ctx        context.Context // ends at Shutdown: verifications stop
	stop       context.CancelFunc
	done       chan struct{}
	wg         sync.WaitGroup
	onRejected func(err error) // GossipConfig.OnRejected
	view       *memberView     // the live members, and their digest (gossipmembers.go)
	failed     failedList      // members seen to fail, to reconnect (gossipreconnect.go)
	// wants counts the announcements asked of members, joins the members
	// joined directly (gossiprepair.go), reconnects the tries to join a
	// failed member again (gossipreconnect.go), pulls the state exchanges
	// over a membership difference (gossipdigest.go).
	wants, joins, reconnects, pulls atomic.Int64
	// answering holds a place per answer being sent (maxAnswering).
	answering chan struct{}
	// dropGossiped, set by tests, loses the announcements that arrive by
	// gossip or push/pull (not those asked for), as an unlucky member does.
	dropGossiped atomic.Bool

	// mu guards the following fields.
	mu        sync.Mutex
	relayed   map[string]uint64    // domain → highest sequence passed on
	own       []byte               // this node's announcement
	answered  map[string]time.Time // asker → when its last ask was answered
	joined    map[string]bool      // "domain addr" joined directly (scheduleJoin)
	verifying map[string]int       // domain → its announcements being verified now
	nextAsk   time.Time            // when this node may ask next (mayAsk)
}

// Repairs counts what a node did to repair what gossip missed.
type Repairs struct {
	// Asked counts the announcements asked of members because gossip had
	// not brought them in time; Joined the members joined directly
	// because memberlist had not listed them in time (gossiprepair.go).
	Asked, Joined int64
	// Reconnected counts the tries to join a failed member again
	// (gossipreconnect.go); Pulled the state exchanges over a membership
	// difference (gossipdigest.go).
	Reconnected, Pulled int64
}

// Repairs returns the node's repairs so far.
func (g *Gossip) Repairs() Repairs {
	return Repairs{Asked: g.wants.Load(), Joined: g.joins.Load(), Reconnected: g.reconnects.Load(), Pulled: g.pulls.Load()}
}

// StartGossip joins (or starts) a cluster.
func StartGossip(cfg GossipConfig, verify Verify, dir *Directory) (*Gossip, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var mc *memberlist.Config
	switch cfg.Profile {
	case "", "lan":
		mc = memberlist.DefaultLANConfig()
	case "wan":
		mc = memberlist.DefaultWANConfig()
	case "local":
		mc = memberlist.DefaultLocalConfig()
	default:
		return nil, fmt.Errorf("gossip profile %q: want lan, wan or local", cfg.Profile)
	}
	host, portStr, err := net.SplitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("gossip bind %q: %w", cfg.Bind, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("gossip bind %q: %w", cfg.Bind, err)
	}
	g := &Gossip{name: cfg.Name, verify: verify, dir: dir, log: cfg.Logger, waiting: newVerifyQueue(maxVerifyQueue),
		onRejected: cfg.OnRejected, done: make(chan struct{}), relayed: map[string]uint64{}, own: cfg.Announcement,
		answered: map[string]time.Time{},
		joined:   map[string]bool{}, verifying: map[string]int{}, view: newMemberView(cfg.Name),
		failed: failedList{m: map[string]failedMember{}}, answering: make(chan struct{}, maxAnswering)}
	g.ctx, g.stop = context.WithCancel(context.Background())
	mc.Name, mc.BindAddr, mc.BindPort, mc.AdvertiseAddr, mc.AdvertisePort = cfg.Name, host, port, host, port
	mc.Delegate, mc.Events = g, g
	mc.SecretKey, mc.Label = cfg.SecretKey, cfg.Label
	mc.Logger = log.New(io.Discard, "", 0)
	mc.Transport = cfg.Transport
	if cfg.ReconnectInterval <= 0 {
		cfg.ReconnectInterval = DefaultReconnectInterval
	}
	if cfg.ProbeInterval > 0 {
		mc.ProbeInterval, mc.ProbeTimeout = cfg.ProbeInterval, cfg.ProbeInterval/2
	}
	if cfg.GossipInterval > 0 {
		mc.GossipInterval = cfg.GossipInterval
	}
	if cfg.PushPullInterval > 0 {
		mc.PushPullInterval = cfg.PushPullInterval
	}
	// The queue exists before memberlist, which may ask it for broadcasts
	// as soon as it listens (before Create returns).
	var created atomic.Pointer[memberlist.Memberlist]
	g.q = &memberlist.TransmitLimitedQueue{RetransmitMult: mc.RetransmitMult, NumNodes: func() int {
		if ml := created.Load(); ml != nil {
			return ml.NumMembers()
		}
		return 1
	}}
	if g.ml, err = memberlist.Create(mc); err != nil {
		g.stop()
		return nil, fmt.Errorf("gossip: %w", err)
	}
	created.Store(g.ml)
	g.wg.Go(func() { g.work(true) })
	for range verifyWorkers - 1 {
		g.wg.Go(func() { g.work(false) })
	}
	g.wg.Go(func() { g.reconnect(cfg.ReconnectInterval) })
	g.wg.Go(g.sendDigests)
	if len(cfg.Join) > 0 {
		if _, err := g.ml.Join(cfg.Join); err != nil {
			g.Shutdown()
			return nil, fmt.Errorf("gossip join: %w", err)
		}
	}
	if cfg.Announcement != nil {
		g.Announce(cfg.Announcement)
	}
	return g, nil
}

// Addr is the address the node listens on, host:port.
func (g *Gossip) Addr() string {
	n := g.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Members counts the cluster's live members, this node included.
func (g *Gossip) Members() int { return g.ml.NumMembers() }

// HasMember reports whether the node named name is a live member, as this
// node sees the cluster.
func (g *Gossip) HasMember(name string) bool {
	for _, m := range g.ml.Members() {
		if m.Name == name {
			return true
		}
	}
	return false
}

// Announce spreads this node's own signed announcement.
func (g *Gossip) Announce(signed []byte) {
	g.mu.Lock()
	g.own = signed
	g.mu.Unlock()
	g.q.QueueBroadcast(broadcast{msg: signed, name: "own"})
}

// farewellTo is how many members a farewell is sent to directly, and
// farewellWait how long the node waits for them.
const (
	farewellTo   = 3
	farewellWait = 2 * time.Second
)

// Farewell spreads this node's last announcement (Record.Leaving) before
// it leaves: by gossip, and over TCP to a few members, since gossip
// carries no announcement larger than a packet (about 1.4 KB: a relay
// listing half a dozen members) and the node does no state exchange
// after it. Those members pass it on as any announcement.
func (g *Gossip) Farewell(signed []byte) {
	g.Announce(signed)
	to := g.view.others(farewellTo)
	sent := make(chan struct{}, len(to))
	for _, n := range to {
		go func() { // not waited for beyond farewellWait: the node is stopping
			if err := g.ml.SendReliable(n, append([]byte{msgOwn}, signed...)); err != nil {
				g.log.Debug("gossip: sending the farewell failed", "member", n.Name, "err", err)
			}
			sent <- struct{}{}
		}()
	}
	deadline := time.After(farewellWait)
	for range to {
		select {
		case <-sent:
		case <-deadline:
			return
		}
	}
}

// Leave tells the cluster this node is going, then stops it.
func (g *Gossip) Leave(timeout time.Duration) error {
	return errors.Join(g.ml.Leave(timeout), g.Shutdown())
}

// Shutdown stops the node without telling the cluster (as a crash would).
func (g *Gossip) Shutdown() error {
	select {
	case <-g.done:
		return nil
	default:
	}
	close(g.done)
	g.stop()
	err := g.ml.Shutdown()
	g.wg.Wait()
	return err
}

// work verifies received announcements off memberlist's goroutines: only
// those of domains verified before if knownOnly.
func (g *Gossip) work(knownOnly bool) {
	for {
		w, stale, ok := g.waiting.pop(time.Now(), maxVerifyWait, knownOnly)
		for range stale {
			g.reject(fmt.Errorf("%w: waited over %s for verification", ErrBusy, maxVerifyWait))
		}
		if ok {
			g.accept(w.by.domain, w.signed)
			continue
		}
		select {
		case <-g.done:
			return
		case <-g.waiting.ready(knownOnly):
		}
	}
}

// accept verifies an announcement of domain (as its envelope says) and,
// verified and newer, passes it on.
func (g *Gossip) accept(domain string, b []byte) {
	g.mu.Lock()
	g.verifying[domain]++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if g.verifying[domain]--; g.verifying[domain] <= 0 {
			delete(g.verifying, domain)
		}
		g.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(g.ctx, verifyTimeout)
	defer cancel()
	rec, err := g.verify(ctx, b)
	if err != nil {
		return // Verify reports its refusals
	}
	g.dir.Put(rec, b, SourceGossip, time.Now())
	g.mu.Lock()
	newer := rec.Seq > g.relayed[rec.Domain]
	if newer {
		g.relayed[rec.Domain] = rec.Seq
	}
	g.mu.Unlock()
	if newer {
		g.q.QueueBroadcast(broadcast{msg: b, name: rec.Domain})
		if !rec.Leaving { // a farewell's member is going: nothing to join
			g.scheduleJoin(rec.Domain, rec.Gossip)
		}
	}
}

// enqueue checks what needs no network (the envelope, whether it is news)
// and queues the rest for verification.
func (g *Gossip) enqueue(b []byte) {
	sig, rec, err := Parse(b)
	if err != nil {
		g.reject(err)
		return
	}
	if rec.Domain == g.name {
		return // our own announcement, back from the cluster
	}
	g.mu.Lock()
	known := rec.Seq <= g.relayed[rec.Domain]
	g.mu.Unlock()
	if known {
		return // already verified and passed on
	}
	if !g.waiting.push(rec.Domain, sig.Key, append([]byte(nil), b...), g.knownSigner(rec.Domain, sig.Key), time.Now()) {
		g.reject(fmt.Errorf("%w: %s", ErrBusy, rec.Domain))
	}
}

// knownSigner reports whether key is the one that signed the domain's
// verified announcement.
func (g *Gossip) knownSigner(domain, key string) bool {
	e, ok := g.dir.Get(domain)
	if !ok || !e.Verified || e.Signed == nil {
		return false
	}
	held, _, err := Parse(e.Signed)
	return err == nil && held.Key == key
}

func (g *Gossip) reject(err error) {
	if g.onRejected != nil {
		g.onRejected(err)
	}
}

// NodeMeta implements memberlist.Delegate: a short protocol marker, kept
// under both memberlist's limit and maxNodeMeta (memberlist panics above
// 512 bytes). Records travel as messages, never as metadata.
func (g *Gossip) NodeMeta(limit int) []byte {
	meta := []byte("runrig/" + strconv.Itoa(RecordVersion))
	if n := min(limit, maxNodeMeta); len(meta) > n {
		meta = meta[:n]
	}
	return meta
}

// NotifyMsg implements memberlist.Delegate: an announcement passed on, a
// member's ask for this node's announcement, or the answer to an ask.
func (g *Gossip) NotifyMsg(b []byte) {
	if len(b) == 0 || len(b) > MaxRecordBytes+1 {
		return
	}
	switch b[0] {
	case msgWant:
		g.answerWant(string(b[1:]))
	case msgOwn:
		g.enqueue(b[1:])
	case msgDigest:
		g.receiveDigest(b)
	default:
		if !g.dropGossiped.Load() && len(b) <= MaxRecordBytes {
			g.enqueue(b)
		}
	}
}

// GetBroadcasts implements memberlist.Delegate.
func (g *Gossip) GetBroadcasts(overhead, limit int) [][]byte {
	return g.q.GetBroadcasts(overhead, limit)
}

// LocalState implements memberlist.Delegate: every verified announcement
// held, and this node's own.
func (g *Gossip) LocalState(join bool) []byte {
	var all [][]byte
	size := 0
	g.mu.Lock()
	if g.own != nil {
		all, size = append(all, g.own), len(g.own)
	}
	g.mu.Unlock()
	for _, e := range g.dir.List(time.Now()) {
		// Base64 in JSON grows a record by a third.
		if len(all) >= maxStateRecords || size+len(e.Signed)*4/3 > maxStateBytes {
			break
		}
		if e.Signed != nil {
			all, size = append(all, e.Signed), size+len(e.Signed)*4/3
		}
	}
	b, _ := json.Marshal(all)
	return b
}

// MergeRemoteState implements memberlist.Delegate.
func (g *Gossip) MergeRemoteState(buf []byte, join bool) {
	if len(buf) > maxStateBytes+maxStateBytes/8 {
		g.log.Warn("gossip: remote state too large; ignored", "bytes", len(buf))
		return
	}
	var all [][]byte
	if json.Unmarshal(buf, &all) != nil || g.dropGossiped.Load() {
		return
	}
	for i, b := range all {
		if i >= maxStateRecords {
			break
		}
		g.enqueue(b)
	}
}

// NotifyJoin implements memberlist.EventDelegate: the member is up again
// in the directory, and its announcement is asked of it if gossip does
// not bring it in time.
func (g *Gossip) NotifyJoin(n *memberlist.Node) {
	g.dir.SetDown(n.Name, nodeAddr(n), false)
	g.view.note(n, true)
	g.failed.note(n, false, g.dir, time.Now())
	g.scheduleWant(n.Name, 0)
}

// NotifyLeave implements memberlist.EventDelegate: a member that failed or
// left is marked down in the directory, if it is the member the peer's
// verified announcement names; one that failed is tried again later.
func (g *Gossip) NotifyLeave(n *memberlist.Node) {
	g.dir.SetDown(n.Name, nodeAddr(n), true)
	g.view.note(n, false)
	if n.Name != g.name {
		g.failed.note(n, true, g.dir, time.Now())
	}
}

// nodeAddr is a member's gossip address, host:port.
func nodeAddr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// NotifyUpdate implements memberlist.EventDelegate: a member's new
// address.
func (g *Gossip) NotifyUpdate(n *memberlist.Node) { g.view.note(n, true) }

// broadcast is a queued announcement; a newer one of the same name
// replaces an older one.
type broadcast struct {
	msg  []byte
	name string
}

func (b broadcast) Invalidates(o memberlist.Broadcast) bool {
	ob, ok := o.(broadcast)
	return ok && ob.name == b.name
}
func (b broadcast) Message() []byte { return b.msg }
func (b broadcast) Finished()       {}
