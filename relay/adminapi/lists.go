package adminapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

func (a *api) adminImportList(w http.ResponseWriter, r *http.Request) {
	var req admin.ImportList
	if err := decodeAdminUpTo(w, r, &req, maxImportBody); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if req.Name == "" {
		adminError(w, http.StatusBadRequest, errors.New("name the list (it becomes the rules' source)"))
		return
	}
	action := policy.Suspend
	if req.PlainSeverity != "" {
		a, err := policy.ParseAction(req.PlainSeverity)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		action = a
	}
	progressive(w, r, "rows", moderationStatus, func(report reportFunc) (any, error) {
		res, err := a.lists.ImportList(r.Context(), operatorOf(r, req.Reason), policy.ListImport{Name: req.Name,
			Data: []byte(req.Content), PlainAction: action, Draft: req.Draft, Preview: req.Preview, Progress: report})
		return admin.Imported{Added: len(res.Added), Skipped: res.Skipped, Rules: res.Added}, err
	})
}

func (a *api) adminExportList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	b, err := a.lists.ExportList(r.Context(), q.Get("format") == "allows", q.Get("obfuscate") == "true")
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Write(b)
}

func (a *api) adminSubscribeList(w http.ResponseWriter, r *http.Request) {
	var req admin.ListSubscribe
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	var interval time.Duration
	if req.Every != "" {
		d, err := time.ParseDuration(req.Every)
		if err != nil {
			adminError(w, http.StatusBadRequest, errors.New("every must be a duration such as 24h"))
			return
		}
		interval = d
	}
	l, err := a.lists.SubscribeList(r.Context(), operatorOf(r, req.Reason), store.ListSubscription{Name: req.Name, URL: req.URL,
		Priority: req.Priority, Interval: interval, Draft: !req.NoDraft, PlainAction: req.PlainSeverity, Excludes: req.Excludes})
	if err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	adminJSON(w, admin.ListSubscription(l))
}

func (a *api) adminListSubscriptions(w http.ResponseWriter, r *http.Request) {
	stored, err := a.store.ListSubscriptions(r.Context())
	listJSON(w, stored, err, func(l store.ListSubscription) admin.ListSubscription { return admin.ListSubscription(l) })
}

func (a *api) adminUnsubscribeList(w http.ResponseWriter, r *http.Request) {
	if err := a.lists.UnsubscribeList(r.Context(), operatorOf(r, r.URL.Query().Get("reason")), r.PathValue("name")); err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) adminSyncList(w http.ResponseWriter, r *http.Request) {
	res, err := a.lists.SyncList(r.Context(), r.PathValue("name"))
	if err != nil {
		status := moderationStatus(err)
		if status == http.StatusInternalServerError {
			status = http.StatusBadGateway // the list could not be fetched or read
		}
		adminError(w, status, err)
		return
	}
	adminJSON(w, admin.Synced(res))
}
