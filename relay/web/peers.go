package web

import (
	"encoding/json"
	"net/http"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
)

// handlePeers serves the public directory: verified peers that are not
// blocked.
func (s *Site) handlePeers(w http.ResponseWriter, r *http.Request) {
	out := []admin.Peer{}
	for _, p := range s.PublicPeers() {
		if !p.Verified || policy.Action(p.Policy).Blocks() {
			continue
		}
		p.Trust, p.Policy = "", ""
		out = append(out, p)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(out)
}

// handleOwnAnnouncement serves this relay's signed announcement, for
// operators who add it to their directory by hand.
func (s *Site) handleOwnAnnouncement(w http.ResponseWriter, r *http.Request) {
	b, err := s.Announcement(r.Context())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(b)
}
