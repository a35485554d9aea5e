package relay

import (
	"log/slog"
	"sync"
	"time"
)

// Limits of the log of peer-caused errors.
const (
	// peerLogInterval is how often one kind of peer-caused error from one
	// peer is logged; repeats in between are counted and reported with
	// the next line.
	peerLogInterval = time.Minute
	// peerLogLines bounds the lines logged per interval over all peers,
	// for verified peers and for the others separately: the peer names of
	// unverified requests are the sender's to choose, and a sender minting
	// them must neither flood the log nor hide verified peers' errors.
	peerLogLines = 300
	// peerLogKeys bounds the (peer, reason) pairs remembered.
	peerLogKeys = 10000
)

// peerLog logs errors caused by peers at most once per interval per
// (peer, reason), so a misbehaving peer cannot flood the log.
type peerLog struct {
	log *slog.Logger

	// mu guards the following fields.
	mu     sync.Mutex
	last   map[string]*logEntry
	window time.Time // start of the current interval
	lines  [2]int    // logged in the current interval: unverified, verified
	unseen [2]int    // not logged for peerLogLines, reported with the next line
}

type logEntry struct {
	at         time.Time
	suppressed int
}

func newPeerLog(l *slog.Logger) *peerLog {
	return &peerLog{log: l, last: map[string]*logEntry{}}
}

// Warn logs msg for peer and reason unless one was logged recently; peer
// is a name nothing verified.
func (p *peerLog) Warn(peer, reason, msg string, args ...any) {
	p.warn(false, peer, reason, msg, args...)
}

// WarnVerified is Warn for a peer whose signature verified.
func (p *peerLog) WarnVerified(peer, reason, msg string, args ...any) {
	p.warn(true, peer, reason, msg, args...)
}

func (p *peerLog) warn(verified bool, peer, reason, msg string, args ...any) {
	class := 0
	if verified {
		class = 1
	}
	key := peer + "\x00" + reason
	now := time.Now()
	p.mu.Lock()
	e := p.last[key]
	if e != nil && now.Sub(e.at) < peerLogInterval {
		e.suppressed++
		p.mu.Unlock()
		return
	}
	if now.Sub(p.window) >= peerLogInterval {
		p.window, p.lines = now, [2]int{}
	}
	if p.lines[class] >= peerLogLines {
		p.unseen[class]++
		p.mu.Unlock()
		return
	}
	p.lines[class]++
	suppressed, unseen := 0, p.unseen[class]
	if e != nil {
		suppressed = e.suppressed
	}
	if len(p.last) >= peerLogKeys {
		p.last = map[string]*logEntry{}
	}
	p.last[key] = &logEntry{at: now}
	p.unseen[class] = 0
	p.mu.Unlock()
	args = append(args, "peer", peer, "reason", reason)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	if unseen > 0 {
		args = append(args, "other_errors_not_logged", unseen)
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
