package discovery

import (
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
	// Down is set when the gossip layer saw the peer fail or leave, at
	// the gossip address its verified announcement names. It is a hint
	// for operators: members' claims about another member cannot be
	// verified, so nothing the relay decides depends on it.
	Down bool `json:"down"`
	// Signed is the announcement as received, to pass on.
	Signed []byte `json:"-"`
}

// Directory merges what the DHT, gossip and operators say about peers.
// Only verified announcements enter it. It is safe for concurrent use.
type Directory struct {
	mu sync.Mutex // guards m
	m  map[string]*Entry
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{m: map[string]*Entry{}} }

// Put records a verified announcement heard from src; an older record
// (lower sequence) does not replace a newer one.
func (d *Directory) Put(r Record, signed []byte, src Source, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.m[r.Domain]
	if e == nil {
		e = &Entry{}
		d.m[r.Domain] = e
	}
	if r.Seq >= e.Record.Seq {
		e.Record, e.Signed = r, signed
	}
	e.Verified, e.LastSeen, e.Down = true, now, false
	for _, s := range e.Sources {
		if s == src {
			return
		}
	}
	e.Sources = append(e.Sources, src)
}

// SetDown marks a peer down (or up again) as the gossip member at addr
// (host:port). A member of that name at another address is not the peer
// its verified announcement describes, and changes nothing.
func (d *Directory) SetDown(domain, addr string, down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.m[domain]; e != nil && e.Record.Gossip != "" && e.Record.Gossip == addr {
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
