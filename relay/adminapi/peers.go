package adminapi

import (
	"errors"
	"net/http"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
)

func (a *api) adminSelf(w http.ResponseWriter, r *http.Request) {
	b, err := a.peers.Announcement(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// adminPeers lists the directory; ?region= and ?kind= select peers (or
// their members) serving that region and carrying that kind; ?lookup=1
// asks the DHT first.
func (a *api) adminPeers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out, err := a.peers.Peers(r.Context(), q.Get("region"), q.Get("kind"), q.Get("lookup") != "")
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, discovery.ErrLookup) {
			status = http.StatusGatewayTimeout
		}
		adminError(w, status, err)
		return
	}
	adminJSON(w, out)
}

func (a *api) adminAddPeer(w http.ResponseWriter, r *http.Request) {
	var req admin.AddPeer
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	rec, err := a.peers.AddPeer(r.Context(), req.URL)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, policy.ErrBadRule) {
			status = http.StatusBadRequest
		}
		adminError(w, status, err)
		return
	}
	adminJSON(w, rec)
}
