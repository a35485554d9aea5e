package discovery

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Limits of the queue of announcements waiting for verification.
const (
	// maxVerifyQueue bounds the announcements waiting for verification:
	// as many of known signers, and as many of others.
	maxVerifyQueue = 1024
	// maxWaitingPerSigner bounds the announcements waiting per domain and
	// signing key. Nothing waiting is replaced by a later arrival (its
	// sequence number is not verified yet, so a forgery claiming a higher
	// one could push out the genuine announcement); beyond the bound a new
	// arrival is refused as busy and comes again with the next exchange.
	maxWaitingPerSigner = 4
	// maxVerifyWait bounds how long an announcement waits: one older than
	// this is dropped unverified (push/pull brings it again), so a flood
	// cannot queue hours of work ahead of what arrives next.
	maxVerifyWait = time.Minute
	// verifyWorkers verify at once, so that one domain that never answers
	// holds up one worker, not the queue. One of them verifies only
	// announcements of known signers, so that those never wait behind
	// others.
	verifyWorkers = 4
)

// verifyQueue holds announcements waiting for verification, each once.
// Known signers come first: an announcement signed with the key that last
// verified for its domain (a peer re-announcing) is never delayed by a
// member flooding the cluster with announcements of new domains or made-up
// keys, each costing a key fetch. Within each class the oldest comes
// first. It is safe for concurrent use.
type verifyQueue struct {
	max int
	// readyKnown is signalled when a known signer's announcement waits,
	// readyAny when any does.
	readyKnown, readyAny chan struct{}

	// mu guards the following fields.
	mu       sync.Mutex
	waiting  map[[32]byte]*waiting // by content
	bySigner map[signer]int        // how many wait per domain and key
	known    []*waiting            // of known signers, oldest first
	unknown  []*waiting            // of others, oldest first
}

// signer is who an announcement says signed it.
type signer struct{ domain, key string }

// waiting is an announcement in the queue.
type waiting struct {
	signed []byte
	sum    [32]byte
	by     signer
	at     time.Time
}

func newVerifyQueue(max int) *verifyQueue {
	return &verifyQueue{max: max, readyKnown: make(chan struct{}, 1), readyAny: make(chan struct{}, 1),
		waiting: map[[32]byte]*waiting{}, bySigner: map[signer]int{}}
}

// push queues an announcement of domain signed with key; known says the
// key is the one that last verified for the domain. An announcement
// already waiting is not queued twice. It reports false when the places
// of its class, or of its signer, are taken.
func (q *verifyQueue) push(domain, key string, signed []byte, known bool, now time.Time) bool {
	sum := sha256.Sum256(signed)
	by := signer{domain, key}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiting[sum] != nil {
		return true
	}
	list := &q.unknown
	if known {
		list = &q.known
	}
	if len(*list) >= q.max || q.bySigner[by] >= maxWaitingPerSigner {
		return false
	}
	w := &waiting{signed: signed, sum: sum, by: by, at: now}
	q.waiting[sum] = w
	q.bySigner[by]++
	*list = append(*list, w)
	q.signal()
	return true
}

// pop takes the next announcement to verify (w.signed, its domain
// w.by.domain), of a known signer only if
// knownOnly; stale counts those dropped for waiting longer than maxWait.
// ok is false when none waits.
func (q *verifyQueue) pop(now time.Time, maxWait time.Duration, knownOnly bool) (w *waiting, stale int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	lists := []*[]*waiting{&q.known, &q.unknown}
	if knownOnly {
		lists = lists[:1]
	}
	for _, list := range lists {
		for len(*list) > 0 {
			w := (*list)[0]
			(*list)[0] = nil
			*list = (*list)[1:]
			delete(q.waiting, w.sum)
			if q.bySigner[w.by]--; q.bySigner[w.by] <= 0 {
				delete(q.bySigner, w.by)
			}
			if now.Sub(w.at) > maxWait {
				stale++
				continue
			}
			q.signal() // more may wait: wake another worker
			return w, stale, true
		}
	}
	return nil, stale, false
}

// signal wakes workers for what waits; q.mu must be held.
func (q *verifyQueue) signal() {
	for _, c := range []struct {
		ch   chan struct{}
		some bool
	}{{q.readyKnown, len(q.known) > 0}, {q.readyAny, len(q.waiting) > 0}} {
		if c.some {
			select {
			case c.ch <- struct{}{}:
			default:
			}
		}
	}
}

// ready is the channel a worker waits on: of known signers only if
// knownOnly.
func (q *verifyQueue) ready(knownOnly bool) <-chan struct{} {
	if knownOnly {
		return q.readyKnown
	}
	return q.readyAny
}

// has reports whether an announcement of domain waits.
func (q *verifyQueue) has(domain string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for by := range q.bySigner {
		if by.domain == domain {
			return true
		}
	}
	return false
}

// len is how many announcements wait.
func (q *verifyQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}
