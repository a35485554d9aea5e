package discovery

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// startMember starts a gossip member of domain at addr announcing itself,
// joining join; it is shut down when the test ends.
func startMember(t *testing.T, ring *keyring, domain, addr string, reconnect time.Duration, join ...string) *node {
	t.Helper()
	priv := ring.add(domain)
	nd := &node{domain: domain, priv: priv, dir: NewDirectory(), addr: addr}
	g, err := StartGossip(GossipConfig{Name: domain, Bind: addr, Profile: "local", Join: join,
		Announcement: announce(t, nd, 1, priv), ReconnectInterval: reconnect}, NewVerifier(ring).Verify, nd.dir)
	if err != nil {
		t.Fatal(err)
	}
	nd.g = g
	t.Cleanup(func() { g.Shutdown() })
	return nd
}

// A member that joins after another went away still hears of it (a state
// exchange hands out its announcement until it expires, and memberlist
// tells of no death of a member the newcomer never knew): the newcomer
// cannot reach it where it announced itself, and lists it down.
func TestDepartedMemberIsDownForLateJoiner(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	a := startMember(t, ring, "stays.example", freeGossipAddr(t), time.Hour)
	gone := startMember(t, ring, "gone.example", freeGossipAddr(t), time.Hour, a.addr)
	waitUntil(t, 20*time.Second, "the first member holds the other's announcement", func() bool {
		e, ok := a.dir.Get(gone.domain)
		return ok && e.Verified
	})
	gone.g.Shutdown()
	waitUntil(t, 30*time.Second, "the first member sees it down", func() bool {
		e, _ := a.dir.Get(gone.domain)
		return e.Down
	})
	late := startMember(t, ring, "late.example", freeGossipAddr(t), time.Hour, a.addr)
	waitUntil(t, 30*time.Second, "the late member lists the departed one, down", func() bool {
		e, ok := late.dir.Get(gone.domain)
		return ok && e.Verified && e.Down
	})
}

// When a region is cut in two, each half declares the other dead and
// memberlist never reaches out again. Here one member fails and comes
// back at its address in a cluster of its own (as the other half of a
// healed cut is): the member that saw it fail joins it again, and both
// list each other up. One that left, saying so, is not tried again.
func TestFailedMemberIsReconnected(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	tests := []struct {
		name      string
		leave     bool
		reconnect bool
	}{
		{"failed: joined again", false, true},
		{"left: not tried", true, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := startMember(t, ring, fmt.Sprintf("half%da.example", i), freeGossipAddr(t), 200*time.Millisecond)
			bAddr := freeGossipAddr(t)
			b := startMember(t, ring, fmt.Sprintf("half%db.example", i), bAddr, time.Hour, a.addr)
			waitUntil(t, 20*time.Second, "both list each other", func() bool {
				return a.g.HasMember(b.domain) && b.g.HasMember(a.domain)
			})
			if tc.leave { // as a relay's node leaves: a farewell first
				farewell := b.announceLeaving(t, 2)
				b.g.Announce(farewell)
				waitUntil(t, 20*time.Second, "the first member holds the farewell", func() bool {
					e, _ := a.dir.Get(b.domain)
					return e.Record.Leaving
				})
				b.g.Leave(time.Second)
			} else {
				b.g.Shutdown()
			}
			waitUntil(t, 30*time.Second, "the first member sees the other down", func() bool {
				e, _ := a.dir.Get(b.domain)
				return !a.g.HasMember(b.domain) && e.Down
			})
			back := startMember(t, ring, b.domain, bAddr, time.Hour)
			if !tc.reconnect {
				if name, _ := a.g.failed.pick(a.dir, time.Now()); name != "" || a.g.Repairs().Reconnected != 0 {
					t.Fatalf("picked %q for reconnection after a farewell (%d tries)", name, a.g.Repairs().Reconnected)
				}
				return
			}
			waitUntil(t, 30*time.Second, "the halves are one again, each up in the other's directory", func() bool {
				ea, _ := a.dir.Get(b.domain)
				eb, _ := back.dir.Get(a.domain)
				return a.g.HasMember(b.domain) && back.g.HasMember(a.domain) && !ea.Down && eb.Verified && !eb.Down
			})
			if a.g.Repairs().Reconnected == 0 {
				t.Fatal("joined again without reconnecting")
			}
		})
	}
}

