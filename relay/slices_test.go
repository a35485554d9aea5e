package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/relaytest"
)

func withRegions(c *relay.Config) {
	c.Regions, _ = relay.ParseRegions("it-bg=45.40,9.20,46.10,10.30;it-mi")
}

// followSlice subscribes in to a slice actor the way its software does and
// waits for the slice actor's Accept.
func followSlice(t *testing.T, r *testRelay, in *relaytest.Instance, slice string) string {
	t.Helper()
	actor := r.URL + "/actors/" + slice
	id, status, err := in.Follow(context.Background(), actor, actor+"/inbox")
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("follow %s: %d %v", slice, status, err)
	}
	waitFor(t, "Accept from "+slice, func() bool {
		for _, a := range in.ReceivedOf("Accept") {
			if a.ObjectID() == id && a.Doc["actor"] == actor && a.SignedBy == actor+"#main-key" {
				return true
			}
		}
		return false
	})
	return id
}

func announcedBy(in *relaytest.Instance, actor string) map[string]bool {
	m := map[string]bool{}
	for _, a := range in.ReceivedOf("Announce") {
		if a.Doc["actor"] == actor && a.SignedBy == actor+"#main-key" {
			m[a.ObjectID()] = true
		}
	}
	return m
}

// Servers that follow a slice actor receive only that slice's listings,
// announced and signed by it; the relay's own subscribers get everything.
func TestSlicesRouteListings(t *testing.T) {
	r := startRelay(t, withRegions)
	fmp, everything := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	surplusFan := newInstance(t, relaytest.Mastodon) // Mastodon-style: Follow as:Public at the slice inbox
	bergamo := newInstance(t, relaytest.Pleroma)     // LitePub: Follow of the slice actor
	subscribe(t, r, fmp)
	subscribe(t, r, everything)
	followSlice(t, r, surplusFan, "surplus")
	followSlice(t, r, bergamo, "region-it-bg")
	waitFor(t, "slice follow-back", func() bool {
		for _, f := range bergamo.ReceivedOf("Follow") {
			if f.Doc["actor"] == r.URL+"/actors/region-it-bg" {
				return true
			}
		}
		return false
	})

	end := time.Now().Add(24 * time.Hour)
	inBergamo := func(p map[string]any) {
		p["location"] = map[string]any{"type": "Place", "latitude": 45.69, "longitude": 9.67}
	}
	offer := fmp.Listing("offer", end, inBergamo)
	request := fmp.Listing("request", end, func(p map[string]any) { p["region"] = "it-mi" })
	surplus := fmp.Listing("surplus", end, inBergamo)
	note := fmp.Note("", "just chatting", nil)
	for _, b := range [][]byte{offer, request, surplus, note} {
		publish(t, r, fmp, b, http.StatusAccepted)
	}
	waitFor(t, "everything at the relay's subscriber", func() bool { return len(everything.ReceivedOf("Announce")) == 4 })
	waitFor(t, "surplus slice", func() bool { return len(surplusFan.ReceivedOf("Announce")) >= 1 })
	waitFor(t, "region slice", func() bool { return len(bergamo.ReceivedOf("Announce")) >= 2 })
	time.Sleep(200 * time.Millisecond) // let any stray delivery arrive

	if got := announcedBy(surplusFan, r.URL+"/actors/surplus"); len(got) != 1 || !got[objectIDOf(t, surplus)] ||
		len(surplusFan.ReceivedOf("Announce")) != 1 {
		t.Errorf("surplus follower got %d announces: %v", len(surplusFan.ReceivedOf("Announce")), got)
	}
	if got := announcedBy(bergamo, r.URL+"/actors/region-it-bg"); len(got) != 2 || !got[objectIDOf(t, offer)] ||
		!got[objectIDOf(t, surplus)] || len(bergamo.ReceivedOf("Announce")) != 2 {
		t.Errorf("region follower got %d announces: %v", len(bergamo.ReceivedOf("Announce")), got)
	}

	// Backfill: the slice outboxes hold the current listings.
	outbox := func(slice string) []string {
		resp, err := http.Get(r.URL + "/actors/" + slice + "/outbox")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Type  string
			First struct {
				OrderedItems []struct{ Type, Actor, Object string }
			}
		}
		json.NewDecoder(resp.Body).Decode(&doc)
		var objs []string
		for _, it := range doc.First.OrderedItems {
			if doc.Type != "OrderedCollection" || it.Type != "Announce" || it.Actor != r.URL+"/actors/"+slice {
				t.Errorf("%s outbox item %+v", slice, it)
			}
			objs = append(objs, it.Object)
		}
		return objs
	}
	if got := outbox("surplus"); len(got) != 1 || got[0] != objectIDOf(t, surplus) {
		t.Errorf("surplus outbox = %v", got)
	}
	if got := outbox("region-it-bg"); len(got) != 2 {
		t.Errorf("region outbox = %v", got)
	}
	if got := outbox("region-it-mi"); len(got) != 1 || got[0] != objectIDOf(t, request) {
		t.Errorf("it-mi outbox = %v", got)
	}

	// A Delete of the surplus reaches the surplus slice's follower too.
	publish(t, r, fmp, fmp.Activity("Delete", fmp.ActorID, objectIDOf(t, surplus), nil), http.StatusAccepted)
	waitFor(t, "Delete at the surplus follower", func() bool { return len(surplusFan.ReceivedOf("Delete")) == 1 })
	if got := outbox("surplus"); len(got) != 0 {
		t.Errorf("surplus outbox after Delete = %v", got)
	}
}

