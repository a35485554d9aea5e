package relay

import (
	"log/slog"
	"sync"
	"time"
)

// peerLogInterval is how often one kind of peer-caused error from one peer
// is logged; repeats in between are counted and reported with the next line.
const peerLogInterval = time.Minute

// peerLog logs errors caused by peers at most once per interval per
// (peer, reason), so a misbehaving peer cannot flood the log.
type peerLog struct {
	log *slog.Logger

	// mu guards the following fields.
	mu   sync.Mutex
	last map[string]*logEntry
}

type logEntry struct {
	at         time.Time
	suppressed int
}

func newPeerLog(l *slog.Logger) *peerLog {
	return &peerLog{log: l, last: map[string]*logEntry{}}
}

// Warn logs msg for peer and reason unless one was logged recently.
func (p *peerLog) Warn(peer, reason, msg string, args ...any) {
	key := peer + "\x00" + reason
	now := time.Now()
	p.mu.Lock()
	e := p.last[key]
	if e != nil && now.Sub(e.at) < peerLogInterval {
		e.suppressed++
		p.mu.Unlock()
		return
	}
	suppressed := 0
	if e != nil {
		suppressed = e.suppressed
	}
	if len(p.last) > 10000 {
		p.last = map[string]*logEntry{}
	}
	p.last[key] = &logEntry{at: now}
	p.mu.Unlock()
	args = append(args, "peer", peer, "reason", reason)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	p.log.Warn(msg, args...)
}

// maxCountedPeers bounds the per-peer rejection counters.
const maxCountedPeers = 10000

// peerCounts counts refusals per peer since the relay started, kept in
// memory: a peer must not be able to make the relay write to its store by
// sending bad requests.
type peerCounts struct {
	mu sync.Mutex // guards m
	m  map[string]int64
}

func (c *peerCounts) inc(peer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	if _, ok := c.m[peer]; !ok && len(c.m) >= maxCountedPeers {
		return
	}
	c.m[peer]++
}

func (c *peerCounts) get(peer string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[peer]
}
