package web

import (
	"encoding/json"
	"net/http"

	"github.com/runrig/runrig/policy"
)

// The moderation policy the relay publishes for other relays and servers.

// handlePublishedBlocks serves the relay's own block list, obfuscated
// domains masked, for other relays and servers to subscribe to.
func (s *Site) handlePublishedBlocks(w http.ResponseWriter, r *http.Request) {
	b, err := s.Moderation.ExportList(r.Context(), false, true)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(b)
}

// handlePublishedEndorsements serves the relay's endorsements and censures.
func (s *Site) handlePublishedEndorsements(w http.ResponseWriter, r *http.Request) {
	es, err := s.Store.Endorsements(r.Context())
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	out := make([]policy.PublishedEndorsement, 0, len(es))
	for _, e := range es {
		out = append(out, policy.PublishedEndorsement{Domain: e.Domain, Kind: e.Kind, Reason: e.Reason, Created: e.Created})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(map[string]any{"relay": s.ActorID, "endorsements": out})
}
