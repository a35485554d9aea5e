package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/store"
)

// Bounds of what the DFC catalog serves.
const (
	// maxCatalogListings bounds the listings one /dfc/catalog answer holds.
	maxCatalogListings = 2000
	// bridgePrefix starts the name of a bridge's actor.
	bridgePrefix = "bridge-"
)

// Bridges are the relay's DFC bridges, as their actors show them.
type Bridges interface {
	// Actor returns a bridge's actor; store.ErrNotFound when there is none.
	Actor(ctx context.Context, name string) (BridgeActor, error)
}

// BridgeActor is what a bridge's actor document says.
type BridgeActor struct {
	Name string
	// ID is the actor's IRI; DisplayName the enterprise's name.
	ID, DisplayName string
	// Catalog is the catalog's URL.
	Catalog string
	// PublicKeyPEM is its RSA key; Multikey its Ed25519 key, multibase.
	PublicKeyPEM, Multikey string
	Retired                bool
}

// bridgeName returns the bridge a /actors/{slice} name is, if it is one.
func bridgeName(slice string) (string, bool) {
	return strings.CutPrefix(slice, bridgePrefix)
}

// handleBridgeActor serves a bridge's actor: a Service named after the
// enterprise, with its own RSA key and Ed25519 Multikey.
func (s *Site) handleBridgeActor(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := s.bridgeActor(w, r, name)
	if !ok {
		return
	}
	summary := "Listings from the DFC catalog " + a.Catalog + ", published by the relay " + s.PublicURL + "."
	if a.Retired {
		summary = "A retired bridge: it publishes nothing more."
	}
	doc := map[string]any{
		"@context": append(append([]any{}, asjson.Contexts...), multikeyContext),
		"id":       a.ID, "type": "Service", "name": a.DisplayName, "preferredUsername": bridgePrefix + a.Name,
		"summary": summary, "url": s.PublicURL + "/", "inbox": s.InboxID, "outbox": a.ID + "/outbox",
		"followers": a.ID + "/followers", "following": a.ID + "/following",
		"endpoints": map[string]string{"sharedInbox": s.InboxID},
		"publicKey": map[string]string{"id": a.ID + "#main-key", "owner": a.ID, "publicKeyPem": a.PublicKeyPEM},
		"assertionMethod": []map[string]string{{"id": a.ID + "#ed25519-key", "type": "Multikey", "controller": a.ID,
			"publicKeyMultibase": a.Multikey}},
	}
	b, _ := json.Marshal(doc)
	asjson.Write(w, r, b)
}

func (s *Site) bridgeActor(w http.ResponseWriter, r *http.Request, name string) (BridgeActor, bool) {
	if s.Bridges == nil {
		http.NotFound(w, r)
		return BridgeActor{}, false
	}
	a, err := s.Bridges.Actor(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.NotFound(w, r)
		return a, false
	case err != nil:
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return a, false
	}
	return a, true
}

// handleBridgeOutbox serves a bridge's outbox: the activities that carry
// its current listings, newest first (one page of at most outboxPage).
func (s *Site) handleBridgeOutbox(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := s.bridgeActor(w, r, name)
	if !ok {
		return
	}
	recs, err := s.Store.Listings(r.Context(), store.ListingQuery{Actor: a.ID, Now: time.Now(), Limit: outboxPage})
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	items := make([]json.RawMessage, 0, len(recs))
	for _, rec := range recs {
		items = append(items, rec.Activity)
	}
	b, _ := json.Marshal(map[string]any{"@context": asjson.Contexts, "id": a.ID + "/outbox",
		"type": "OrderedCollection", "totalItems": len(items), "orderedItems": items})
	asjson.Write(w, r, b)
}

// handleBridgeListing serves a bridge's listing, the Proposal with its
// proof, at its IRI; a listing withdrawn or lapsed is 404.
func (s *Site) handleBridgeListing(w http.ResponseWriter, r *http.Request) {
	id := s.PublicURL + "/bridges/" + r.PathValue("name") + "/listings/" + r.PathValue("id")
	rec, err := s.Store.Listing(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !rec.End.After(time.Now())):
		http.NotFound(w, r)
		return
	case err != nil:
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	var env struct {
		Object json.RawMessage `json:"object"`
	}
	if json.Unmarshal(rec.Activity, &env) != nil || len(env.Object) == 0 {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	asjson.Write(w, r, env.Object)
}

// handleDFCCatalog serves the relay's current offers and surplus as a DFC
// catalog, so an Open Food Network hub imports them with the tools it has.
// ?kind=offer|surplus, ?region= and ?product= select as /listings does.
func (s *Site) handleDFCCatalog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind := q.Get("kind")
	switch kind {
	case "", "offer", "surplus":
	case "request":
		http.Error(w, "a DFC catalog lists what is offered: requests are at /listings?kind=request", http.StatusBadRequest)
		return
	default:
		http.Error(w, "kind must be offer or surplus", http.StatusBadRequest)
		return
	}
	lq := store.ListingQuery{Kind: kind, Region: q.Get("region"), Product: q.Get("product"), Now: time.Now()}
	body, etag, err := s.catalogs.get(lq, func() ([]byte, int, error) {
		offerings, err := s.catalogOfferings(r.Context(), lq)
		if err != nil {
			return nil, 0, err
		}
		doc, err := dfc.Write(offerings)
		return doc, len(offerings), err
	})
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Vary", "Accept")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/ld+json")
	w.Write(body)
}

