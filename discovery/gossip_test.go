package discovery

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// keyring stands in for the actors the domains publish: it maps key ids
// to their Ed25519 keys, as fetching each domain's actor would.
type keyring struct {
	mu   sync.Mutex
	keys map[string]AssertionKey
}

func (k *keyring) AssertionKey(_ context.Context, id string) (AssertionKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[id]
	if !ok {
		return key, errors.New("no such key")
	}
	return key, nil
}

// add makes domain's actor key and returns its private half.
func (k *keyring) add(domain string) ed25519.PrivateKey {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	id := "https://" + domain + "/actor#ed25519-key"
	k.mu.Lock()
	k.keys[id] = AssertionKey{ID: id, Controller: "https://" + domain + "/actor", Public: pub}
	k.mu.Unlock()
	return priv
}

type node struct {
	domain string
	addr   string // the gossip address to announce before g runs
	priv   ed25519.PrivateKey
	dir    *Directory
	g      *Gossip
	rej    sync.Map
}

func announce(t testing.TB, n *node, seq uint64, priv ed25519.PrivateKey) []byte {
	now := time.Now()
	gossipAddr := n.addr
	if n.g != nil {
		gossipAddr = n.g.Addr()
	}
	b, err := Sign(Record{Domain: n.domain, Actor: "https://" + n.domain + "/actor", Inbox: "https://" + n.domain + "/inbox",
		Software: "runrig test", Regions: []string{"it-bg"}, Seq: seq, Issued: now, Expires: now.Add(time.Hour), Gossip: gossipAddr},
		"https://"+n.domain+"/actor#ed25519-key", priv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMergeRemoteStateIsBounded(t *testing.T) {
	g := &Gossip{waiting: newVerifyQueue(maxVerifyQueue), log: slogDiscard(), dir: NewDirectory(), relayed: map[string]uint64{}}
	g.MergeRemoteState(make([]byte, maxStateBytes*2), false)
	if n := g.waiting.len(); n != 0 {
		t.Fatalf("oversized state enqueued %d records", n)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	state, _ := json.Marshal([][]byte{announce(t, &node{domain: "a.example"}, 1, priv), announce(t, &node{domain: "b.example"}, 1, priv),
		[]byte("{}")})
	g.MergeRemoteState(state, false)
	if n := g.waiting.len(); n != 2 {
		t.Fatalf("state of two records (and one malformed) enqueued %d", n)
	}
}

// A regional cluster of 20 memberlist nodes on loopback: every node's
// announcement is found and verified by every other; a forged one is
// rejected everywhere; a crashed node is marked down.
func TestGossipCluster(t *testing.T) {
	const n = 20
	ring := &keyring{keys: map[string]AssertionKey{}}
	nodes := make([]*node, n)
	for i := range nodes {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		d := fmt.Sprintf("node%02d.example", i)
		ring.keys["https://"+d+"/actor#ed25519-key"] = AssertionKey{ID: "https://" + d + "/actor#ed25519-key",
			Controller: "https://" + d + "/actor", Public: pub}
		nodes[i] = &node{domain: d, priv: priv, dir: NewDirectory()}
	}
	for i, nd := range nodes {
		v := NewVerifier(ring)
		cfg := GossipConfig{Name: nd.domain, Bind: "127.0.0.1:0", Profile: "local", Label: "runrig-test",
			ProbeInterval: 200 * time.Millisecond, GossipInterval: 50 * time.Millisecond, PushPullInterval: time.Second,
			OnRejected: func(err error) { nd.rej.Store(Reason(err), true) }}
		if i > 0 {
			cfg.Join = []string{nodes[0].g.Addr()}
		}
		verify := func(ctx context.Context, b []byte) (Record, error) {
			r, err := v.Verify(ctx, b)
			if err != nil {
				nd.rej.Store(Reason(err), true)
			}
			return r, err
		}
		g, err := StartGossip(cfg, verify, nd.dir)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		nd.g = g
		t.Cleanup(func() { g.Shutdown() })
	}
	for _, nd := range nodes {
		nd.g.Announce(announce(t, nd, 1, nd.priv))
	}
	defer func() {
		for _, nd := range nodes {
			if _, self := nd.dir.Get(nd.domain); self {
				t.Errorf("%s holds its own announcement", nd.domain)
			}
		}
	}()
	waitUntil(t, 30*time.Second, "every node knows every verified announcement", func() bool {
		for _, nd := range nodes {
			for _, other := range nodes {
				if other == nd {
					continue
				}
				if e, ok := nd.dir.Get(other.domain); !ok || !e.Verified {
					return false
				}
			}
		}
		return true
	})

	// A forged announcement of node03 (signed with another key) is
	// rejected where it arrives; since only verified announcements are
	// passed on, it spreads no further, and no node accepts it.
	_, wrong, _ := ed25519.GenerateKey(rand.Reader)
	nodes[5].g.Announce(announce(t, nodes[3], 99, wrong))
	waitUntil(t, 20*time.Second, "the forgery is rejected", func() bool {
		for _, nd := range nodes {
			if _, ok := nd.rej.Load("forged"); ok {
				return true
			}
		}
		return false
	})
	for _, nd := range nodes {
		if e, ok := nd.dir.Get(nodes[3].domain); ok && e.Record.Seq == 99 {
			t.Fatalf("%s accepted a forged announcement", nd.domain)
		}
	}

	// node07 crashes (no leave): the others mark it down.
	nodes[7].g.Shutdown()
	waitUntil(t, 30*time.Second, "crashed node marked down", func() bool {
		for i, nd := range nodes {
			if i == 7 {
				continue
			}
			if e, _ := nd.dir.Get(nodes[7].domain); !e.Down {
				return false
			}
		}
		return true
	})
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
