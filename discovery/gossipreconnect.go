package discovery

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Reconnection to failed members (as Serf does for Consul).
//
// Memberlist declares a member dead when it stops answering probes, tells
// the cluster, and forgets it; it never tries it again. When a region is
// cut in two, each half declares the other dead, and after the cut heals
// neither half ever reaches out: gossip alone does not merge them (seen
// in the partition test: two halves of 15 stayed apart). A node therefore
// keeps the members it saw fail or leave — memberlist's event does not
// tell which — and every ReconnectInterval tries to join one of them at
// random, for reconnectFor after the failure, unless the member's newest
// announcement says it left (Record.Leaving: a relay's node announces it
// before leaving) or has expired. A join that reaches a member of the
// other half exchanges the two halves' state, and memberlist's own gossip
// spreads it from there.
const (
	// DefaultReconnectInterval is how often a node tries to join again one
	// member it saw fail.
	DefaultReconnectInterval = 30 * time.Second
	// reconnectFor is how long after a member failed it is tried: as long
	// as its announcement stays valid.
	reconnectFor = DefaultValidity
	// maxFailed bounds the failed members kept for reconnection.
	maxFailed = 4096
)

// failedMember is a member seen to fail, to try again.
type failedMember struct {
	addr  string
	since time.Time
}

// noteFailed keeps a member that failed or left for reconnection, or
// forgets one that is back. Only a member at the gossip address its
// verified announcement names is kept: memberlist's own claims of members
// are not signed, and a member could otherwise fill the list with made-up
// names and have every node dial addresses of its choosing. When the list
// is full, the oldest failure makes room. g.mu must not be held.
func (g *Gossip) noteFailed(n *memberlist.Node, failed bool) {
	addr := nodeAddr(n)
	e, ok := g.dir.Get(n.Name)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !failed {
		delete(g.failed, n.Name)
		return
	}
	if n.Name == g.name || !ok || !e.Verified || e.Record.Gossip != addr {
		return
	}
	if _, held := g.failed[n.Name]; !held && len(g.failed) >= maxFailed {
		oldest := ""
		for name, f := range g.failed {
			if oldest == "" || f.since.Before(g.failed[oldest].since) {
				oldest = name
			}
		}
		delete(g.failed, oldest)
	}
	g.failed[n.Name] = failedMember{addr: addr, since: time.Now()}
}

// reconnect tries, every interval until the node stops, to join one failed
// member picked at random, one try at a time. A try dialling a member
// that is gone waits for memberlist's TCP timeout (10 s lan, 30 s wan);
// Shutdown does not wait for it.
func (g *Gossip) reconnect(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var trying atomic.Bool
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		if g.stopped() || trying.Load() {
			continue
		}
		name, addr := g.pickFailed(time.Now())
		if addr == "" {
			continue
		}
		g.reconnects.Add(1)
		trying.Store(true)
		go func() {
			defer trying.Store(false)
			if _, err := g.ml.Join([]string{addr}); err != nil {
				g.log.Debug("gossip: a failed member is still unreachable", "member", name, "addr", addr, "err", err)
			}
		}()
	}
}

// stopped reports whether the node is stopping.
func (g *Gossip) stopped() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// pickFailed returns a failed member at random, forgetting those failed
// longer than reconnectFor ago and those whose newest announcement says
// they left or has expired; "" when none is left.
func (g *Gossip) pickFailed(now time.Time) (name, addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	names := make([]string, 0, len(g.failed))
	for n, f := range g.failed {
		e, ok := g.dir.Get(n)
		if now.Sub(f.since) > reconnectFor || ok && (e.Record.Leaving || !e.Record.Expires.After(now)) {
			delete(g.failed, n)
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return "", ""
	}
	name = names[rand.IntN(len(names))]
	return name, g.failed[name].addr
}

// Reconnects counts the tries to join a failed member again.
func (g *Gossip) Reconnects() int64 { return g.reconnects.Load() }
