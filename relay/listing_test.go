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

// Valid listings of every kind are relayed; invalid ones get 422 with
// machine-readable problems naming the field, a metric by reason, and are
// not relayed; ordinary posts are unaffected.
func TestListingsValidatedAtTheInbox(t *testing.T) {
	r := startRelay(t, nil)
	fmp, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, fmp)
	subscribe(t, r, sub)
	end := time.Now().Add(48 * time.Hour)
	for _, kind := range []string{"offer", "request", "surplus"} {
		publish(t, r, fmp, fmp.Listing(kind, end, nil), http.StatusAccepted)
	}
	waitFor(t, "three listings relayed", func() bool { return len(sub.ReceivedOf("Announce")) == 3 })

	bad := fmp.Listing("offer", end, func(p map[string]any) {
		p["publishes"].(map[string]any)["resourceQuantity"] = map[string]any{"hasUnit": "kilogram", "hasNumericalValue": "-1"}
	})
	status, text, err := fmp.Post(context.Background(), r.Inbox(), bad)
	if err != nil || status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid listing: %d %s %v", status, text, err)
	}
	var body struct {
		Error    string
		Problems []struct{ Path, Reason, Message string }
	}
	if err := json.Unmarshal([]byte(text), &body); err != nil || len(body.Problems) == 0 {
		t.Fatalf("422 body %q: %v", text, err)
	}
	if p := body.Problems[0]; p.Path != "$.object.publishes.resourceQuantity.hasNumericalValue" || p.Reason != "not_decimal" {
		t.Errorf("problem = %+v", p)
	}
	if v := metric(t, r, `runrig_listings_rejected_total{reason="not_decimal"}`); v != "1" {
		t.Errorf("listing rejection metric = %q", v)
	}
	tooLong := fmp.Listing("surplus", time.Now().Add(30*24*time.Hour), nil)
	if status, text, _ := fmp.Post(context.Background(), r.Inbox(), tooLong); status != 422 || !strings.Contains(text, "beyond_horizon") {
		t.Errorf("surplus beyond its horizon: %d %s", status, text)
	}
	publish(t, r, fmp, fmp.Note("", "an ordinary post", nil), http.StatusAccepted)
	waitFor(t, "note relayed", func() bool { return len(sub.ReceivedOf("Announce")) == 4 })
	if v := metric(t, r, `runrig_listings_accepted_total{kind="surplus"}`); v != "1" {
		t.Errorf("accepted surplus metric = %q", v)
	}
}

// A listing that expires while queued for a subscriber that is down is
// not delivered when the subscriber comes back.
func TestListingExpiringInQueueIsNotDelivered(t *testing.T) {
	r := startRelay(t, nil)
	fmp, down := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, fmp)
	subscribe(t, r, down)
	down.InboxStatus.Store(http.StatusServiceUnavailable)
	soon := fmp.Listing("surplus", time.Now().Add(1500*time.Millisecond), nil)
	later := fmp.Listing("surplus", time.Now().Add(time.Hour), nil)
	publish(t, r, fmp, soon, http.StatusAccepted)
	publish(t, r, fmp, later, http.StatusAccepted)
	time.Sleep(2 * time.Second)
	down.InboxStatus.Store(http.StatusAccepted)
	waitFor(t, "the live listing", func() bool { return len(down.ReceivedOf("Announce")) >= 1 })
	waitFor(t, "queue empty", func() bool {
		d, _ := r.Admin.Deliveries(context.Background(), "", down.Host(), 0)
		return len(d.Deliveries) == 0
	})
	got := down.ReceivedOf("Announce")
	if len(got) != 1 || got[0].ObjectID() != objectIDOf(t, later) {
		t.Fatalf("received %d announces; the expired listing must not be among them", len(got))
	}
	if v := metric(t, r, `runrig_deliveries_total{result="expired"}`); v != "1" {
		t.Errorf("expired metric = %q", v)
	}
}

