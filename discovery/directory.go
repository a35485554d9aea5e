package discovery

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// Source is where a peer was heard of.
type Source string

// Sources of the directory.
const (
	SourceDHT    Source = "dht"
	SourceGossip Source = "gossip"
	SourceManual Source = "manual"
)

// Entry is a peer in the directory.
type Entry struct {
	Record   Record    `json:"record"`
	Sources  []Source  `json:"sources"`
	Verified bool      `json:"verified"`
	LastSeen time.Time `json:"last_seen"`
	// Down is set when the peer's newest announcement says it is
	// leaving, when the gossip layer saw it fail or leave at the gossip
	// address its verified announcement names, or could not reach it
	// there. It is a hint for operators: members' claims about another
	// member cannot be verified, so nothing the relay decides depends on
	// it.
	Down bool `json:"down"`
	// downAt is when gossip saw the peer go down: only an announcement
	// issued after it marks the peer up again.
	downAt time.Time
	// Signed is the announcement as received, to pass on.
	Signed []byte `json:"-"`
}

// Bounds of the directory.
const (
	// DefaultMaxPeers bounds the peers a directory holds (about 2 KiB
	// each with the announcement kept to pass on): a cooperative network
	// of thousands of relays fits, a flood of made-up domains does not
	// grow the relay without end.
	DefaultMaxPeers = 10000
	// removeExpiredAfter is how long an entry whose record has expired is
	// kept (listed nowhere) before Prune removes it: a relay that went
	// away is first marked down by gossip, then expires, then goes.
	removeExpiredAfter = 24 * time.Hour
)

// Directory merges what the DHT, gossip and operators say about peers.
// Only verified announcements enter it. It holds at most its maximum of
// peers: a new peer beyond it takes the place of the least useful one, in
// this order — expired records first, then peers gossip saw go down, then
// the others, each by the oldest last-heard; peers added by an operator or
// kept (the relays this relay follows) go last and are never pushed out
// by a new peer: when only they are left, the new peer is refused. It is
// safe for concurrent use.
type Directory struct {
	max int

	// mu guards the following fields.
	mu      sync.Mutex
	m       map[string]*Entry
	kept    map[string]bool // Keep's domains
	evicted int64           // peers pushed out to make room
}

// NewDirectory returns an empty directory of at most DefaultMaxPeers.
func NewDirectory() *Directory { return NewDirectoryOf(DefaultMaxPeers) }

// NewDirectoryOf returns an empty directory of at most max peers.
func NewDirectoryOf(max int) *Directory {
	return &Directory{max: max, m: map[string]*Entry{}, kept: map[string]bool{}}
}

// Keep names the peers that must stay when room is made (the relays this
// relay follows), replacing those named before.
func (d *Directory) Keep(domains []string) {
	kept := make(map[string]bool, len(domains))
	for _, dom := range domains {
		kept[dom] = true
	}
	d.mu.Lock()
	d.kept = kept
	d.mu.Unlock()
}

// Evicted counts the peers pushed out to make room for new ones.
func (d *Directory) Evicted() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.evicted
}

// Len is how many peers the directory holds, expired ones included.
func (d *Directory) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}

// Put records a verified announcement heard from src; an older record
// (lower sequence) does not replace a newer one. It reports false when a
// new peer was refused: the directory is full of peers that must stay.
func (d *Directory) Put(r Record, signed []byte, src Source, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.m[r.Domain]
	if e == nil {
		if len(d.m) >= d.max && !d.evictOne(now) {
			return false
		}
		e = &Entry{}
		d.m[r.Domain] = e
	}
	if r.Seq > e.Record.Seq {
		// A newer announcement, issued after the peer was seen down: the
		// peer was alive to sign it, and says whether it is leaving. The
		// same one again says nothing of now (the DHT and push/pull hand
		// out a departed peer's until it expires), nor does a newer one
		// signed before the peer went down (a relay signs one for the DHT
		// and one for gossip, and a lookup may find the DHT's after gossip
		// saw the relay crash).
		e.Down = r.Leaving || e.Down && !r.Issued.After(e.downAt)
	}
	if r.Seq >= e.Record.Seq {
		e.Record, e.Signed = r, signed
	}
	e.Verified, e.LastSeen = true, now
	for _, s := range e.Sources {
		if s == src {
			return true
		}
	}
	e.Sources = append(e.Sources, src)
	return true
}

// evictOne removes the least useful peer (see Directory) to make room,
// reporting false when every peer must stay. d.mu must be held.
func (d *Directory) evictOne(now time.Time) bool {
	victim, worst := "", evictKept
	var oldest time.Time
	for dom, e := range d.m {
		c := d.evictClass(dom, e, now)
		if c < worst || c == worst && c != evictKept && e.LastSeen.Before(oldest) {
			victim, worst, oldest = dom, c, e.LastSeen
		}
	}
	if victim == "" {
		return false
	}
	delete(d.m, victim)
	d.evicted++
	return true
}

// Classes of eviction, first evicted first.
const (
	evictExpired = iota
	evictDown
	evictOther
	evictKept
)

func (d *Directory) evictClass(domain string, e *Entry, now time.Time) int {
	switch {
	case d.kept[domain] || slices.Contains(e.Sources, SourceManual):
		return evictKept
	case !e.Record.Expires.After(now):
		return evictExpired
	case e.Down:
		return evictDown
	}
	return evictOther
}

// Prune removes the peers whose records expired more than a day ago
// and reports how many.
func (d *Directory) Prune(now time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for dom, e := range d.m {
		if now.Sub(e.Record.Expires) > removeExpiredAfter {
			delete(d.m, dom)
			n++
		}
	}
	return n
}

// SetDown marks a peer down (or up again) as the gossip member at addr
// (host:port). A member of that name at another address is not the peer
// its verified announcement describes, and changes nothing.
func (d *Directory) SetDown(domain, addr string, down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.m[domain]; e != nil && e.Record.Gossip != "" && e.Record.Gossip == addr {
		if down && !e.Down {
			e.downAt = time.Now()
		}
		e.Down = down
	}
}

// Get returns a peer's entry.
func (d *Directory) Get(domain string) (Entry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[domain]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// List returns every entry whose record has not expired, by domain.
func (d *Directory) List(now time.Time) []Entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Entry, 0, len(d.m))
	for _, e := range d.m {
		if e.Record.Expires.After(now) {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Record.Domain < out[j].Record.Domain })
	return out
}

// Matches reports whether want is empty or among have: whether a peer
// serving have (regions, kinds) matches a lookup for want.
func Matches(have []string, want string) bool {
	if want == "" {
		return true
	}
	for _, h := range have {
		if h == want {
			return true
		}
	}
	return false
}
