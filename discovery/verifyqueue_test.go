package discovery

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"
)

func TestVerifyQueue(t *testing.T) {
	now := time.Unix(1000, 0)
	q := newVerifyQueue(2)
	q.push("new.example", "k", []byte("new-1"), false, now)
	q.push("new.example", "k", []byte("new-1"), false, now)     // already waiting: once
	q.push("stale.example", "k", []byte("stale-1"), false, now) // the second place of unknown signers
	if q.push("more.example", "k", []byte("more-1"), false, now) {
		t.Error("the unknown signers' places full, it took another")
	}
	if !q.push("known.example", "k", []byte("known-4"), true, now.Add(time.Second)) {
		t.Error("unknown signers took the places of known ones")
	}
	for _, tc := range []struct {
		now        time.Time
		want       string
		wantStale  int
		wantExists bool
	}{
		{now.Add(2 * time.Second), "known-4", 0, true}, // known signers first
		{now.Add(3 * time.Second), "new-1", 0, true},   // then the others, oldest first
		{now.Add(2 * maxVerifyWait), "", 1, false},     // waited too long: dropped
	} {
		w, stale, ok := q.pop(tc.now, maxVerifyWait, false)
		var b []byte
		if ok {
			b = w.signed
		}
		if string(b) != tc.want || stale != tc.wantStale || ok != tc.wantExists {
			t.Errorf("pop at %v = %q, %d stale, %v; want %q, %d, %v", tc.now.Sub(now), b, stale, ok, tc.want, tc.wantStale, tc.wantExists)
		}
	}
	if q.len() != 0 {
		t.Errorf("%d left", q.len())
	}
}

// Nothing waiting is replaced by a later arrival: a forgery claiming a
// higher sequence number does not push out the genuine announcement that
// waits for the same domain, and one signer holds a few places at most.
func TestVerifyQueueCannotBeSquatted(t *testing.T) {
	now := time.Unix(1000, 0)
	q := newVerifyQueue(maxVerifyQueue)
	if !q.push("peer.example", "k", []byte("genuine seq 7"), true, now) {
		t.Fatal("genuine refused")
	}
	refused := 0
	for i := range 10 {
		if !q.push("peer.example", "k", []byte(fmt.Sprintf("forged seq %d", 1<<62+i)), true, now) {
			refused++
		}
	}
	if refused != 10-(maxWaitingPerSigner-1) {
		t.Errorf("%d forgeries refused, want all but %d", refused, maxWaitingPerSigner-1)
	}
	w, _, ok := q.pop(now, maxVerifyWait, true)
	if !ok || string(w.signed) != "genuine seq 7" {
		t.Errorf("first verified: %v, want the genuine announcement", w)
	}
}

// hanging is a domain's actor that never answers: resolving its key takes
// the whole verification timeout.
type hanging struct{ *keyring }

func (h hanging) AssertionKey(ctx context.Context, id string) (AssertionKey, error) {
	if k, err := h.keyring.AssertionKey(ctx, id); err == nil {
		return k, nil
	}
	<-ctx.Done()
	return AssertionKey{}, ctx.Err()
}

// A member floods the cluster with thousands of announcements of new
// domains that never answer key fetches. A known peer's next
// announcement is verified all the same, at once, not after hours of
// queued fetches (or dropped from a full queue).
func TestFloodDoesNotDelayKnownPeers(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	start := func(domain string, join ...string) *node {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		ring.mu.Lock()
		ring.keys["https://"+domain+"/actor#ed25519-key"] = AssertionKey{ID: "https://" + domain + "/actor#ed25519-key",
			Controller: "https://" + domain + "/actor", Public: pub}
		ring.mu.Unlock()
		nd := &node{domain: domain, priv: priv, dir: NewDirectory()}
		g, err := StartGossip(GossipConfig{Name: domain, Bind: "127.0.0.1:0", Profile: "local", Join: join,
			GossipInterval: 50 * time.Millisecond}, NewVerifier(hanging{ring}).Verify, nd.dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Shutdown() })
		nd.g = g
		return nd
	}
	relay := start("relay.example")
	peer := start("peer.example", relay.g.Addr())
	rogue := start("rogue.example", relay.g.Addr())
	peer.g.Announce(announce(t, peer, 1, peer.priv))
	waitUntil(t, 20*time.Second, "the relay verifies the peer", func() bool {
		e, _ := relay.dir.Get(peer.domain)
		return e.Verified
	})

	// The rogue's state, exchanged when it joins again, carries the flood.
	_, junk, _ := ed25519.GenerateKey(rand.Reader)
	for i := range maxStateRecords {
		d := fmt.Sprintf("flood%05d.example", i)
		rogue.dir.Put(Record{Domain: d, Seq: 1, Expires: time.Now().Add(time.Hour)}, announce(t, &node{domain: d}, 1, junk),
			SourceGossip, time.Now())
	}
	if _, err := rogue.g.ml.Join([]string{relay.g.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the flood fills the relay's queue", func() bool { return relay.g.waiting.len() >= maxVerifyQueue-verifyWorkers })

	peer.g.Announce(announce(t, peer, 2, peer.priv))
	waitUntil(t, 20*time.Second, "the peer's new announcement is verified despite the flood", func() bool {
		e, _ := relay.dir.Get(peer.domain)
		return e.Record.Seq == 2
	})
}

// A member's claims about another member's liveness cannot be verified:
// a node taking the name of a verified peer, at another address, and
// leaving, does not mark the peer down.
func TestMembershipClaimsDoNotOverrideVerified(t *testing.T) {
	dir := NewDirectory()
	relay, err := StartGossip(GossipConfig{Name: "relay.example", Bind: "127.0.0.1:0", Profile: "local"},
		func(context.Context, []byte) (Record, error) { return Record{}, ErrForged }, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Shutdown()
	dir.Put(Record{Domain: "peer.example", Seq: 1, Gossip: "127.0.0.1:1", Expires: time.Now().Add(time.Hour)}, nil, SourceGossip, time.Now())
	impostor, err := StartGossip(GossipConfig{Name: "peer.example", Bind: "127.0.0.1:0", Profile: "local", Join: []string{relay.Addr()}},
		func(context.Context, []byte) (Record, error) { return Record{}, ErrForged }, NewDirectory())
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the impostor joins", func() bool { return relay.HasMember("peer.example") })
	impostor.Shutdown()
	waitUntil(t, 30*time.Second, "the impostor is gone", func() bool { return !relay.HasMember("peer.example") })
	if e, _ := dir.Get("peer.example"); e.Down {
		t.Error("a member of the peer's name at another address marked the verified peer down")
	}
}
