package relay_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/proof"
	"github.com/runrig/runrig/relay/relaytest"
)

// Bridge listings flow like any other: to the followers of the region's
// slice, and through a relay that follows this one to its own region's
// followers and index, byte for byte with their proofs.
func TestBridgeListingsFederate(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile("dfc/testdata/fdc-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	a := startRelay(t, func(c *relay.Config) { c.Regions, _ = relay.ParseRegions("uk-sw") })
	b := startRelay(t, func(c *relay.Config) {
		federating(c)
		c.Regions, _ = relay.ParseRegions("uk-sw")
	})
	if _, err := b.AddPeer(ctx, a.URL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to follow a", func() bool { return following(t, b, a) == "accepted" })
	nearA, nearB := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	followSlice(t, a, nearA, "region-uk-sw")
	followSlice(t, b, nearB, "region-uk-sw")
	cat := newCatalogServer(t, fixture, "s3cret")
	if _, err := a.Admin.Bridges().Add(ctx, admin.BridgeAdd{Name: "hodmedod", Catalog: cat.URL + "/catalog", Auth: "api-token",
		Token: "s3cret", Region: "uk-sw"}); err != nil {
		t.Fatal(err)
	}
	if rep, err := a.Admin.Bridges().Sync(ctx, "hodmedod"); err != nil || rep.Created != 6 {
		t.Fatalf("sync: %+v %v", rep, err)
	}
	actor := a.URL + "/actors/bridge-hodmedod"
	pub := bridgeKey(t, actor)
	for _, in := range []*relaytest.Instance{nearA, nearB} {
		for _, c := range waitReceived(t, in, "Create", 6) {
			if c.Doc["actor"] != actor {
				t.Fatalf("Create by %v", c.Doc["actor"])
			}
			if _, err := proof.VerifyKey(c.Body, pub); err != nil {
				t.Fatalf("the proof does not verify after relaying: %v", err)
			}
		}
	}
	if n := countListings(t, b, "?region=uk-sw"); n != 6 {
		t.Fatalf("b's index has %d of the bridge's listings; want 6", n)
	}
}

// An admin adds a bridge in the console with a token, syncs it and sees
// what was listed and skipped; the token is never shown, a moderator may
// not manage bridges, and the change is in the audit log under the
// admin's name.
func TestConsoleBridges(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile("dfc/testdata/fdc-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	r := startRelay(t, nil)
	cat := newCatalogServer(t, fixture, "console-s3cret")
	root := addModerator(t, r, "root", "admin", "correct horse battery staple")
	mia := addModerator(t, r, "mia", "moderator", "another long passphrase")
	root.get("/admin/bridges")
	form := url.Values{"name": {"hodmedod"}, "catalog": {cat.URL + "/catalog"}, "auth": {"api-token"},
		"token": {"console-s3cret"}, "every": {"15m"}, "kind": {"offer"}, "reason": {"our wholesaler"}}
	if status, body := root.post("/admin/bridges", form); status != http.StatusOK || !strings.Contains(body, "Added the bridge hodmedod") {
		t.Fatalf("adding a bridge: %d %s", status, body)
	}
	status, body := root.post("/admin/bridges/hodmedod", url.Values{"action": {"sync"}})
	if status != http.StatusOK || !strings.Contains(body, "Synced hodmedod: 6 created, 0 updated, 0 deleted, 2 skipped") ||
		!strings.Contains(body, "hasQuantity must be positive") {
		t.Fatalf("sync: %d %s", status, body)
	}
	if strings.Contains(body, "console-s3cret") {
		t.Fatal("the console shows the bridge's token")
	}
	form["name"] = []string{"Bad Name!"}
	if status, _ := root.post("/admin/bridges", form); status != http.StatusBadRequest {
		t.Errorf("a bad name: %d; want 400", status)
	}
	mia.get("/admin/")
	if status, _ := mia.get("/admin/bridges"); status != http.StatusForbidden {
		t.Errorf("a moderator opened the bridges page: %d", status)
	}
	audit, err := r.Admin.Audit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range audit {
		found = found || (e.What == "bridge.add" && e.Who == "console:root" && e.Subject == "hodmedod" && e.Why == "our wholesaler")
	}
	if !found {
		t.Errorf("audit log has no bridge.add by root: %+v", audit)
	}
}

// A bridge reads OFN's own answer for an enterprise's catalog items (the
// example of its API description, on the catalog server's host): the item
// becomes a listing priced in Australian dollars, and the bridge's actor
// takes the name of the enterprise the item is managedBy, read from that
// enterprise's document with the bridge's token.
func TestBridgeReadsOFNCatalogItems(t *testing.T) {
	ctx := context.Background()
	items, err1 := os.ReadFile("dfc/testdata/ofn-catalog-items.json")
	enterprise, err2 := os.ReadFile("dfc/testdata/ofn-enterprise.json")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	items = []byte(strings.ReplaceAll(string(items), `"dfc-b:stockLimitation": 0`, `"dfc-b:stockLimitation": 5`))
	mux := http.NewServeMux()
	ofn := httptest.NewServer(mux)
	defer ofn.Close()
	serve := func(doc []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer oidc" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			w.Write([]byte(strings.ReplaceAll(string(doc), "http://test.host", ofn.URL)))
		}
	}
	mux.HandleFunc("/api/dfc/enterprises/10000/catalog_items", serve(items))
	mux.HandleFunc("/api/dfc/enterprises/10000", serve(enterprise))
	r := startRelay(t, nil)
	if _, err := r.Admin.Bridges().Add(ctx, admin.BridgeAdd{Name: "fred", Catalog: ofn.URL + "/api/dfc/enterprises/10000/catalog_items",
		Auth: "bearer", Token: "oidc"}); err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Admin.Bridges().Sync(ctx, "fred"); err != nil || rep.Created != 1 {
		t.Fatalf("sync: %+v %v", rep, err)
	}
	var actor struct{ Name string }
	getJSON(t, r.URL+"/actors/bridge-fred", &actor)
	if actor.Name != "Fred's Farm" {
		t.Errorf("the bridge's actor is named %q", actor.Name)
	}
	var page struct{ Items []struct{ Name string } }
	getJSON(t, r.URL+"/listings", &page)
	if len(page.Items) != 1 || page.Items[0].Name != "Apple - 1g" {
		t.Fatalf("listings %+v", page.Items)
	}
}
