package discovery

import (
	"math/rand/v2"
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
// forgets one that is back. g.mu must not be held.
func (g *Gossip) noteFailed(n *memberlist.Node, failed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !failed {
		delete(g.failed, n.Name)
		return
	}
	if n.Name == g.name {
		return
	}
	if _, ok := g.failed[n.Name]; !ok && len(g.failed) >= maxFailed {
		return
	}
	g.failed[n.Name] = failedMember{addr: nodeAddr(n), since: time.Now()}
}

// reconnect tries, every interval until the node stops, to join one failed
// member picked at random.
func (g *Gossip) reconnect(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		name, addr := g.pickFailed(time.Now())
		if addr == "" {
			continue
		}
		g.reconnects.Add(1)
		if _, err := g.ml.Join([]string{addr}); err != nil {
			g.log.Debug("gossip: a failed member is still unreachable", "member", name, "addr", addr, "err", err)
		}
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
