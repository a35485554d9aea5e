package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// BridgeAdd adds a DFC bridge.
type BridgeAdd struct {
	Name    string `json:"name"`
	Catalog string `json:"catalog"`
	// Auth is "", "api-token" or "bearer"; Token the secret (read by
	// the CLI from a file, never given on the command line).
	Auth   string `json:"auth,omitempty"`
	Token  string `json:"token,omitempty"`
	Every  string `json:"every,omitempty"`
	Region string `json:"region,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Bridge is a DFC bridge and how its last sync went. Its token is never
// shown.
type Bridge struct {
	Name        string    `json:"name"`
	Actor       string    `json:"actor"`
	DisplayName string    `json:"display_name,omitempty"`
	Catalog     string    `json:"catalog"`
	Auth        string    `json:"auth,omitempty"`
	Every       string    `json:"every"`
	Region      string    `json:"region,omitempty"`
	Kind        string    `json:"kind"`
	Created     time.Time `json:"created"`
	Retired     bool      `json:"retired,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	NextSync    time.Time `json:"next_sync,omitzero"`
	// Listed, SoldOut and Skipped count catalog items as of the last good
	// sync; Problems say why the skipped ones were refused.
	Listed   int             `json:"listed"`
	SoldOut  int             `json:"sold_out"`
	Skipped  int             `json:"skipped"`
	Problems []BridgeProblem `json:"problems,omitempty"`
	// Held counts withdrawals held back until the next read agrees.
	Held int `json:"held,omitempty"`
}

// BridgeProblem is a catalog item a bridge refused.
type BridgeProblem struct {
	Item    string `json:"item"`
	Field   string `json:"field"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// BridgeSynced is what a sync did.
type BridgeSynced struct {
	NotModified bool            `json:"not_modified,omitempty"`
	Created     int             `json:"created"`
	Updated     int             `json:"updated"`
	Renewed     int             `json:"renewed"`
	Deleted     int             `json:"deleted"`
	Unchanged   int             `json:"unchanged"`
	SoldOut     int             `json:"sold_out"`
	Skipped     int             `json:"skipped"`
	Problems    []BridgeProblem `json:"problems,omitempty"`
	// Held counts withdrawals held back until the next read agrees;
	// Deferred changes left for the next sync.
	Held     int `json:"held,omitempty"`
	Deferred int `json:"deferred,omitempty"`
}

// BridgeRemoved says how many listings a removed bridge withdrew.
type BridgeRemoved struct {
	Withdrawn int `json:"withdrawn"`
}

// Bridges are the admin API's calls on DFC bridges.
type Bridges struct{ c *Client }

// Bridges returns the calls on DFC bridges.
func (c *Client) Bridges() Bridges { return Bridges{c} }

// Add adds a bridge.
func (b Bridges) Add(ctx context.Context, req BridgeAdd) (Bridge, error) {
	var out Bridge
	err := b.c.do(ctx, http.MethodPost, "/bridges", req, &out)
	return out, err
}

// List lists the bridges.
func (b Bridges) List(ctx context.Context) ([]Bridge, error) {
	var out []Bridge
	err := b.c.do(ctx, http.MethodGet, "/bridges", nil, &out)
	return out, err
}

// Sync reads a bridge's catalog now.
func (b Bridges) Sync(ctx context.Context, name string) (BridgeSynced, error) {
	return b.SyncProgress(ctx, name, nil)
}

// SyncProgress reads a bridge's catalog now and calls onProgress (when
// not nil) as the relay publishes its items.
func (b Bridges) SyncProgress(ctx context.Context, name string, onProgress func(Progress)) (BridgeSynced, error) {
	var out BridgeSynced
	err := b.c.doProgress(ctx, http.MethodPost, "/bridges/"+url.PathEscape(name)+"/sync", nil, &out, onProgress)
	return out, err
}

// Remove stops a bridge and withdraws its listings.
func (b Bridges) Remove(ctx context.Context, name, reason string) (BridgeRemoved, error) {
	var out BridgeRemoved
	err := b.c.do(ctx, http.MethodDelete, "/bridges/"+url.PathEscape(name)+"?reason="+url.QueryEscape(reason), nil, &out)
	return out, err
}
