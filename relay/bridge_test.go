package relay_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/proof"
	"github.com/runrig/runrig/relay/relaytest"
)

// catalogServer stands in for an Open Food Network / FDC catalog
// endpoint: it serves a real catalog document (edited by the test), takes
// an API token as OFN does (X-Api-Token) and answers conditional GETs.
type catalogServer struct {
	*httptest.Server
	mu    sync.Mutex
	body  []byte
	token string
	etags bool
	reads int
}

func newCatalogServer(t testing.TB, body []byte, token string) *catalogServer {
	c := &catalogServer{body: body, token: token, etags: true}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.reads++
		if r.Header.Get("X-Api-Token") != c.token {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		body := c.served()
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		if c.etags {
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
		}
		w.Header().Set("Content-Type", "application/ld+json")
		w.Write(body)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *catalogServer) set(f func(c *catalogServer)) { c.mu.Lock(); f(c); c.mu.Unlock() }

// fdcHost is where the FDC catalog's shop served it, and its products.
const fdcHost = "https://env-0105831.jcloud-ver-jpe.ik-server.com"

// served is the catalog as this server serves it: on its own host, as the
// shop served its products on its own (c.mu is held).
func (c *catalogServer) served() []byte {
	return []byte(strings.ReplaceAll(string(c.body), fdcHost, c.URL))
}

// edit changes the catalog's text, failing if old is not in it.
func (c *catalogServer) edit(t *testing.T, old, new string) {
	t.Helper()
	c.set(func(c *catalogServer) {
		if !strings.Contains(string(c.body), old) {
			t.Fatalf("catalog has no %q", old)
		}
		c.body = []byte(strings.Replace(string(c.body), old, new, 1))
	})
}

// drop removes the node with id from the catalog's @graph.
func (c *catalogServer) drop(t *testing.T, id string) {
	t.Helper()
	c.set(func(c *catalogServer) {
		var doc map[string]any
		if err := json.Unmarshal(c.body, &doc); err != nil {
			t.Fatal(err)
		}
		var kept []any
		for _, n := range doc["@graph"].([]any) {
			if n.(map[string]any)["@id"] != id {
				kept = append(kept, n)
			}
		}
		if len(kept) == len(doc["@graph"].([]any)) {
			t.Fatalf("no node %s", id)
		}
		doc["@graph"] = kept
		c.body, _ = json.Marshal(doc)
	})
}

const fdcItem = fdcHost + "/api/dfc/Enterprises/test-hodmedod/SuppliedProducts/"

// TestBridgePublishesCatalog drives a DFC bridge end to end on a real
// relay: the FDC catalog becomes six signed listings that a subscriber
// receives (two items are refused and reported), a second read changes
// nothing, an edited price becomes an Update, a vanished or sold-out item
// a Delete, a wrong token a clear error, /dfc/catalog reads back to the
// same offers, and removing the bridge withdraws what it listed.
func TestBridgePublishesCatalog(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile("dfc/testdata/fdc-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	r := startRelay(t, nil)
	sub := newInstance(t, relaytest.Mastodon)
	subscribe(t, r, sub)
	cat := newCatalogServer(t, fixture, "s3cret")

	b, err := r.Admin.Bridges().Add(ctx, admin.BridgeAdd{Name: "hodmedod", Catalog: cat.URL + "/api/dfc/enterprises/7/catalog_items",
		Auth: "api-token", Token: "s3cret", Reason: "our wholesaler"})
	if err != nil {
		t.Fatal(err)
	}
	actor := r.URL + "/actors/bridge-hodmedod"
	if b.Actor != actor || b.Every != "15m0s" || b.Kind != "offer" {
		t.Fatalf("added %+v", b)
	}
	var heard []admin.Progress
	rep, err := r.Admin.Bridges().SyncProgress(ctx, "hodmedod", func(p admin.Progress) { heard = append(heard, p) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 6 || rep.Skipped != 2 || rep.Deleted != 0 || len(rep.Problems) != 2 {
		t.Fatalf("first sync: %+v; want 6 created, 2 skipped", rep)
	}
	if len(heard) < 3 || heard[0].Step != "reading the catalog" ||
		heard[len(heard)-1] != (admin.Progress{Step: "publishing", Done: 6, Total: 6, Unit: "items"}) {
		t.Fatalf("progress heard: %+v", heard)
	}
	creates := waitReceived(t, sub, "Create", 6)
	pub := bridgeKey(t, actor)
	for _, c := range creates {
		if c.SignedBy != actor+"#main-key" {
			t.Fatalf("Create signed by %q (%s); want the bridge's key", c.SignedBy, c.VerifyErr)
		}
		if _, err := proof.VerifyKey(c.Body, pub); err != nil {
			t.Fatalf("the Create's proof does not verify with the bridge's Multikey: %v", err)
		}
		if !strings.Contains(string(c.Body), `"http://publications.europa.eu/resource/authority/currency/GBP"`) {
			t.Fatalf("the price is not in pounds by its ISO 4217 code: %s", c.Body)
		}
	}
	checkListing(t, r, creates[0].ObjectID(), pub)

	// The index and WebFinger know the bridge's actor.
	if n := countListings(t, r, "?kind=offer"); n != 6 {
		t.Fatalf("/listings has %d offers; want 6", n)
	}
	var jrd struct{ Subject string }
	getJSON(t, r.URL+"/.well-known/webfinger?resource=acct:bridge-hodmedod@"+r.Addr, &jrd)
	if jrd.Subject != "acct:bridge-hodmedod@"+r.Addr {
		t.Fatalf("webfinger subject %q", jrd.Subject)
	}

	checkSyncChanges(t, r, cat, sub, actor)

	// /dfc/catalog reads back, through the bridge's own importer, to the
	// offers the catalog now makes.
	// Another platform claims one of the bridge's products under another
	// name: its claim is its own, and the product keeps the shop's name.
	claimed := cat.URL + "/api/dfc/Enterprises/test-hodmedod/SuppliedProducts/44519466467635"
	publish(t, r, sub, sub.Listing("offer", time.Now().Add(48*time.Hour), func(p map[string]any) {
		p["name"] = "FAKE beans"
		p["publishes"].(map[string]any)["resourceConformsTo"] = claimed
	}), http.StatusAccepted)
	checkCatalogRoundTrip(t, r, cat, claimed)

	checkTokenAndRemoval(t, r, cat, sub, actor)
}

// checkTokenAndRemoval: a wrong token is reported clearly and changes
// nothing; removing the bridge withdraws its listings, signed by its actor.
func checkTokenAndRemoval(t *testing.T, r *testRelay, cat *catalogServer, sub *relaytest.Instance, actor string) {
	t.Helper()
	ctx := context.Background()
	// A wrong token is reported clearly and changes nothing.
	cat.set(func(c *catalogServer) { c.token = "rotated" })
	if _, err := r.Admin.Bridges().Sync(ctx, "hodmedod"); err == nil || !strings.Contains(err.Error(), "refused the credentials (401)") {
		t.Fatalf("sync with a wrong token: %v", err)
	}
	bs, err := r.Admin.Bridges().List(ctx)
	if err != nil || len(bs) != 1 || !strings.Contains(bs[0].LastError, "refused the credentials") || bs[0].Listed != 4 ||
		bs[0].Skipped != 2 || len(bs[0].Problems) != 2 || bs[0].DisplayName != "" {
		t.Fatalf("bridges: %+v %v", bs, err)
	}
	if n := countListings(t, r, ""); n != 5 {
		t.Fatalf("/listings has %d after a failed sync; want the bridge's 4 and the claimant's", n)
	}
	if got := metric(t, r, `runrig_bridge_items_total{outcome="created"}`); got != "6" {
		t.Fatalf("created metric %q", got)
	}
	if got := metric(t, r, `runrig_bridge_syncs_total{result="failed"}`); got != "1" {
		t.Fatalf("failed syncs metric %q", got)
	}

	// Removing the bridge withdraws its four listings, signed by its actor.
	gone, err := r.Admin.Bridges().Remove(ctx, "hodmedod", "closed")
	if err != nil || gone.Withdrawn != 4 {
		t.Fatalf("remove: %+v %v", gone, err)
	}
	for _, d := range waitReceived(t, sub, "Delete", 6)[2:] {
		if d.SignedBy != actor+"#main-key" {
			t.Fatalf("Delete signed by %q (%s)", d.SignedBy, d.VerifyErr)
		}
	}
	if n := countListings(t, r, ""); n != 1 {
		t.Fatalf("/listings has %d after removal; want the claimant's only", n)
	}
}

// checkSyncChanges edits the catalog and checks each sync publishes just
// what changed: nothing for nothing, an Update for a new price, Deletes
// for a vanished and a sold-out item.
func checkSyncChanges(t *testing.T, r *testRelay, cat *catalogServer, sub *relaytest.Instance, actor string) {
	t.Helper()
	ctx := context.Background()
	// Nothing changed: the server says so (ETag), or the items do.
	if rep, err := r.Admin.Bridges().Sync(ctx, "hodmedod"); err != nil || !rep.NotModified {
		t.Fatalf("second sync: %+v %v; want not modified", rep, err)
	}
	cat.set(func(c *catalogServer) { c.etags = false })
	if rep, err := r.Admin.Bridges().Sync(ctx, "hodmedod"); err != nil || rep.Unchanged != 6 || rep.Created+rep.Updated+rep.Deleted != 0 {
		t.Fatalf("sync of the same catalog: %+v %v; want 6 unchanged", rep, err)
	}

	// A price changes: one Update.
	cat.edit(t, `"dfc-b:value" : "2.09"`, `"dfc-b:value" : "2.19"`)
	if rep, err := r.Admin.Bridges().Sync(ctx, "hodmedod"); err != nil || rep.Updated != 1 || rep.Unchanged != 5 {
		t.Fatalf("sync after a price change: %+v %v", rep, err)
	}
	upd := waitReceived(t, sub, "Update", 1)[0]
	if !strings.Contains(string(upd.Body), `"hasNumericalValue":"2.19"`) || upd.SignedBy != actor+"#main-key" {
		t.Fatalf("Update %s signed by %q", upd.Body, upd.SignedBy)
	}

	// An item vanishes and another sells out: two Deletes.
	cat.edit(t, `"dfc-b:stockLimitation" : "5"`, `"dfc-b:stockLimitation" : "0"`)
	cat.drop(t, fdcItem+"44519468400947/CatalogItem")
	if rep, err := r.Admin.Bridges().Sync(ctx, "hodmedod"); err != nil || rep.Deleted != 2 || rep.SoldOut != 1 || rep.Unchanged != 4 {
		t.Fatalf("sync after a removal and a sell-out: %+v %v", rep, err)
	}
	waitReceived(t, sub, "Delete", 2)
	if n := countListings(t, r, ""); n != 4 {
		t.Fatalf("/listings has %d; want 4", n)
	}

}

// waitReceived waits until in received n activities of typ and returns them.
func waitReceived(t *testing.T, in *relaytest.Instance, typ string, n int) []relaytest.Received {
	t.Helper()
	waitFor(t, "the subscriber receives "+typ, func() bool { return len(in.ReceivedOf(typ)) >= n })
	got := in.ReceivedOf(typ)
	if len(got) != n {
		t.Fatalf("received %d %s; want %d", len(got), typ, n)
	}
	return got
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// bridgeKey reads a bridge actor's Ed25519 Multikey from its document.
func bridgeKey(t *testing.T, actor string) []byte {
	t.Helper()
	var doc struct {
		Type            string
		Name            string
		AssertionMethod []struct{ ID, PublicKeyMultibase string }
	}
	getJSON(t, actor, &doc)
	if doc.Type != "Service" || len(doc.AssertionMethod) != 1 || doc.AssertionMethod[0].ID != actor+"#ed25519-key" {
		t.Fatalf("bridge actor %+v", doc)
	}
	pub, err := proof.DecodeMultikey(doc.AssertionMethod[0].PublicKeyMultibase)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// checkListing fetches a listing from its IRI and verifies its proof.
func checkListing(t *testing.T, r *testRelay, id string, pub []byte) {
	t.Helper()
	if !strings.HasPrefix(id, r.URL+"/bridges/hodmedod/listings/") {
		t.Fatalf("listing id %s", id)
	}
	resp, err := http.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", id, resp.StatusCode)
	}
	if _, err := proof.VerifyKey(body, pub); err != nil {
		t.Fatalf("the listing's proof does not verify: %v", err)
	}
}

func countListings(t *testing.T, r *testRelay, query string) int {
	t.Helper()
	var out struct{ Items []json.RawMessage }
	getJSON(t, r.URL+"/listings"+query, &out)
	return len(out.Items)
}

// checkCatalogRoundTrip reads /dfc/catalog with a JSON-LD processor and
// with the bridge's importer, and compares its offers with the catalog's.
func checkCatalogRoundTrip(t *testing.T, r *testRelay, cat *catalogServer, claimed string) {
	t.Helper()
	resp, err := http.Get(r.URL + "/dfc/catalog")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var parsed any
	if err := json.Unmarshal(body, &parsed); err != nil {
		t.Fatal(err)
	}
	if _, err := ld.NewJsonLdProcessor().Expand(parsed, ld.NewJsonLdOptions("")); err != nil {
		t.Fatalf("/dfc/catalog does not expand as JSON-LD: %v", err)
	}
	out, err := dfc.Read(body)
	if err != nil {
		t.Fatal(err)
	}
	cat.mu.Lock()
	src, err := dfc.Read(cat.served())
	cat.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	type offer struct{ name, qty, unit, stock, price, currency string }
	key := func(it dfc.Item) offer {
		return offer{it.Name, it.Quantity.Value, it.Quantity.Unit, it.Stock, it.Price.Value, it.Price.Currency.ISO4217}
	}
	want := map[string]offer{}
	for _, it := range src.Items {
		want[it.Product] = key(it)
	}
	var claims []dfc.Item
	for _, it := range out.Items {
		if _, ours := want[it.Product]; !ours {
			claims = append(claims, it)
			continue
		}
		if key(it) != want[it.Product] {
			t.Errorf("%s: /dfc/catalog says %+v; the catalog %+v", it.Product, key(it), want[it.Product])
		}
	}
	if len(out.Items) != len(want)+1 || len(out.Enterprises) != 2 {
		t.Fatalf("/dfc/catalog has %d items, enterprises %v; want %d and the bridge and the claimant",
			len(out.Items), out.Enterprises, len(want)+1)
	}
	if len(claims) != 1 || claims[0].Name != "FAKE beans" || !strings.HasSuffix(claims[0].Product, "#product") ||
		!strings.Contains(string(body), `"rdfs:seeAlso": {`) || !strings.Contains(string(body), claimed) {
		t.Errorf("the claim on %s: %+v", claimed, claims)
	}
}

// A bridge survives its catalog server's bad answers: an error page
// answered 200 changes nothing; a catalog that would withdraw most
// listings holds the withdrawals back (publishing the rest) until a second
// read names the same ones, however differently it is written; the
// catalog URL's query never shows; blocking the catalog's host withdraws
// what came from it.
func TestBridgeSurvivesBadAnswers(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile("dfc/testdata/fdc-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	r := startRelay(t, nil)
	sub := newInstance(t, relaytest.Mastodon)
	subscribe(t, r, sub)
	cat := newCatalogServer(t, fixture, "s3cret")
	cat.set(func(c *catalogServer) { c.etags = false })
	if _, err := r.Admin.Bridges().Add(ctx, admin.BridgeAdd{Name: "shop", Catalog: cat.URL + "/catalog?key=hush", Auth: "api-token",
		Token: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	sync := func() (admin.BridgeSynced, error) { return r.Admin.Bridges().Sync(ctx, "shop") }
	if rep, err := sync(); err != nil || rep.Created != 6 {
		t.Fatalf("first sync: %+v %v", rep, err)
	}
	var actorDoc map[string]any
	getJSON(t, r.URL+"/actors/bridge-shop", &actorDoc)
	if s, _ := actorDoc["summary"].(string); strings.Contains(s, "hush") || !strings.Contains(s, cat.URL+"/catalog") {
		t.Errorf("the actor shows the catalog URL as %q", s)
	}

	// An error page with 200: refused, nothing withdrawn.
	cat.set(func(c *catalogServer) { c.body = []byte(`{"error": "database maintenance"}`) })
	if _, err := sync(); err == nil || !strings.Contains(err.Error(), "no DFC CatalogItem") {
		t.Fatalf("sync of an error page: %v", err)
	}
	// Down to one item, whose price changed: the change is published, the
	// five withdrawals wait for a second read, which may differ in form.
	one := dropAllBut(t, fixture, fdcItem+"44519466467635/CatalogItem")
	one = []byte(strings.Replace(string(one), `"dfc-b:value":"2.09"`, `"dfc-b:value":"2.19"`, 1))
	cat.set(func(c *catalogServer) { c.body = one })
	if rep, err := sync(); err != nil || rep.Held != 5 || rep.Updated != 1 || rep.Deleted != 0 {
		t.Fatalf("first read of a shrunken catalog: %+v %v; want 5 held and the update", rep, err)
	}
	if bs, _ := r.Admin.Bridges().List(ctx); len(bs) != 1 || bs[0].Held != 5 || bs[0].Listed != 6 {
		t.Fatalf("bridges after holding: %+v", bs)
	}
	cat.set(func(c *catalogServer) { c.body = []byte(" \n" + string(one) + "\n") })
	if rep, err := sync(); err != nil || rep.Deleted != 5 || rep.Held != 0 {
		t.Fatalf("second read: %+v %v; want the 5 withdrawn", rep, err)
	}
	waitReceived(t, sub, "Delete", 5)

	// The rules block the catalog's host: its listing goes too.
	if _, _, err := r.Admin.Block(ctx, admin.Block{Domain: strings.TrimPrefix(cat.URL, "http://"), Severity: "suspend",
		Reason: "spam shop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sync(); err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("sync of a blocked host: %v", err)
	}
	waitReceived(t, sub, "Delete", 6)
	if n := countListings(t, r, ""); n != 0 {
		t.Fatalf("%d listings after the host was blocked", n)
	}
}

// A listing that lapsed (the catalog stayed unreachable, or the relay
// stopped, for its whole life) comes back with a Create: receivers have
// let it go, and would ignore an Update.
func TestBridgeLapsedListingsComeBack(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile("dfc/testdata/fdc-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	// Listings may run 2 s, so bridge listings lapse within the test.
	r := startRelay(t, func(c *relay.Config) { c.ListingHorizon = 2 * time.Second })
	sub := newInstance(t, relaytest.Mastodon)
	subscribe(t, r, sub)
	cat := newCatalogServer(t, fixture, "t")
	if _, err := r.Admin.Bridges().Add(ctx, admin.BridgeAdd{Name: "shop", Catalog: cat.URL + "/c", Auth: "api-token", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Admin.Bridges().Sync(ctx, "shop"); err != nil || rep.Created != 6 {
		t.Fatalf("first sync: %+v %v", rep, err)
	}
	waitFor(t, "the listings to lapse", func() bool { return countListings(t, r, "") == 0 })
	if rep, err := r.Admin.Bridges().Sync(ctx, "shop"); err != nil || rep.Created != 6 || rep.Renewed+rep.Updated != 0 {
		t.Fatalf("sync after the listings lapsed: %+v %v; want them created anew", rep, err)
	}
	waitReceived(t, sub, "Create", 12)
	if n := len(sub.ReceivedOf("Update")); n != 0 {
		t.Fatalf("%d Updates of lapsed listings", n)
	}
}

// dropAllBut is a catalog with only one of its catalog items.
func dropAllBut(t *testing.T, doc []byte, keep string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, n := range m["@graph"].([]any) {
		node := n.(map[string]any)
		if node["@type"] != "dfc-b:CatalogItem" || node["@id"] == keep {
			kept = append(kept, n)
		}
	}
	m["@graph"] = kept
	out, _ := json.Marshal(m)
	return out
}
