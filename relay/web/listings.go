package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// listingsPage is how many listings a page of GET /listings holds.
const listingsPage = 50

// listingView is a listing in the public API.
type listingView struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Name     string          `json:"name"`
	Actor    string          `json:"actor"`
	Regions  []string        `json:"regions"`
	Products []string        `json:"products"`
	Start    time.Time       `json:"start,omitzero"`
	End      time.Time       `json:"end"`
	Location *[2]float64     `json:"location,omitempty"`
	Object   json.RawMessage `json:"object"`
}

// handleListings serves GET /listings?kind=&region=&product=&page=: the
// current listings the relay relayed, soonest ending first, paged.
func (s *Site) handleListings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lq := store.ListingQuery{Kind: q.Get("kind"), Region: q.Get("region"), Product: q.Get("product"),
		Now: time.Now(), Limit: listingsPage}
	if lq.Kind != "" {
		if _, ok := listing.ParseKind(lq.Kind); !ok {
			http.Error(w, "kind must be offer, request or surplus", http.StatusBadRequest)
			return
		}
	}
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 10000 {
			http.Error(w, "page must be a number from 1", http.StatusBadRequest)
			return
		}
		page = n
	}
	lq.Offset = (page - 1) * listingsPage
	recs, err := s.Store.Listings(r.Context(), lq)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	out := struct {
		Items []listingView `json:"items"`
		Next  string        `json:"next,omitempty"`
	}{Items: make([]listingView, 0, len(recs))}
	for _, rec := range recs {
		out.Items = append(out.Items, viewOf(rec))
	}
	if len(recs) == listingsPage {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("page", fmt.Sprint(page+1))
		out.Next = s.PublicURL + "/listings?" + next.Encode()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(out)
}

func viewOf(rec store.ListingRecord) listingView {
	v := listingView{ID: rec.ID, Kind: rec.Kind, Name: rec.Name, Actor: rec.Actor, Regions: rec.Regions,
		Products: rec.Products, Start: rec.Start, End: rec.End}
	if v.Regions == nil {
		v.Regions = []string{}
	}
	if rec.Lat != nil && rec.Lon != nil {
		v.Location = &[2]float64{*rec.Lat, *rec.Lon}
	}
	var env struct {
		Object json.RawMessage `json:"object"`
	}
	if json.Unmarshal(rec.Activity, &env) == nil {
		v.Object = env.Object
	}
	return v
}