type listingsPage struct {
	Items []struct {
		ID, Kind, Name string
		Regions        []string
		Products       []string
		Object         map[string]any
	}
	Next string
}

func getListings(t *testing.T, r *testRelay, query string) listingsPage {
	t.Helper()
	resp, err := http.Get(r.URL + "/listings?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /listings?%s: %d", query, resp.StatusCode)
	}
	var p listingsPage
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func ids(p listingsPage) string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.Name)
	}
	return strings.Join(out, ",")
}

// The relay keeps current listings indexed by kind, region and product;
// Update replaces, Delete removes, and expired ones drop out on their own.
func TestListingIndex(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) {
		c.Regions, _ = relay.ParseRegions("it-bg=45.40,9.20,46.10,10.30;it-mi")
	})
	fmp, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, fmp)
	subscribe(t, r, sub)
	named := func(name string, extra func(p map[string]any)) func(p map[string]any) {
		return func(p map[string]any) {
			p["name"] = name
			if extra != nil {
				extra(p)
			}
		}
	}
	inBergamo := func(p map[string]any) {
		p["location"] = map[string]any{"type": "Place", "latitude": 45.69, "longitude": 9.67}
	}
	forMilano := func(p map[string]any) { p["region"] = "it-mi" }
	end := time.Now().Add(24 * time.Hour)
	potatoes := fmp.Listing("offer", end, named("potatoes", inBergamo))
	publish(t, r, fmp, potatoes, http.StatusAccepted)
	publish(t, r, fmp, fmp.Listing("request", end.Add(time.Hour), named("apples wanted", forMilano)), http.StatusAccepted)
	publish(t, r, fmp, fmp.Listing("surplus", time.Now().Add(2*time.Second), named("bread", inBergamo)), http.StatusAccepted)
	publish(t, r, fmp, fmp.Note("", "not a listing", nil), http.StatusAccepted)

	tests := []struct{ query, want string }{
		{"", "bread,potatoes,apples wanted"},
		{"kind=offer", "potatoes"},
		{"kind=surplus", "bread"},
		{"region=it-bg", "bread,potatoes"},
		{"region=it-mi", "apples wanted"},
		{"product=" + fmp.URL() + "/api/dfc/enterprises/1/supplied_products/7", "bread,potatoes,apples wanted"},
		{"region=it-to", ""},
	}
	for _, tt := range tests {
		if got := ids(getListings(t, r, tt.query)); got != tt.want {
			t.Errorf("/listings?%s = %q, want %q", tt.query, got, tt.want)
		}
	}
	if p := getListings(t, r, "kind=offer"); p.Items[0].Object["type"] != "Proposal" || p.Next != "" {
		t.Errorf("listing view = %+v", p.Items[0])
	}

	// Update replaces the listing.
	var doc map[string]any
	json.Unmarshal(potatoes, &doc)
	obj := doc["object"].(map[string]any)
	obj["name"] = "potatoes, fewer left"
	upd := fmp.Activity("Update", fmp.ActorID, obj, nil)
	publish(t, r, fmp, upd, http.StatusAccepted)
	if got := ids(getListings(t, r, "kind=offer")); got != "potatoes, fewer left" {
		t.Errorf("after Update: %q", got)
	}
	// Delete removes it.
	publish(t, r, fmp, fmp.Activity("Delete", fmp.ActorID, obj["id"], nil), http.StatusAccepted)
	if got := ids(getListings(t, r, "kind=offer")); got != "" {
		t.Errorf("after Delete: %q", got)
	}
	// The surplus ends and drops out.
	waitFor(t, "surplus expired", func() bool { return ids(getListings(t, r, "kind=surplus")) == "" })

	for _, bad := range []string{"kind=barter", "page=0", "page=x"} {
		resp, _ := http.Get(r.URL + "/listings?" + bad)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/listings?%s: %d", bad, resp.StatusCode)
		}
	}
}
