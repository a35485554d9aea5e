package discovery

import (
	"sync"
	"time"
)

// Limits of the queue of announcements waiting for verification.
const (
	// maxVerifyQueue bounds the announced domains waiting for verification:
	// as many domains verified before, and as many new ones.
	maxVerifyQueue = 1024
	// maxVerifyWait bounds how long an announcement waits: one older than
	// this is dropped unverified (push/pull brings it again), so a flood
	// cannot queue hours of work ahead of what arrives next.
	maxVerifyWait = time.Minute
	// verifyWorkers verify at once, so that one domain that never answers
	// holds up one worker, not the queue. One of them verifies only
	// domains verified before, so that those never wait behind new ones.
	verifyWorkers = 4
)

// verifyQueue holds announcements waiting for verification: one per
// announced domain, the newest, so that a sender repeating itself takes
// one place. Domains already verified come first: a member flooding the
// cluster with announcements of new domains (each costing a key fetch)
// does not delay the re-announcements of the peers already known. Within
// each class the oldest comes first. It is safe for concurrent use.
type verifyQueue struct {
	max int
	// readyKnown is signalled when a known domain's announcement waits,
	// readyAny when any does.
	readyKnown, readyAny chan struct{}

	// mu guards the following fields.
	mu       sync.Mutex
	byDomain map[string]*waiting
	known    []string // domains verified before, oldest first
	unknown  []string // domains never verified, oldest first
}

// waiting is an announcement in the queue.
type waiting struct {
	signed []byte
	seq    uint64
	at     time.Time
}

func newVerifyQueue(max int) *verifyQueue {
	return &verifyQueue{max: max, readyKnown: make(chan struct{}, 1), readyAny: make(chan struct{}, 1),
		byDomain: map[string]*waiting{}}
}

// push queues an announcement of domain; a newer one (higher seq) replaces
// a waiting one and keeps its place. It reports false when the places
// of its class (known or new) are taken.
func (q *verifyQueue) push(domain string, seq uint64, signed []byte, known bool, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if w := q.byDomain[domain]; w != nil {
		if seq > w.seq {
			w.signed, w.seq = signed, seq
		}
		return true
	}
	if known && len(q.known) >= q.max || !known && len(q.unknown) >= q.max {
		return false // the known have places of their own: new ones cannot fill them
	}
	q.byDomain[domain] = &waiting{signed: signed, seq: seq, at: now}
	if known {
		q.known = append(q.known, domain)
	} else {
		q.unknown = append(q.unknown, domain)
	}
	q.signal()
	return true
}

// pop takes the next announcement to verify, of a known domain only if
// knownOnly; stale counts those dropped for waiting longer than maxWait.
// ok is false when none waits.
func (q *verifyQueue) pop(now time.Time, maxWait time.Duration, knownOnly bool) (signed []byte, stale int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	lists := []*[]string{&q.known, &q.unknown}
	if knownOnly {
		lists = lists[:1]
	}
	for _, list := range lists {
		for len(*list) > 0 {
			d := (*list)[0]
			*list = (*list)[1:]
			w := q.byDomain[d]
			delete(q.byDomain, d)
			if now.Sub(w.at) > maxWait {
				stale++
				continue
			}
			q.signal() // more may wait: wake another worker
			return w.signed, stale, true
		}
	}
	return nil, stale, false
}

// signal wakes workers for what waits; q.mu must be held.
func (q *verifyQueue) signal() {
	for _, c := range []struct {
		ch   chan struct{}
		some bool
	}{{q.readyKnown, len(q.known) > 0}, {q.readyAny, len(q.byDomain) > 0}} {
		if c.some {
			select {
			case c.ch <- struct{}{}:
			default:
			}
		}
	}
}

// ready is the channel a worker waits on: of known domains only if
// knownOnly.
func (q *verifyQueue) ready(knownOnly bool) <-chan struct{} {
	if knownOnly {
		return q.readyKnown
	}
	return q.readyAny
}

// len is how many announcements wait.
func (q *verifyQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.byDomain)
}
