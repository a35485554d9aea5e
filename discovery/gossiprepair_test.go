package discovery

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
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
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		d := fmt.Sprintf("repair%02d.example", i)
		ring.mu.Lock()
		ring.keys["https://"+d+"/actor#ed25519-key"] = AssertionKey{ID: "https://" + d + "/actor#ed25519-key",
			Controller: "https://" + d + "/actor", Public: pub}
		ring.mu.Unlock()
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
	if unlucky.g.Wants() == 0 {
		t.Fatal("the announcement arrived, but not by asking for it")
	}
}

// A node that holds a member's verified announcement but does not list
// the member (it missed memberlist's alive messages — here it is in a
// cluster of its own) joins the address the announcement names.
func TestAnnouncedMemberIsJoined(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	mk := func(i int, join []string) *node {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		d := fmt.Sprintf("split%02d.example", i)
		ring.mu.Lock()
		ring.keys["https://"+d+"/actor#ed25519-key"] = AssertionKey{ID: "https://" + d + "/actor#ed25519-key",
			Controller: "https://" + d + "/actor", Public: pub}
		ring.mu.Unlock()
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
	if alone.g.Joins() != 1 {
		t.Fatalf("joined directly %d times, want 1", alone.g.Joins())
	}
}
