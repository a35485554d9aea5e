package discovery

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// A node announces what Describe says with a strictly increasing sequence
// number, its validity and its layers' addresses; two nodes in one gossip
// cluster find each other's verified announcements; a layer that cannot
// start fails the start.
func TestNodeAnnouncesItself(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ring := &keyring{keys: map[string]AssertionKey{}}
	start := func(domain string, join ...string) (*Node, *Directory) {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		keyID := "https://" + domain + "/actor#ed25519-key"
		ring.mu.Lock()
		ring.keys[keyID] = AssertionKey{ID: keyID, Controller: "https://" + domain + "/actor", Public: pub}
		ring.mu.Unlock()
		describe := func(context.Context) (Record, error) {
			return Record{Domain: domain, Actor: "https://" + domain + "/actor", Inbox: "https://" + domain + "/inbox",
				Software: "runrig test", Regions: []string{"it-bg"}}, nil
		}
		sign := func(r Record) ([]byte, error) { return Sign(r, keyID, priv) }
		dir := NewDirectory()
		n, err := StartNode(ctx, NodeConfig{Validity: time.Hour, Gossip: GossipConfig{Name: domain, Bind: "127.0.0.1:0",
			Profile: "local", Join: join, GossipInterval: 50 * time.Millisecond}}, describe, sign, NewVerifier(ring).Verify, dir)
		if err != nil {
			t.Fatal(err)
		}
		go n.Run(ctx)
		return n, dir
	}
	a, dirA := start("a.example")
	_, dirB := start("b.example", a.Gossip().Addr())

	var last uint64
	for range 3 {
		b, err := a.Announcement(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, r, err := Parse(b)
		if err != nil || r.Seq <= last || r.Gossip != a.Gossip().Addr() || r.Expires.Sub(r.Issued) != time.Hour || r.Regions[0] != "it-bg" {
			t.Fatalf("announcement %+v (%v), after seq %d", r, err, last)
		}
		last = r.Seq
	}
	waitUntil(t, 20*time.Second, "each node holds the other's verified announcement", func() bool {
		ea, _ := dirA.Get("b.example")
		eb, _ := dirB.Get("a.example")
		return ea.Verified && eb.Verified
	})

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := StartNode(ctx, NodeConfig{Gossip: GossipConfig{Name: "c.example", Bind: taken.Addr().String()}},
		func(context.Context) (Record, error) { return Record{}, nil },
		func(Record) ([]byte, error) { return []byte("{}"), nil }, NewVerifier(ring).Verify, NewDirectory()); err == nil {
		t.Error("a node started with its gossip address taken")
	}
}

// A node that stops says so in the DHT: its last announcement, newer and
// marked leaving, replaces the one peers find, and a peer looking up
// lists it down at once — not up until the old one expires a day later.
// A node stopped without Farewell (a replica handing the relay's node to
// another) says nothing: the relay stays up for its peers.
func TestNodeSaysFarewell(t *testing.T) {
	for _, farewell := range []bool{true, false} {
		t.Run(fmt.Sprintf("farewell=%v", farewell), func(t *testing.T) {
			ring := &keyring{keys: map[string]AssertionKey{}}
			peers := startDHTNetwork(t, 3, ring)
			domain := "leaving.example"
			priv := ring.add(domain)
			id, _, _ := crypto.GenerateEd25519Key(rand.Reader)
			describe := func(context.Context) (Record, error) {
				return Record{Domain: domain, Actor: "https://" + domain + "/actor", Inbox: "https://" + domain + "/inbox",
					Software: "runrig test", Regions: []string{"it-bg"}}, nil
			}
			sign := func(r Record) ([]byte, error) { return Sign(r, "https://"+domain+"/actor#ed25519-key", priv) }
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			n, err := StartNode(ctx, NodeConfig{Validity: 3 * time.Hour, Farewell: farewell, DHT: DHTConfig{Identity: id,
				Listen: []string{"/ip4/127.0.0.1/tcp/0"}, AllowPrivate: true, Bootstrap: peers[0].d.Addrs()[:1]}},
				describe, sign, NewVerifier(ring).Verify, NewDirectory())
			if err != nil {
				t.Fatal(err)
			}
			ran := make(chan struct{})
			go func() { n.Run(ctx); close(ran) }()
			seeker := peers[2]
			waitUntil(t, 30*time.Second, "a peer finds the node up", func() bool {
				seeker.d.Lookup(context.Background(), "", "")
				e, ok := seeker.dir.Get(domain)
				return ok && e.Verified && !e.Down
			})
			stop()
			<-ran
			if _, err := seeker.d.Lookup(context.Background(), "", ""); err != nil {
				t.Fatal(err)
			}
			e, _ := seeker.dir.Get(domain)
			if e.Down != farewell || e.Record.Leaving != farewell || e.Record.Expires.Sub(e.Record.Issued) != 3*time.Hour {
				t.Fatalf("after the node stopped, a lookup lists it down %v, leaving %v, valid for %s",
					e.Down, e.Record.Leaving, e.Record.Expires.Sub(e.Record.Issued))
			}
		})
	}
}
