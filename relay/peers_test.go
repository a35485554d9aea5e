package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

// Three relays in one regional gossip cluster find each other: every
// announcement is verified against the announcer's own actor before it
// enters the directory; the public directory leaves out blocked peers.
func TestRelaysDiscoverEachOtherByGossip(t *testing.T) {
	gossip := func(join ...string) func(*relay.Config) {
		return func(c *relay.Config) {
			c.Gossip = relay.GossipConfig{Bind: "127.0.0.1:0", Join: join, Profile: "local", Label: "test-region",
				Key: "dGVzdC1vbmx5LWtleS0xNi0yNC0zMi1ieXRlcyEhISE="}
			c.Regions, _ = relay.ParseRegions("it-bg")
		}
	}
	a := startRelay(t, gossip())
	b := startRelay(t, gossip(a.GossipAddr()))
	c := startRelay(t, gossip(a.GossipAddr()))
	ctx := context.Background()
	host := func(r *testRelay) string { return strings.TrimPrefix(r.URL, "http://") }
	for _, r := range []*testRelay{a, b, c} {
		waitFor(t, "directory of "+host(r), func() bool {
			peers, _ := r.Admin.Peers(ctx)
			seen := 0
			for _, p := range peers {
				if p.Domain == host(r) {
					t.Fatalf("%s lists itself", host(r))
				}
				if p.Verified && !p.Down && len(p.Sources) == 1 && p.Sources[0] == "gossip" && p.Regions[0] == "it-bg" {
					seen++
				}
			}
			return seen == 2
		})
	}
	if _, _, err := a.Admin.Block(ctx, admin.Block{Domain: host(c), Severity: "reject", Reason: "left the cooperative"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(a.URL + "/peers")
	if err != nil {
		t.Fatal(err)
	}
	var pub []admin.Peer
	json.NewDecoder(resp.Body).Decode(&pub)
	resp.Body.Close()
	if len(pub) != 1 || pub[0].Domain != host(b) || pub[0].Actor != b.Actor() || pub[0].Trust != "" {
		t.Errorf("public directory of A = %+v", pub)
	}
	peers, _ := a.Admin.Peers(ctx)
	for _, p := range peers {
		if p.Domain == host(c) && p.Policy != "reject" {
			t.Errorf("admin view of C = %+v", p)
		}
	}
}

// An operator adds a peer by hand: its announcement is fetched from its
// well-known URL and verified against its actor before it is listed.
func TestAddPeerByHand(t *testing.T) {
	a, b := startRelay(t, nil), startRelay(t, nil)
	ctx := context.Background()
	if _, err := a.Admin.AddPeer(ctx, b.URL+"/some/page"); err != nil {
		t.Fatal(err)
	}
	peers, _ := a.Admin.Peers(ctx)
	if len(peers) != 1 || peers[0].Actor != b.Actor() || peers[0].Sources[0] != "manual" || !peers[0].Verified {
		t.Fatalf("peers = %+v", peers)
	}
	if _, err := a.Admin.AddPeer(ctx, "http://127.0.0.1:1"); err == nil {
		t.Error("added an unreachable peer")
	}
	if _, err := a.Admin.AddPeer(ctx, "not a url"); err == nil {
		t.Error("added a non-URL")
	}
}

// An FMP server that follows the relay's directory actor is listed in the
// relay's signed announcement with the regions and kinds it follows;
// servers that did not opt in are not. Other relays see it as a member.
func TestFMPOptInToDiscovery(t *testing.T) {
	a := startRelay(t, func(c *relay.Config) { c.Regions, _ = relay.ParseRegions("it-bg") })
	b := startRelay(t, nil)
	ctx := context.Background()
	fmp, quiet := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, a, quiet)
	for _, slice := range []string{"directory", "region-it-bg", "surplus"} {
		followSlice(t, a, fmp, slice)
	}
	raw, err := a.Admin.Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, rec, err := discovery.Parse(raw)
	if err != nil || len(rec.Members) != 1 {
		t.Fatalf("members = %+v, %v", rec.Members, err)
	}
	m := rec.Members[0]
	if m.Domain != fmp.Host() || m.Actor != fmp.ActorID || strings.Join(m.Regions, ",") != "it-bg" || strings.Join(m.Kinds, ",") != "surplus" {
		t.Errorf("member = %+v", m)
	}
	if _, err := b.Admin.AddPeer(ctx, a.URL); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(b.URL + "/peers")
	if err != nil {
		t.Fatal(err)
	}
	var pub []admin.Peer
	json.NewDecoder(resp.Body).Decode(&pub)
	resp.Body.Close()
	if len(pub) != 1 || len(pub[0].Members) != 1 || pub[0].Members[0].Domain != fmp.Host() {
		t.Errorf("B's public directory = %+v", pub)
	}
	for _, q := range []struct {
		region, kind string
		peers        int
	}{{"it-bg", "surplus", 1}, {"it-bg", "", 1}, {"it-mi", "", 0}, {"", "offer", 1}} {
		found, err := b.Admin.Discover(ctx, q.region, q.kind)
		if err != nil || len(found) != q.peers {
			t.Errorf("discover %+v = %+v, %v", q, found, err)
		}
	}
	// The directory actor carries no listings.
	resp, _ = http.Get(a.URL + "/actors/directory/outbox")
	var outbox struct{ TotalItems int }
	json.NewDecoder(resp.Body).Decode(&outbox)
	resp.Body.Close()
	if outbox.TotalItems != 0 {
		t.Errorf("directory outbox = %+v", outbox)
	}
}

// Three relays on a loopback DHT: each announces itself (peer id and full
// multiaddrs in its signed announcement), and `discover` on one finds the
// others, verified against their actors. A restarted relay keeps its peer
// id.
func TestRelaysDiscoverEachOtherByDHT(t *testing.T) {
	ctx := context.Background()
	dht := func(boot ...string) func(*relay.Config) {
		return func(c *relay.Config) {
			c.DHT = relay.DHTConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: boot}
			c.Regions, _ = relay.ParseRegions("it-bg")
		}
	}
	self := func(r *testRelay) discovery.Record {
		b, err := r.Admin.Self(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, rec, err := discovery.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	a := startRelay(t, dht())
	ra := self(a)
	if ra.PeerID == "" || len(ra.Addrs) == 0 || !strings.HasSuffix(ra.Addrs[0], "/p2p/"+ra.PeerID) {
		t.Fatalf("self announcement lacks the peer id or full multiaddrs: %+v", ra)
	}
	b := startRelay(t, dht(ra.Addrs[0]))
	c := startRelay(t, dht(ra.Addrs[0]))
	host := func(r *testRelay) string { return strings.TrimPrefix(r.URL, "http://") }
	waitFor(t, "C discovers A and B in the DHT", func() bool {
		peers, err := c.Admin.Discover(ctx, "it-bg", "")
		if err != nil {
			t.Logf("discover: %v", err)
			return false
		}
		found := map[string]bool{}
		for _, p := range peers {
			if p.Verified && len(p.Sources) == 1 && p.Sources[0] == "dht" {
				found[p.Domain] = true
			}
		}
		return len(peers) == 2 && found[host(a)] && found[host(b)]
	})

	// The identity is kept in the store: a restart keeps the peer id.
	pid, dir := self(b).PeerID, b.DataDir
	b.stop()
	b2 := startRelayIn(t, dir, "127.0.0.1:0", dht(ra.Addrs[0]))
	if got := self(b2).PeerID; got != pid {
		t.Errorf("peer id after restart = %s, want %s", got, pid)
	}
}

// Gossip does not start without a key, so that nobody who merely reaches
// the port joins the region, unless the operator says the network is
// trusted.
func TestGossipNeedsAKey(t *testing.T) {
	cfg := relay.Defaults()
	cfg.Gossip.Bind = "127.0.0.1:7946"
	if err := relay.CheckConfig(cfg); err == nil || !strings.Contains(err.Error(), "gossip_key") {
		t.Fatalf("gossip without a key: %v, want an error naming gossip_key", err)
	}
	cfg.Gossip.Insecure = true
	if err := relay.CheckConfig(cfg); err != nil {
		t.Fatalf("gossip_insecure: %v", err)
	}
}

// A relay with both the DHT and gossip on (as the example configuration
// has it) announces both: run under the race detector, this covers the
// announcer of one reading what the start of the other writes.
func TestDHTAndGossipTogether(t *testing.T) {
	ctx := context.Background()
	both := func(c *relay.Config) {
		c.DHT = relay.DHTConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}}
		c.Gossip = relay.GossipConfig{Bind: "127.0.0.1:0", Profile: "local", Key: "dGVzdC1vbmx5LWtleS0xNi0yNC0zMi1ieXRlcyEhISE="}
	}
	r := startRelay(t, both)
	waitFor(t, "an announcement with both", func() bool {
		b, err := r.Admin.Self(ctx)
		if err != nil {
			return false
		}
		_, rec, err := discovery.Parse(b)
		return err == nil && rec.PeerID != "" && rec.Gossip != ""
	})
	if _, err := http.Get(r.URL + "/metrics"); err != nil { // reads both as well
		t.Fatal(err)
	}
}