func TestSliceWebFingerAndActors(t *testing.T) {
	r := startRelay(t, withRegions)
	host := strings.TrimPrefix(r.URL, "http://")
	for _, name := range []string{"offers", "requests", "surplus", "region-it-bg", "region-it-mi"} {
		resp, err := http.Get(r.URL + "/.well-known/webfinger?resource=acct:" + name + "@" + host)
		if err != nil {
			t.Fatal(err)
		}
		var jrd struct{ Links []struct{ Href string } }
		json.NewDecoder(resp.Body).Decode(&jrd)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(jrd.Links) == 0 || jrd.Links[0].Href != r.URL+"/actors/"+name {
			t.Errorf("webfinger %s: %d %+v", name, resp.StatusCode, jrd)
		}
		req, _ := http.NewRequest(http.MethodGet, r.URL+"/actors/"+name, nil)
		req.Header.Set("Accept", "application/activity+json")
		resp, _ = http.DefaultClient.Do(req)
		var actor struct {
			ID, Type, Inbox, PreferredUsername string
			PublicKey                          struct{ ID, Owner string }
		}
		json.NewDecoder(resp.Body).Decode(&actor)
		resp.Body.Close()
		if actor.ID != r.URL+"/actors/"+name || actor.Inbox != actor.ID+"/inbox" || actor.PreferredUsername != name ||
			actor.PublicKey.ID != actor.ID+"#main-key" || actor.PublicKey.Owner != actor.ID {
			t.Errorf("actor %s = %+v", name, actor)
		}
	}
	for _, missing := range []string{"/actors/region-it-to", "/.well-known/webfinger?resource=acct:region-it-to@" + host} {
		resp, _ := http.Get(r.URL + missing)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", missing, resp.StatusCode)
		}
	}
}

// Unsubscribing from a slice leaves the peer's other subscriptions alone;
// the operator approves slice subscriptions by name.
func TestSliceUnsubscribeAndApproval(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { withRegions(c); c.Approval = "manual" })
	ctx := context.Background()
	fmp, fan := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	for _, f := range []struct {
		in    *relaytest.Instance
		slice string
	}{{fmp, ""}, {fan, ""}, {fan, "surplus"}} {
		actor, inbox := r.Actor(), r.Inbox()
		if f.slice != "" {
			actor = r.URL + "/actors/" + f.slice
			inbox = actor + "/inbox"
		}
		if _, status, err := f.in.Follow(ctx, actor, inbox); err != nil || status != 202 {
			t.Fatalf("follow: %d %v", status, err)
		}
	}
	subs, _ := r.Admin.Subscribers(ctx)
	if len(subs) != 3 {
		t.Fatalf("subscriptions = %+v", subs)
	}
	for _, a := range []struct{ peer, slice string }{{fmp.Host(), ""}, {fan.Host(), ""}, {fan.Host(), "surplus"}} {
		if _, err := r.Admin.Approve(ctx, a.peer, a.slice); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both Accepts", func() bool { return len(fan.ReceivedOf("Accept")) == 2 })
	if _, err := r.Admin.Approve(ctx, fmp.Host(), "offers"); err == nil {
		t.Error("approved a subscription that does not exist")
	}
	var surplusFollow string
	for _, a := range fan.ReceivedOf("Accept") {
		if a.Doc["actor"] == r.URL+"/actors/surplus" {
			surplusFollow = a.ObjectID()
		}
	}
	if status, err := fan.Unfollow(ctx, r.URL+"/actors/surplus", r.URL+"/actors/surplus/inbox", surplusFollow); err != nil || status != 202 {
		t.Fatalf("Undo: %d %v", status, err)
	}
	subs, _ = r.Admin.Subscribers(ctx)
	if len(subs) != 2 {
		t.Fatalf("after Undo of the slice: %+v", subs)
	}
	publish(t, r, fmp, fmp.Listing("surplus", time.Now().Add(time.Hour), nil), http.StatusAccepted)
	waitFor(t, "relay subscription still served", func() bool { return len(announcedBy(fan, r.Actor())) == 1 })
	time.Sleep(100 * time.Millisecond)
	if got := announcedBy(fan, r.URL+"/actors/surplus"); len(got) != 0 {
		t.Errorf("slice delivery after Undo: %v", got)
	}
}
