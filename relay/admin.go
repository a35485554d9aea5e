package relay

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

// AdminHandler returns the admin API handler. Every request must carry the
// bearer token; the handler is only served on the admin socket.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /subscribers", s.adminSubscribers)
	mux.HandleFunc("POST /subscribers/{peer}/approve", s.adminDecide(store.Accepted))
	mux.HandleFunc("POST /subscribers/{peer}/reject", s.adminDecide(store.Rejected))
	mux.HandleFunc("DELETE /subscribers/{peer}", s.adminRemove)
	mux.HandleFunc("GET /deliveries", s.adminDeliveries)
	mux.HandleFunc("POST /deliveries/retry", s.adminRetry)
	mux.HandleFunc("POST /backup", s.adminBackup)
	s.adminModerationRoutes(mux)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := "Bearer " + s.adminToken
		if s.adminToken == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
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

func (s *Server) adminSubscribers(w http.ResponseWriter, r *http.Request) {
	sts, err := s.store.SubscriberStatuses(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]admin.Subscriber, 0, len(sts))
	for _, st := range sts {
		out = append(out, subscriberView(st))
	}
	adminJSON(w, out)
}

func subscriberView(st store.SubscriberStatus) admin.Subscriber {
	return admin.Subscriber{
		Slice: sliceLabel(st.Slice),
		Peer:  st.Peer, Actor: st.Actor, Inbox: st.Inbox, Style: string(st.Style), State: string(st.State),
		FollowBack: string(st.FollowBackState), Software: st.Software, Since: st.CreatedAt,
		LastSuccess: st.Health.LastSuccess, LastFailure: st.Health.LastFailure, LastError: st.Health.LastError,
		ConsecutiveFailures: st.Health.ConsecutiveFailures, CircuitOpenUntil: st.Health.CircuitUntil,
		Delivered: st.Health.Delivered, Queued: st.Queued, Dead: st.Dead,
	}
}

func (s *Server) adminDecide(state store.SubscriptionState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		peer, err := policy.ParsePeer(r.PathValue("peer"))
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		sub, err := s.decide(r.Context(), r.URL.Query().Get("slice"), peer, state)
		if err != nil {
			adminError(w, statusOf(err), err)
			return
		}
		adminJSON(w, subscriberView(store.SubscriberStatus{Subscriber: sub}))
	}
}

func (s *Server) adminRemove(w http.ResponseWriter, r *http.Request) {
	peer, err := policy.ParsePeer(r.PathValue("peer"))
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.Remove(r.Context(), r.URL.Query().Get("slice"), peer); err != nil {
		adminError(w, statusOf(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func statusOf(err error) int {
	if errors.Is(err, ErrNoSubscriber) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func (s *Server) adminDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.DeliveryFilter{State: store.DeliveryState(q.Get("state"))}
	switch f.State {
	case "", store.Queued, store.Retrying, store.Dead:
	default:
		adminError(w, http.StatusBadRequest, errors.New("state must be queued, retrying or dead"))
		return
	}
	if p := q.Get("peer"); p != "" {
		peer, err := policy.ParsePeer(p)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		f.Peer = peer
	}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	ds, err := s.store.Deliveries(r.Context(), f)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	depth, err := s.store.QueueDepth(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	out := admin.Deliveries{Counts: map[string]int{}, Deliveries: make([]admin.Delivery, 0, len(ds))}
	for st, n := range depth {
		out.Counts[string(st)] = n
	}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, admin.Delivery{
			ID: d.ID, Activity: d.ActivityID, Peer: d.Peer, Inbox: d.Inbox, State: string(d.State),
			Attempts: d.Attempts, NextAttempt: d.NextAttempt, LastError: d.LastError, Created: d.CreatedAt,
		})
	}
	adminJSON(w, out)
}

func (s *Server) adminRetry(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IDs []int64 `json:"ids"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	n, err := s.store.RetryDead(r.Context(), req.IDs, time.Now())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	s.log.Info("dead deliveries requeued by operator", "count", n)
	s.dispatcher.Notify()
	adminJSON(w, admin.Retried{Requeued: n})
}
