package adminapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

func (a *api) adminSubscribers(w http.ResponseWriter, r *http.Request) {
	sts, err := a.store.SubscriberStatuses(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]admin.Subscriber, 0, len(sts))
	for _, st := range sts {
		v := subscriberView(st)
		if a.signsWith != nil {
			v.Signs = a.signsWith(st.Peer)
		}
		out = append(out, v)
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

func (a *api) adminDecide(state store.SubscriptionState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		peer, err := policy.ParsePeer(r.PathValue("peer"))
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		sub, err := a.subs.Decide(r.Context(), operatorOf(r, ""), r.URL.Query().Get("slice"), peer, state)
		if err != nil {
			adminError(w, statusOf(err), err)
			return
		}
		adminJSON(w, subscriberView(store.SubscriberStatus{Subscriber: sub}))
	}
}

func (a *api) adminRemove(w http.ResponseWriter, r *http.Request) {
	peer, err := policy.ParsePeer(r.PathValue("peer"))
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if err := a.subs.Remove(r.Context(), operatorOf(r, ""), r.URL.Query().Get("slice"), peer); err != nil {
		adminError(w, statusOf(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) adminDeliveries(w http.ResponseWriter, r *http.Request) {
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
	ds, err := a.store.Deliveries(r.Context(), f)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	depth, err := a.store.QueueDepth(r.Context())
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

func (a *api) adminRetry(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IDs []int64 `json:"ids"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	n, err := a.subs.RetryDead(r.Context(), operatorOf(r, ""), req.IDs)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	adminJSON(w, admin.Retried{Requeued: n})
}

func (a *api) adminBackup(w http.ResponseWriter, r *http.Request) {
	var req admin.BackupRequest
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	n, err := a.subs.Backup(r.Context(), req.Path)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	adminJSON(w, admin.BackupResult{Path: req.Path, Bytes: n})
}

// sliceLabel names a subscription's slice for operators ("relay" for the
// relay actor itself).
func sliceLabel(name string) string {
	if name == "" {
		return "relay"
	}
	return name
}