// announceLeaving signs the member's farewell: seq, marked leaving.
func (n *node) announceLeaving(t testing.TB, seq uint64) []byte {
	now := time.Now()
	b, err := Sign(Record{Domain: n.domain, Actor: "https://" + n.domain + "/actor", Inbox: "https://" + n.domain + "/inbox",
		Software: "runrig test", Seq: seq, Leaving: true, Issued: now, Expires: now.Add(time.Hour), Gossip: n.g.Addr()},
		"https://"+n.domain+"/actor#ed25519-key", n.priv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A farewell is passed on, but its member is going: no node tries to join
// it (in the 50-member churn simulation every node tried every farewell's
// member, 250 joins of departed members).
func TestFarewellIsNotJoined(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	lone := startMember(t, ring, "lone.example", freeGossipAddr(t), time.Hour)
	going := &node{domain: "going.example", priv: ring.add("going.example"), addr: freeGossipAddr(t)}
	other := startMember(t, ring, "other.example", freeGossipAddr(t), time.Hour)
	now := time.Now()
	farewell, err := Sign(Record{Domain: going.domain, Actor: "https://" + going.domain + "/actor",
		Inbox: "https://" + going.domain + "/inbox", Software: "runrig test", Seq: 2, Leaving: true,
		Issued: now, Expires: now.Add(time.Hour), Gossip: going.addr}, "https://"+going.domain+"/actor#ed25519-key", going.priv)
	if err != nil {
		t.Fatal(err)
	}
	lone.g.NotifyMsg(append([]byte{msgOwn}, farewell...))
	waitUntil(t, 20*time.Second, "the farewell is verified, its member down", func() bool {
		e, _ := lone.dir.Get(going.domain)
		return e.Record.Leaving && e.Down
	})
	// A member announced after the farewell is joined after it would be.
	lone.g.NotifyMsg(append([]byte{msgOwn}, announce(t, other, 2, other.priv)...))
	waitUntil(t, 20*time.Second, "the lone node lists the other member", func() bool { return lone.g.HasMember(other.domain) })
	if n := lone.g.Repairs().Joined; n != 1 {
		t.Fatalf("joined directly %d times, want 1 (the other member, not the farewell's)", n)
	}
}

// Memberlist's claims of members are not signed: a member announcing
// made-up names at addresses of its choosing, which then "fail", must not
// fill the reconnection list (and have every node dial those addresses),
// nor push out a real member. Only a member at the address its verified
// announcement names is kept.
func TestFailedListHoldsOnlyAnnouncedMembers(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	a := startMember(t, ring, "keeper.example", freeGossipAddr(t), time.Hour)
	real := &node{domain: "real.example", priv: ring.add("real.example"), addr: "127.0.0.1:7946"}
	a.g.NotifyMsg(append([]byte{msgOwn}, announce(t, real, 1, real.priv)...))
	waitUntil(t, 20*time.Second, "the real member's announcement is verified", func() bool {
		e, _ := a.dir.Get(real.domain)
		return e.Verified
	})
	for i := range maxFailed + 10 {
		a.g.NotifyLeave(&memberlist.Node{Name: fmt.Sprintf("junk%05d.example", i), Addr: net.IPv4(127, 0, 0, 1), Port: uint16(10000 + i%50000)})
	}
	a.g.NotifyLeave(&memberlist.Node{Name: real.domain, Addr: net.IPv4(127, 0, 0, 1), Port: 7946})
	a.g.NotifyLeave(&memberlist.Node{Name: "real.example", Addr: net.IPv4(127, 0, 0, 2), Port: 7946}) // elsewhere: not it
	a.g.failed.mu.Lock()
	defer a.g.failed.mu.Unlock()
	if len(a.g.failed.m) != 1 || a.g.failed.m[real.domain].addr != real.addr {
		t.Fatalf("reconnection list holds %d members (real one: %+v)", len(a.g.failed.m), a.g.failed.m[real.domain])
	}
}