// catalogTTL is how long a /dfc/catalog answer is served from memory:
// building one reads up to maxCatalogListings listings, too much to do
// for every anonymous request.
const (
	catalogTTL       = 30 * time.Second
	maxCachedQueries = 64
)

// catalogCache holds recent /dfc/catalog answers by query. Requests for
// the same query while it is built wait for that one build; the oldest
// answer makes room for a new query; an empty answer is not kept. The
// zero value is ready.
type catalogCache struct {
	// mu guards the following field.
	mu      sync.Mutex
	answers map[store.ListingQuery]*cachedCatalog
	// waiting, when set (tests), is called as a request starts waiting
	// for another's build.
	waiting func()
}

type cachedCatalog struct {
	// ready is closed once the fields below are set.
	ready chan struct{}
	body  []byte
	etag  string
	err   error
	at    time.Time
}

// get returns the answer to q, built by build (which also says how many
// listings it holds) when none is recent.
func (c *catalogCache) get(q store.ListingQuery, build func() ([]byte, int, error)) ([]byte, string, error) {
	now := q.Now
	q.Now = time.Time{}
	c.mu.Lock()
	if c.answers == nil {
		c.answers = map[store.ListingQuery]*cachedCatalog{}
	}
	a := c.answers[q]
	if a != nil && (!isDone(a) || now.Sub(a.at) < catalogTTL) {
		c.mu.Unlock()
		if c.waiting != nil && !isDone(a) {
			c.waiting()
		}
		<-a.ready
		return a.body, a.etag, a.err
	}
	if a == nil && len(c.answers) >= maxCachedQueries {
		c.evictOldest()
	}
	a = &cachedCatalog{ready: make(chan struct{}), at: now}
	c.answers[q] = a
	c.mu.Unlock()

	body, n, err := build()
	a.body, a.err = body, err
	if err == nil {
		sum := sha256.Sum256(body)
		a.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	}
	close(a.ready)
	if err != nil || n == 0 {
		c.mu.Lock()
		if c.answers[q] == a {
			delete(c.answers, q)
		}
		c.mu.Unlock()
	}
	return a.body, a.etag, a.err
}

func isDone(a *cachedCatalog) bool {
	select {
	case <-a.ready:
		return true
	default:
		return false
	}
}

// evictOldest forgets the oldest finished answer; c.mu is held.
func (c *catalogCache) evictOldest() {
	var oldest store.ListingQuery
	var at time.Time
	found := false
	for q, a := range c.answers {
		if isDone(a) && (!found || a.at.Before(at)) {
			oldest, at, found = q, a.at, true
		}
	}
	if found {
		delete(c.answers, oldest)
	}
}

// catalogOfferings reads the current listings q selects (offers and
// surplus; requests are not offerings) as catalog entries.
func (s *Site) catalogOfferings(ctx context.Context, q store.ListingQuery) ([]dfc.Offering, error) {
	var out []dfc.Offering
	authors := map[string]author{}
	for q.Offset = 0; q.Offset < maxCatalogListings; q.Offset += listingsPage {
		q.Limit = min(listingsPage, maxCatalogListings-q.Offset)
		recs, err := s.Store.Listings(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if rec.Kind == "request" {
				continue
			}
			a, ok := authors[rec.Actor]
			if !ok {
				a = s.authorOf(ctx, rec.Actor)
				authors[rec.Actor] = a
			}
			if o, ok := dfc.OfferingOf(rec.Activity, a.name); ok {
				o.Describes = s.mayDescribe(a, o.Product)
				out = append(out, o)
			}
		}
		if len(recs) < q.Limit {
			break
		}
	}
	return out, nil
}

// author is a listing's author as the catalog names it: a bridge by its
// enterprise, others by their address.
type author struct {
	id, name string
	// catalog is a bridge's catalog URL; "" for other authors.
	catalog string
}

func (s *Site) authorOf(ctx context.Context, actor string) author {
	a := author{id: actor, name: actor}
	if u, err := url.Parse(actor); err == nil {
		a.name = u.Host + u.Path
	}
	if b, ok := strings.CutPrefix(actor, s.PublicURL+"/actors/"+bridgePrefix); ok && s.Bridges != nil {
		if ba, err := s.Bridges.Actor(ctx, b); err == nil {
			a.name, a.catalog = ba.DisplayName, ba.Catalog
		}
	}
	return a
}

// mayDescribe reports whether a listing's author may describe the product
// under the product's IRI: one on the product's own host, or a bridge of
// this relay whose catalog is on it (it read the product from there);
// never a product on this relay's host.
func (s *Site) mayDescribe(a author, product string) bool {
	switch {
	case policy.SameHost(product, s.PublicURL):
		return false
	case a.catalog != "":
		return policy.SameHost(product, a.catalog)
	}
	return policy.SameHost(a.id, product)
}
