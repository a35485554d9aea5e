package adminapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
)

// Bridges are the operator's DFC bridges, in the admin API's wire types.
// Their errors carry the status to answer with ([StatusError]).
type Bridges interface {
	AddBridge(ctx context.Context, op policy.Operator, req admin.BridgeAdd) (admin.Bridge, error)
	Bridges(ctx context.Context) ([]admin.Bridge, error)
	// SyncBridge syncs a bridge now; progress, when not nil, hears how
	// far it is.
	SyncBridge(ctx context.Context, name string, progress func(step string, done, total int)) (admin.BridgeSynced, error)
	RemoveBridge(ctx context.Context, op policy.Operator, name string) (admin.BridgeRemoved, error)
}

// StatusError is an error with the HTTP status the admin API answers it
// with.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// StatusCode is the status to answer with.
func (e *StatusError) StatusCode() int { return e.Code }

// statusFor is the status an error carries, else statusOf's.
func statusFor(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return statusOf(err)
}

func (a *api) registerBridges(mux *http.ServeMux) {
	mux.HandleFunc("GET /bridges", func(w http.ResponseWriter, r *http.Request) {
		bs, err := a.bridges.Bridges(r.Context())
		listJSON(w, bs, err, func(b admin.Bridge) admin.Bridge { return b })
	})
	mux.HandleFunc("POST /bridges", func(w http.ResponseWriter, r *http.Request) {
		var req admin.BridgeAdd
		if err := decodeAdmin(r, &req); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		b, err := a.bridges.AddBridge(r.Context(), operatorOf(r, req.Reason), req)
		answer(w, b, err)
	})
	mux.HandleFunc("POST /bridges/{name}/sync", func(w http.ResponseWriter, r *http.Request) {
		progressive(w, r, "items", statusFor, func(report reportFunc) (any, error) {
			return a.bridges.SyncBridge(r.Context(), r.PathValue("name"), report)
		})
	})
	mux.HandleFunc("DELETE /bridges/{name}", func(w http.ResponseWriter, r *http.Request) {
		rm, err := a.bridges.RemoveBridge(r.Context(), operatorOf(r, r.URL.Query().Get("reason")), r.PathValue("name"))
		answer(w, rm, err)
	})
}

// answer writes v, or err with the status it carries.
func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		adminError(w, statusFor(err), err)
		return
	}
	adminJSON(w, v)
}
