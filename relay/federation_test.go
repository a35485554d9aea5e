package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

func federating(c *relay.Config) {
	c.Federation = relay.FederationConfig{Relays: true, Interval: 50 * time.Millisecond}
}

// following returns where r's subscription to peer stands.
func following(t *testing.T, r *testRelay, peer *testRelay) string {
	peers, err := r.Admin.Peers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if p.Actor == peer.Actor() {
			return p.Following
		}
	}
	return "absent"
}

// A federating relay follows the relays in its directory that the rules
// accept, not limited ones; an activity that has crossed the hop bound
// still reaches servers but is not passed to relays; the hop count each
// relay adds is carried in its Announce.
func TestFederationFollowsAndBoundsHops(t *testing.T) {
	ctx := context.Background()
	a := startRelay(t, func(c *relay.Config) { c.Federation.MaxHops = 2 })
	b := startRelay(t, federating)
	limited := startRelay(t, nil)
	host := func(r *testRelay) string { return strings.TrimPrefix(r.URL, "http://") }
	if _, _, err := b.Admin.Block(ctx, admin.Block{Domain: host(limited), Severity: "silence", Reason: "new"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*testRelay{a, limited} {
		if _, err := b.AddPeer(ctx, r.URL); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.AddPeer(ctx, b.URL); err != nil { // a knows b is a relay
		t.Fatal(err)
	}
	waitFor(t, "b to follow a", func() bool { return following(t, b, a) == "accepted" })
	time.Sleep(200 * time.Millisecond) // a few more federation rounds
	if got := following(t, b, limited); got != "" {
		t.Errorf("b follows a limited relay: %q", got)
	}

	fmp, server := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, a, fmp)
	subscribe(t, a, server)
	const relayed = `runrig_inbox_activities_total{result="relayed",type="Announce"}`

	// One hop so far: a passes it to b too.
	obj := fmp.URL() + "/notes/1"
	publish(t, a, fmp, fmp.Activity("Announce", fmp.ActorID, obj, nil), http.StatusAccepted)
	waitFor(t, "b to receive the first", func() bool { return metric(t, b, relayed) == "1" })

	// Already one relay crossed: with a's, two, the bound: b is skipped.
	var doc map[string]any
	json.Unmarshal(fmp.Activity("Announce", fmp.ActorID, fmp.URL()+"/notes/2", nil), &doc)
	doc["https://w3id.org/runrig/ns#hops"] = 1
	body, _ := json.Marshal(doc)
	publish(t, a, fmp, body, http.StatusAccepted)
	waitFor(t, "the server to receive both", func() bool { return len(server.ReceivedOf("Announce")) == 2 })
	for _, got := range server.ReceivedOf("Announce") {
		want := 1.0
		if got.ObjectID() != obj {
			want = 2
		}
		if h, _ := got.Doc["https://w3id.org/runrig/ns#hops"].(float64); h != want {
			t.Errorf("Announce of %s carries hops %v, want %v", got.ObjectID(), got.Doc["https://w3id.org/runrig/ns#hops"], want)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := metric(t, b, relayed); n != "1" {
		t.Errorf("b received %s Announces, want 1 (the second crossed the hop bound)", n)
	}

	doc["https://w3id.org/runrig/ns#hops"] = -1
	doc["id"] = fmp.NewID("activities")
	body, _ = json.Marshal(doc)
	publish(t, a, fmp, body, http.StatusBadRequest)

	// Once a moderator blocks a, b stops following it.
	if _, _, err := b.Admin.Block(ctx, admin.Block{Domain: host(a), Severity: "reject", Reason: "left"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to drop its follow of a", func() bool { return following(t, b, a) == "" })
}

// A listing another relay announces reaches this relay's slices and
// index: the object is read from its author's server, not taken from the
// announcing relay.
func TestRelayedListingReachesSlices(t *testing.T) {
	ctx := context.Background()
	a := startRelay(t, nil)
	b := startRelay(t, func(c *relay.Config) {
		federating(c)
		c.Regions, _ = relay.ParseRegions("it-mi")
	})
	if _, err := b.AddPeer(ctx, a.URL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to follow a", func() bool { return following(t, b, a) == "accepted" })
	fmp, milan := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, a, fmp)
	followSlice(t, b, milan, "region-it-mi")
	body := fmp.Listing("offer", time.Now().Add(48*time.Hour), func(p map[string]any) { p["region"] = "it-mi" })
	id := objectIDOf(t, body)
	publish(t, a, fmp, body, http.StatusAccepted)
	waitFor(t, "the region's follower at b", func() bool {
		for _, got := range milan.ReceivedOf("Announce") {
			if got.ObjectID() == id {
				return true
			}
		}
		return false
	})
	resp, err := http.Get(b.URL + "/listings?region=it-mi")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct {
			ID     string
			Actor  string
			Object map[string]any
		}
	}
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Items) != 1 || page.Items[0].ID != id || page.Items[0].Actor != fmp.ActorID || page.Items[0].Object["id"] != id {
		t.Errorf("b's index = %+v", page.Items)
	}

	// The author's Update and Delete, forwarded by a under its own key,
	// are taken by b only as the author's server confirms them.
	index := func() (names []string) {
		resp, err := http.Get(b.URL + "/listings?region=it-mi")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page struct{ Items []struct{ Name string } }
		json.NewDecoder(resp.Body).Decode(&page)
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		return names
	}
	publish(t, a, fmp, fmp.Revise(body, func(p map[string]any) { p["name"] = "New potatoes" }), http.StatusAccepted)
	waitFor(t, "the update in b's index", func() bool { n := index(); return len(n) == 1 && n[0] == "New potatoes" })
	waitFor(t, "the update at the region's follower", func() bool { return len(milan.ReceivedOf("Update")) == 1 })

	// A forged Delete (the object is still there) is not taken.
	still := fmp.Activity("Delete", fmp.ActorID, id, nil)
	publish(t, a, fmp, still, http.StatusAccepted)
	time.Sleep(300 * time.Millisecond)
	if n := index(); len(n) != 1 {
		t.Fatalf("b took a Delete of an object its author still serves: %v", n)
	}
	publish(t, a, fmp, fmp.Withdraw(id), http.StatusAccepted)
	waitFor(t, "the listing gone from b's index", func() bool { return len(index()) == 0 })
}

// When a moderator limits a relay this relay follows, the follow is
// dropped and the other relay is told with an Undo of the Follow: it ends
// this relay's subscription.
func TestFederationUndoesLimitedFollow(t *testing.T) {
	// silence limits a; suspend blocks its domain, and the Undo still goes
	// (a farewell), so that a stops delivering.
	for _, severity := range []string{"silence", "suspend"} {
		t.Run(severity, func(t *testing.T) { testFederationUndo(t, severity) })
	}
}

func testFederationUndo(t *testing.T, severity string) {
	ctx := context.Background()
	a := startRelay(t, nil)
	b := startRelay(t, federating)
	host := func(r *testRelay) string { return strings.TrimPrefix(r.URL, "http://") }
	if _, err := b.AddPeer(ctx, a.URL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to follow a", func() bool { return following(t, b, a) == "accepted" })
	subscribed := func() bool {
		subs, err := a.Admin.Subscribers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if s.Peer == host(b) {
				return true
			}
		}
		return false
	}
	if !subscribed() {
		t.Fatal("a does not list b's subscription")
	}
	if _, _, err := b.Admin.Block(ctx, admin.Block{Domain: host(a), Severity: severity, Reason: "noisy"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to drop its follow of a", func() bool { return following(t, b, a) == "" })
	waitFor(t, "a to end b's subscription on b's Undo", func() bool { return !subscribed() })
}
