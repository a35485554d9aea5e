package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/bridge"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/store"
)

// Bridges are the operator's DFC bridges (bridge.Service).
type Bridges interface {
	Add(ctx context.Context, op policy.Operator, set bridge.Settings) (bridge.Status, error)
	List(ctx context.Context) ([]bridge.Status, error)
	Sync(ctx context.Context, name string) (bridge.Report, error)
	Remove(ctx context.Context, op policy.Operator, name string) (int, error)
}

func (a *api) registerBridges(mux *http.ServeMux) {
	mux.HandleFunc("GET /bridges", func(w http.ResponseWriter, r *http.Request) {
		bs, err := a.bridges.List(r.Context())
		listJSON(w, bs, err, bridgeView)
	})
	mux.HandleFunc("POST /bridges", a.adminAddBridge)
	mux.HandleFunc("POST /bridges/{name}/sync", func(w http.ResponseWriter, r *http.Request) {
		rep, err := a.bridges.Sync(r.Context(), r.PathValue("name"))
		if err != nil {
			adminError(w, bridgeStatus(err), err)
			return
		}
		adminJSON(w, admin.BridgeSynced{NotModified: rep.NotModified, Created: rep.Created, Updated: rep.Updated,
			Renewed: rep.Renewed, Deleted: rep.Deleted, Unchanged: rep.Unchanged, SoldOut: rep.SoldOut,
			Skipped: rep.Skipped, Problems: problemViews(rep.Problems)})
	})
	mux.HandleFunc("DELETE /bridges/{name}", func(w http.ResponseWriter, r *http.Request) {
		n, err := a.bridges.Remove(r.Context(), operatorOf(r, r.URL.Query().Get("reason")), r.PathValue("name"))
		if err != nil {
			adminError(w, bridgeStatus(err), err)
			return
		}
		adminJSON(w, admin.BridgeRemoved{Withdrawn: n})
	})
}

func (a *api) adminAddBridge(w http.ResponseWriter, r *http.Request) {
	var req admin.BridgeAdd
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	var every time.Duration
	if req.Every != "" {
		d, err := time.ParseDuration(req.Every)
		if err != nil {
			adminError(w, http.StatusBadRequest, errors.New("every: a duration such as 15m or 1h"))
			return
		}
		every = d
	}
	st, err := a.bridges.Add(r.Context(), operatorOf(r, req.Reason), bridge.Settings{Name: req.Name, Catalog: req.Catalog,
		Auth: req.Auth, Token: req.Token, Every: every, Region: req.Region, Kind: req.Kind})
	if err != nil {
		adminError(w, bridgeStatus(err), err)
		return
	}
	adminJSON(w, bridgeView(st))
}

func bridgeStatus(err error) int {
	switch {
	case errors.Is(err, bridge.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrExists), errors.Is(err, bridge.ErrBusy):
		return http.StatusConflict
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, bridge.ErrCredentials), errors.Is(err, bridge.ErrCatalogStatus), errors.Is(err, bridge.ErrTooLarge),
		errors.Is(err, bridge.ErrRefusedHost), errors.Is(err, dfc.ErrDocument), errors.Is(err, dfc.ErrContext):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

func bridgeView(s bridge.Status) admin.Bridge {
	return admin.Bridge{Name: s.Name, Actor: s.Actor, DisplayName: s.DisplayName, Catalog: s.Catalog, Auth: s.Auth,
		Every: s.Every.String(), Region: s.Region, Kind: s.Kind, Created: s.Created, Retired: s.Retired,
		LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess, LastError: s.LastError, NextSync: s.NextSync,
		Listed: s.Listed, SoldOut: s.SoldOut, Skipped: s.Skipped, Problems: problemViews(s.Problems)}
}

func problemViews(ps []dfc.Problem) []admin.BridgeProblem {
	out := make([]admin.BridgeProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, admin.BridgeProblem(p))
	}
	return out
}
