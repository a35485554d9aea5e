package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

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
