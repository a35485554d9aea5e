package discovery

import (
	"math/rand/v2"
	"sync"
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

// failedList holds the members seen to fail, for reconnection. It is safe
// for concurrent use.
type failedList struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]failedMember
}

// note keeps a member that failed or left, or forgets one that is back.
// Only a member at the gossip address its verified announcement names is
// kept: memberlist's own claims of members are not signed, and a member
// could otherwise fill the list with made-up names and have every node
// dial addresses of its choosing. When the list is full, the oldest
// failure makes room.
func (f *failedList) note(n *memberlist.Node, failed bool, dir *Directory, now time.Time) {
	if !failed {
		f.mu.Lock()
		delete(f.m, n.Name)
		f.mu.Unlock()
		return
	}
	addr := nodeAddr(n)
	if e, ok := dir.Get(n.Name); !ok || !e.Verified || e.Record.Gossip != addr {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, held := f.m[n.Name]; !held && len(f.m) >= maxFailed {
		oldest := ""
		for name, m := range f.m {
			if oldest == "" || m.since.Before(f.m[oldest].since) {
				oldest = name
			}
		}
		delete(f.m, oldest)
	}
	f.m[n.Name] = failedMember{addr: addr, since: now}
}

// pick returns a failed member at random, forgetting those failed longer
// than reconnectFor ago and those whose newest announcement says they left
// or has expired; "" when none is left.
func (f *failedList) pick(dir *Directory, now time.Time) (name, addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.m))
	for n, m := range f.m {
		e, ok := dir.Get(n)
		if now.Sub(m.since) > reconnectFor || ok && (e.Record.Leaving || !e.Record.Expires.After(now)) {
			delete(f.m, n)
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return "", ""
	}
	name = names[rand.IntN(len(names))]
	return name, f.m[name].addr
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
		name, addr := g.failed.pick(g.dir, time.Now())
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
