package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

// Moderators are the moderator console's accounts (console.Accounts).
type Moderators interface {
	// Add and Reset return the setup link and when it expires.
	Add(ctx context.Context, op policy.Operator, name, role string) (string, time.Time, error)
	Reset(ctx context.Context, op policy.Operator, name string) (string, time.Time, error)
	Remove(ctx context.Context, op policy.Operator, name string) error
	List(ctx context.Context) ([]store.Moderator, error)
}

func (a *api) registerModerators(mux *http.ServeMux) {
	mux.HandleFunc("GET /moderators", a.adminModerators)
	mux.HandleFunc("POST /moderators", a.adminAddModerator)
	mux.HandleFunc("POST /moderators/{name}/reset", a.adminResetModerator)
	mux.HandleFunc("DELETE /moderators/{name}", a.adminRemoveModerator)
}

func (a *api) adminModerators(w http.ResponseWriter, r *http.Request) {
	ms, err := a.moderators.List(r.Context())
	listJSON(w, ms, err, func(m store.Moderator) admin.Moderator {
		return admin.Moderator{Name: m.Name, Role: m.Role, Active: m.PasswordHash != "", Created: m.CreatedAt}
	})
}

func (a *api) adminAddModerator(w http.ResponseWriter, r *http.Request) {
	var req admin.AddModerator
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	link, expires, err := a.moderators.Add(r.Context(), operatorOf(r, ""), req.Name, req.Role)
	if err != nil {
		adminError(w, accountStatus(err), err)
		return
	}
	adminJSON(w, admin.SetupLink{Name: req.Name, Link: link, Expires: expires.UTC()})
}

func (a *api) adminResetModerator(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	link, expires, err := a.moderators.Reset(r.Context(), operatorOf(r, ""), name)
	if err != nil {
		adminError(w, accountStatus(err), err)
		return
	}
	adminJSON(w, admin.SetupLink{Name: name, Link: link, Expires: expires.UTC()})
}

func (a *api) adminRemoveModerator(w http.ResponseWriter, r *http.Request) {
	if err := a.moderators.Remove(r.Context(), operatorOf(r, ""), r.PathValue("name")); err != nil {
		adminError(w, accountStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// accountStatus is the status of an account error: 404 for an unknown
// moderator, 409 for a taken name, else 400 (a bad name or role).
func accountStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}
