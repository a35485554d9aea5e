package adminapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

// Limits of admin request bodies.
const (
	// maxAdminBody bounds an admin request body.
	maxAdminBody = 1 << 20
	// maxImportBody bounds a list import: the largest list, JSON-escaped
	// (which at most doubles it), with room for the other fields.
	maxImportBody = 2*policy.MaxListBytes + 64<<10
)

// api serves the admin API for a relay.
type api struct {
	subs  Subscriptions
	mod   Moderation
	lists Lists
	peers Peers
	store Store
	// moderators are the console's accounts.
	moderators Moderators
	bridges    Bridges
	token      func() string
	signsWith  func(peer string) string
	replicas   interface {
		Status(ctx context.Context) (admin.Replicas, error)
	}
}

// New returns the admin API handler. Every request must carry the bearer
// token token returns (none is accepted while it is empty); the handler is
// only served on the admin socket.
func New(sv Services, token func() string) http.Handler {
	a := &api{subs: sv.Subscriptions, mod: sv.Moderation, lists: sv.Lists, peers: sv.Peers, store: sv.Store,
		moderators: sv.Moderators, bridges: sv.Bridges, token: token, signsWith: sv.SignsWith, replicas: sv.Replicas}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /subscribers", a.adminSubscribers)
	mux.HandleFunc("POST /subscribers/{peer}/approve", a.adminDecide(store.Accepted))
	mux.HandleFunc("POST /subscribers/{peer}/reject", a.adminDecide(store.Rejected))
	mux.HandleFunc("DELETE /subscribers/{peer}", a.adminRemove)
	mux.HandleFunc("GET /deliveries", a.adminDeliveries)
	mux.HandleFunc("POST /deliveries/retry", a.adminRetry)
	mux.HandleFunc("POST /backup", a.adminBackup)
	mux.HandleFunc("GET /replicas", func(w http.ResponseWriter, r *http.Request) {
		rs, err := a.replicas.Status(r.Context())
		answer(w, rs, err)
	})
	a.adminModerationRoutes(mux)
	a.registerModerators(mux)
	a.registerBridges(mux)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := a.token()
		if tok == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+tok)) != 1 {
			adminError(w, http.StatusUnauthorized, errors.New("admin token required"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func adminJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func adminError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(admin.Error{Error: err.Error()})
}

func operatorOf(r *http.Request, why string) policy.Operator {
	who := r.Header.Get(admin.OperatorHeader)
	if who == "" {
		who = "operator"
	}
	return policy.Operator{Who: who, Why: why}
}

func decodeAdmin(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeAdminUpTo decodes a body of at most max bytes, saying so when it
// is larger.
func decodeAdminUpTo(w http.ResponseWriter, r *http.Request, v any, max int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("request larger than %d bytes", max)
	}
	return err
}

func moderationStatus(err error) int {
	switch {
	case errors.Is(err, policy.ErrBadRule):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func statusOf(err error) int {
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// listJSON answers a list read from the store, each item in its wire form
// (view); a failed read is a 500.
func listJSON[T, V any](w http.ResponseWriter, items []T, err error, view func(T) V) {
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]V, 0, len(items))
	for _, it := range items {
		out = append(out, view(it))
	}
	adminJSON(w, out)
}
