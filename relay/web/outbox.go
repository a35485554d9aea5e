package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
)

// outboxPage is how many items a page of a slice's outbox holds.
const outboxPage = 50

// handleSliceOutbox serves a slice actor's outbox: an OrderedCollection of
// Announces of the slice's current listings, so that a server that just
// subscribed can backfill. Without ?page it is the collection with its
// first page; ?page=N is one OrderedCollectionPage.
func (s *Site) handleSliceOutbox(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("slice")
	if b, ok := bridgeName(name); ok {
		s.handleBridgeOutbox(w, r, b)
		return
	}
	sl, ok := s.Slices.Get(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == slices.Directory {
		s.collection(s.Slices.Actor(name)+"/outbox", 0)(w, r) // carries no listings
		return
	}
	actor := s.Slices.Actor(name)
	id := actor + "/outbox"
	page := 0
	if p := r.URL.Query().Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 10000 {
			http.Error(w, "page must be a number from 1", http.StatusBadRequest)
			return
		}
		page = n
	}
	q := store.ListingQuery{Kind: string(sl.Kind), Region: sl.Region, Now: time.Now(), Limit: outboxPage}
	if page > 0 {
		q.Offset = (page - 1) * outboxPage
	}
	recs, err := s.Store.Listings(r.Context(), q)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	items := make([]any, 0, len(recs))
	for _, rec := range recs {
		sum := sha256.Sum256([]byte(rec.ID))
		items = append(items, map[string]any{
			"id": actor + "/announces/" + hex.EncodeToString(sum[:12]), "type": "Announce", "actor": actor,
			"object": rec.ID, "to": []string{asjson.Public}, "cc": []string{actor + "/followers"},
			"published": rec.ReceivedAt.UTC().Format(time.RFC3339),
		})
	}
	cur := page
	if cur == 0 {
		cur = 1
	}
	pageDoc := map[string]any{
		"id": fmt.Sprintf("%s?page=%d", id, cur), "type": "OrderedCollectionPage", "partOf": id,
		"orderedItems": items,
	}
	if len(recs) == outboxPage {
		pageDoc["next"] = fmt.Sprintf("%s?page=%d", id, cur+1)
	}
	var doc map[string]any
	if page > 0 {
		doc = pageDoc
	} else {
		doc = map[string]any{"id": id, "type": "OrderedCollection", "first": pageDoc}
	}
	doc["@context"] = asjson.Contexts
	b, _ := json.Marshal(doc)
	asjson.Write(w, r, b)
}
