package discovery

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// A member that heard none of gossip's transmissions of a new member's
// announcement (as one in eight new members was missed by someone in a
// 50-node cluster) asks the member for it, instead of waiting for
// push/pull — here an hour away.
func TestMissedAnnouncementIsAskedFor(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	var nodes []*node
	start := func(i int, announced bool) *node {
		d := fmt.Sprintf("repair%02d.example", i)
		priv := ring.add(d)
		nd := &node{domain: d, priv: priv, dir: NewDirectory()}
		cfg := GossipConfig{Name: d, Bind: "127.0.0.1:0", Profile: "local", PushPullInterval: time.Hour}
		if announced {
			cfg.Announcement = announce(t, nd, 1, priv)
		}
		if len(nodes) > 0 {
			cfg.Join = []string{nodes[0].g.Addr()}
		}
		g, err := StartGossip(cfg, NewVerifier(ring).Verify, nd.dir)
		if err != nil {
			t.Fatal(err)
		}
		nd.g = g
		t.Cleanup(func() { g.Shutdown() })
		nodes = append(nodes, nd)
		return nd
	}
	start(0, false)
	unlucky := start(1, false)
	start(2, false)
	unlucky.g.dropGossiped.Store(true)
	joined := start(3, true)
	waitUntil(t, 30*time.Second, "the unlucky member holds the new member's verified announcement", func() bool {
		e, ok := unlucky.dir.Get(joined.domain)
		return ok && e.Verified
	})
	if unlucky.g.Repairs().Asked == 0 {
		t.Fatal("the announcement arrived, but not by asking for it")
	}
}

// A node that holds a member's verified announcement but does not list
// the member (it missed memberlist's alive messages — here it is in a
// cluster of its own) joins the address the announcement names.
func TestAnnouncedMemberIsJoined(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	mk := func(i int, join []string) *node {
		d := fmt.Sprintf("split%02d.example", i)
		priv := ring.add(d)
		nd := &node{domain: d, priv: priv, dir: NewDirectory(), addr: freeGossipAddr(t)}
		g, err := StartGossip(GossipConfig{Name: d, Bind: nd.addr, Profile: "local", PushPullInterval: time.Hour,
			Announcement: announce(t, nd, 1, priv), Join: join}, NewVerifier(ring).Verify, nd.dir)
		if err != nil {
			t.Fatal(err)
		}
		nd.g = g
		t.Cleanup(func() { g.Shutdown() })
		return nd
	}
	a := mk(0, nil)
	b := mk(1, []string{a.addr})
	alone := mk(2, nil)
	if alone.g.HasMember(b.domain) {
		t.Fatal("the lone node is a member already")
	}
	alone.g.NotifyMsg(append([]byte{msgOwn}, announce(t, b, 2, b.priv)...))
	waitUntil(t, 30*time.Second, "the lone node lists the announced member", func() bool {
		return alone.g.HasMember(b.domain) && alone.g.HasMember(a.domain)
	})
	if n := alone.g.Repairs().Joined; n != 1 {
		t.Fatalf("joined directly %d times, want 1", n)
	}
}

// An ask from a name that is no member is refused and counted, and
// nothing is kept of it: a member cannot fill a node's memory with asks
// under made-up names.
func TestAskFromStrangerIsRefused(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	nd := &node{domain: "asked.example", priv: ring.add("asked.example"), dir: NewDirectory()}
	var refused []error
	var mu sync.Mutex
	g, err := StartGossip(GossipConfig{Name: nd.domain, Bind: "127.0.0.1:0", Profile: "local",
		Announcement: announce(t, nd, 1, nd.priv),
		OnRejected:   func(err error) { mu.Lock(); refused = append(refused, err); mu.Unlock() }}, NewVerifier(ring).Verify, nd.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown() })
	for i := range 100 {
		g.NotifyMsg(append([]byte{msgWant}, fmt.Sprintf("stranger%03d.example", i)...))
	}
	g.mu.Lock()
	kept := len(g.answered)
	g.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if kept != 0 || len(refused) != 100 || !errors.Is(refused[0], ErrMalformed) {
		t.Fatalf("after 100 asks from strangers: %d kept, %d refused (%v)", kept, len(refused), refused[:min(1, len(refused))])
	}
}
