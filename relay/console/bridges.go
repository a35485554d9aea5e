package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

// maxTokenField bounds a catalog token typed into the console.
const maxTokenField = 4096

// Bridges are the DFC bridges, as admins manage them (the same service
// the admin API calls).
type Bridges interface {
	AddBridge(ctx context.Context, op policy.Operator, req admin.BridgeAdd) (admin.Bridge, error)
	Bridges(ctx context.Context) ([]admin.Bridge, error)
	SyncBridge(ctx context.Context, name string, progress func(step string, done, total int)) (admin.BridgeSynced, error)
	RemoveBridge(ctx context.Context, op policy.Operator, name string) (admin.BridgeRemoved, error)
}

// bridgePages are the admins' pages of DFC bridges.
type bridgePages struct{ *Console }

func (c bridgePages) bridges(w http.ResponseWriter, r *http.Request) {
	bs, err := c.cfg.Bridges.Bridges(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "bridges", nil, page{Data: bs, Message: notice(r)})
}

// addBridge adds a bridge from the form; its token is typed in a password
// field and never shown again.
func (c bridgePages) addBridge(w http.ResponseWriter, r *http.Request) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	req := admin.BridgeAdd{Name: f("name"), Catalog: f("catalog"), Auth: f("auth"), Token: f("token"), Every: f("every"),
		Region: f("region"), Kind: f("kind"), Reason: f("reason")}
	if req.Name == "" || req.Catalog == "" || len(req.Token) > maxTokenField {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	if req.Auth == "none" {
		req.Auth, req.Token = "", ""
	}
	b, err := c.cfg.Bridges.AddBridge(r.Context(), current(r).operator(req.Reason), req)
	if err != nil {
		c.bridgeFailed(w, r, req.Name, err)
		return
	}
	redirect(w, r, "/admin/bridges", "bridge_added", b.Name)
}

// bridgeAction syncs a bridge now or removes it.
func (c bridgePages) bridgeAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch r.PostFormValue("action") {
	case "sync":
		if !c.maySync("bridge:"+name, now()) {
			c.refuse(w, r, http.StatusTooManyRequests, "sync_soon")
			return
		}
		s, err := c.cfg.Bridges.SyncBridge(r.Context(), name, nil)
		if err != nil {
			c.bridgeFailed(w, r, name, err)
			return
		}
		redirect(w, r, "/admin/bridges", "bridge_synced", name, s.Created, s.Updated, s.Deleted, s.Skipped)
	case "remove":
		rm, err := c.cfg.Bridges.RemoveBridge(r.Context(), current(r).operator(r.PostFormValue("reason")), name)
		if err != nil {
			c.bridgeFailed(w, r, name, err)
			return
		}
		redirect(w, r, "/admin/bridges", "bridge_removed", name, rm.Withdrawn)
	default:
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
	}
}

// bridgeFailed explains a bridge operation that failed, with the status
// the service gave it.
func (c bridgePages) bridgeFailed(w http.ResponseWriter, r *http.Request, name string, err error) {
	status := http.StatusBadGateway
	var se interface{ StatusCode() int }
	switch {
	case errors.As(err, &se):
		status = se.StatusCode()
	case errors.Is(err, store.ErrNotFound):
		c.refuse(w, r, http.StatusNotFound, "not_found")
		return
	}
	c.render(w, r, status, "error", nil, page{Message: fmt.Sprintf(msg("bridge_failed"), name, err)})
}
