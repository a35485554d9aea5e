// Package schemes remembers, for each peer host, which ways of signing a
// request it accepts, and so which the relay tries first: the
// "double-knock" of RFC 9421 senders, with memory.
//
// An unknown host gets draft-cavage first (what every fediverse server
// takes today); a 401 or 400 gets one retry with RFC 9421. What a host
// accepted is remembered for [Accepted] (14 days), what it refused for
// [Refused] (a day). A host is also known to take RFC 9421 (with RSA or
// Ed25519) when it says so in its actor's generator (FEP-844e) or signs
// its own requests to the relay that way. Among the kinds a host is known
// to accept the relay signs with the cheapest: Ed25519, then RFC 9421,
// then draft-cavage.
package schemes

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/runrig/runrig/relay/httpsig"
)

// How long what a host did is remembered.
const (
	// Accepted is how long a kind a host accepted is preferred.
	Accepted = 14 * 24 * time.Hour
	// Refused is how long a kind a host refused is not tried first.
	Refused = 24 * time.Hour
	// renewBefore: an accepted kind is written again to the store only
	// when its memory has less than this left, not after every delivery.
	renewBefore = Accepted - 24*time.Hour
	// maxHosts bounds the hosts held; a new host beyond it takes the place
	// of one whose memory ended, or of any one (the store keeps it until
	// it ends).
	maxHosts = 200_000
	// evictScan bounds the hosts looked at to find one whose memory ended.
	evictScan = 64
	// pendingWrites bounds the writes waiting for the store; a write that
	// does not fit is dropped (memory stays right, the store learns it at
	// the next change).
	pendingWrites = 1024
)

// Entry is what is remembered about one kind for one host.
type Entry struct {
	Host     string
	Kind     httpsig.Kind
	Accepted bool
	// Until is when the memory ends.
	Until time.Time
}

// Store keeps the memory across restarts.
type Store interface {
	// SignatureMemory returns every entry.
	SignatureMemory(ctx context.Context) ([]Entry, error)
	// RememberSignature records an entry, replacing the host's entry for
	// the same kind.
	RememberSignature(ctx context.Context, e Entry) error
}

// Memory is the per-host memory. It is safe for concurrent use.
type Memory struct {
	store  Store
	log    *slog.Logger
	now    func() time.Time
	writes chan Entry

	// mu guards hosts.
	mu    sync.Mutex
	hosts map[string]map[httpsig.Kind]Entry
}

// New returns a memory filled from st.
func New(ctx context.Context, st Store, log *slog.Logger) (*Memory, error) {
	m := &Memory{store: st, log: log, now: time.Now, writes: make(chan Entry, pendingWrites),
		hosts: map[string]map[httpsig.Kind]Entry{}}
	entries, err := st.SignatureMemory(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	for _, e := range entries {
		if now.Before(e.Until) {
			m.set(e)
		}
	}
	return m, nil
}

// Run writes changes to the store until ctx ends.
func (m *Memory) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-m.writes:
			if err := m.store.RememberSignature(ctx, e); err != nil && ctx.Err() == nil {
				m.log.Error("remembering how a host takes signatures", "host", e.Host, "err", err)
			}
		}
	}
}

// Plan returns how to sign a request to host: the kind to try first, and
// the one to retry with if that is refused ("" for none).
func (m *Memory) Plan(host string) (first, retry httpsig.Kind) {
	now := m.now()
	m.mu.Lock()
	kinds := m.hosts[host]
	m.mu.Unlock()
	live := func(k httpsig.Kind, accepted bool) bool {
		e, ok := kinds[k]
		return ok && e.Accepted == accepted && now.Before(e.Until)
	}
	first = httpsig.KindCavage
	switch {
	case live(httpsig.KindEd25519, true):
		first = httpsig.KindEd25519
	case live(httpsig.KindRFC9421, true):
		first = httpsig.KindRFC9421
	case live(httpsig.KindCavage, true):
	case live(httpsig.KindCavage, false) && !live(httpsig.KindRFC9421, false):
		first = httpsig.KindRFC9421
	}
	for _, k := range []httpsig.Kind{httpsig.KindCavage, httpsig.KindRFC9421} {
		if k != first && !live(k, false) {
			return first, k
		}
	}
	return first, ""
}

// Record records how host answered a request signed with kind: accepted
// (a 2xx) or refused (401 or 400). Other answers say nothing about the
// signature and are not recorded.
func (m *Memory) Record(host string, kind httpsig.Kind, accepted bool) {
	if kind == httpsig.KindCavage && accepted {
		m.mu.Lock()
		_, known := m.hosts[host]
		m.mu.Unlock()
		if !known {
			return // what an unknown host gets anyway: nothing to remember
		}
	}
	until := m.now().Add(Refused)
	if accepted {
		until = m.now().Add(Accepted)
	}
	m.remember(Entry{Host: host, Kind: kind, Accepted: accepted, Until: until})
}

// Learn records that host takes kind without having tried it: its actor
// says so (FEP-844e) or it signed its own request that way. A kind the
// host refused lately is not learned again until that memory ends.
func (m *Memory) Learn(host string, kind httpsig.Kind) {
	now := m.now()
	m.mu.Lock()
	e, ok := m.hosts[host][kind]
	m.mu.Unlock()
	if ok && !e.Accepted && now.Before(e.Until) {
		return
	}
	m.remember(Entry{Host: host, Kind: kind, Accepted: true, Until: now.Add(Accepted)})
}

// remember updates the memory, and the store when what it holds changes
// or an accepted kind's memory needs renewing.
func (m *Memory) remember(e Entry) {
	now := m.now()
	m.mu.Lock()
	old, ok := m.hosts[e.Host][e.Kind]
	if ok && old.Accepted == e.Accepted && (!e.Accepted || old.Until.Sub(now) > renewBefore) {
		m.mu.Unlock()
		return
	}
	if !m.set(e) {
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	select {
	case m.writes <- e:
	default:
	}
}

// set holds e; the caller holds mu (or has the memory to itself). A new
// host beyond maxHosts takes the place of another (evict).
func (m *Memory) set(e Entry) bool {
	kinds := m.hosts[e.Host]
	if kinds == nil {
		if len(m.hosts) >= maxHosts {
			m.evict()
		}
		kinds = map[httpsig.Kind]Entry{}
		m.hosts[e.Host] = kinds
	}
	kinds[e.Kind] = e
	return true
}

// evict forgets a host whose memory ended, looking at up to evictScan
// hosts, or else the last one looked at (map order is random, so any one).
// The caller holds mu.
func (m *Memory) evict() {
	now := m.now()
	var victim string
	n := 0
	for host, kinds := range m.hosts {
		victim = host
		ended := true
		for _, e := range kinds {
			ended = ended && !now.Before(e.Until)
		}
		if n++; ended || n >= evictScan {
			break
		}
	}
	delete(m.hosts, victim)
}

// Of returns what is remembered about host, for the admin view.
func (m *Memory) Of(host string) []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for _, k := range httpsig.Kinds() {
		if e, ok := m.hosts[host][k]; ok {
			out = append(out, e)
		}
	}
	return out
}
