package console

import (
	"context"
	"net/http"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

// Peers are the relay's view of other servers: discovery and trust.
type Peers interface {
	// Peers lists the discovery directory (no lookup).
	Peers(ctx context.Context, region, kind string, lookup bool) ([]admin.Peer, error)
	// PeerTrust lists each known peer's trust level with what the relay
	// observed of it.
	PeerTrust(ctx context.Context) ([]admin.PeerTrust, error)
}

// Endorsements reads the opinions of domains published by this relay's
// moderators and by the relays it trusts (policy.Moderator).
type Endorsements interface {
	PeerEndorsements(ctx context.Context) ([]policy.PeerEndorsement, error)
}

// peersData is what the peers page shows.
type peersData struct {
	Directory []admin.Peer
	Trust     []admin.PeerTrust
	Keys      []store.PinnedKey
	Given     []store.Endorsement
	// Received are read from the trusted relays when asked for (it
	// fetches their documents); ReadReceived says they were.
	Received     []policy.PeerEndorsement
	ReadReceived bool
}

// peers shows discovered relays and FMP servers, trust levels, pinned keys
// with their rotations, and endorsements given and received.
func (c *Console) peers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d peersData
	var err error
	steps := []func() error{
		func() (err error) { d.Directory, err = c.cfg.Peers.Peers(ctx, "", "", false); return },
		func() (err error) { d.Trust, err = c.cfg.Peers.PeerTrust(ctx); return },
		func() (err error) { d.Keys, err = c.cfg.Reads.PinnedKeys(ctx); return },
		func() (err error) { d.Given, err = c.cfg.Reads.Endorsements(ctx); return },
	}
	if r.URL.Query().Get("received") == "1" {
		d.ReadReceived = true
		steps = append(steps, func() (err error) { d.Received, err = c.cfg.Endorsements.PeerEndorsements(ctx); return })
	}
	for _, step := range steps {
		if err = step(); err != nil {
			c.failed(w, r, err)
			return
		}
	}
	c.render(w, r, http.StatusOK, "peers", nil, page{Data: d})
}
