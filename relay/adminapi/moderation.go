package adminapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

func (a *api) adminModerationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /rules", a.adminRules)
	mux.HandleFunc("GET /rules/{id}", a.adminRule)
	mux.HandleFunc("POST /rules", a.adminAddRule)
	mux.HandleFunc("DELETE /rules/{id}", a.adminRemoveRule)
	mux.HandleFunc("POST /block", a.adminBlock)
	mux.HandleFunc("POST /allow", a.adminAllow)
	mux.HandleFunc("GET /audit", a.adminAudit)
	mux.HandleFunc("POST /lists/import", a.adminImportList)
	mux.HandleFunc("POST /drafts/approve", a.adminApproveDrafts)
	mux.HandleFunc("POST /lists/subscriptions", a.adminSubscribeList)
	mux.HandleFunc("GET /lists/subscriptions", a.adminListSubscriptions)
	mux.HandleFunc("DELETE /lists/subscriptions/{name}", a.adminUnsubscribeList)
	mux.HandleFunc("POST /lists/subscriptions/{name}/sync", a.adminSyncList)
	mux.HandleFunc("POST /trust", a.adminSetTrust)
	mux.HandleFunc("GET /trust", a.adminTrust)
	mux.HandleFunc("GET /keys", a.adminKeys)
	mux.HandleFunc("GET /self", a.adminSelf)
	mux.HandleFunc("GET /peers", a.adminPeers)
	mux.HandleFunc("POST /peers", a.adminAddPeer)
	a.adminEndorsementRoutes(mux)
	mux.HandleFunc("GET /lists/export", a.adminExportList)
}

func (a *api) adminRules(w http.ResponseWriter, r *http.Request) {
	rules, err := a.mod.Rules(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	if rules == nil {
		rules = []policy.Rule{}
	}
	adminJSON(w, rules)
}

func (a *api) adminRule(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		adminError(w, http.StatusBadRequest, errors.New("rule id must be a number"))
		return
	}
	rules, err := a.mod.Rules(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	for _, rule := range rules {
		if rule.ID == id {
			adminJSON(w, rule)
			return
		}
	}
	adminError(w, http.StatusNotFound, errors.New("no such rule"))
}

// addOrPreview adds rule, or with preview only reports what it would affect.
func (a *api) addOrPreview(w http.ResponseWriter, r *http.Request, rule policy.Rule, why string, preview bool) {
	if preview {
		aff, err := a.mod.Preview(r.Context(), rule)
		if err != nil {
			adminError(w, moderationStatus(err), err)
			return
		}
		adminJSON(w, admin.Affected(aff))
		return
	}
	added, err := a.mod.AddRule(r.Context(), operatorOf(r, why), rule)
	if err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	adminJSON(w, added)
}

func (a *api) adminAddRule(w http.ResponseWriter, r *http.Request) {
	var req admin.AddRule
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	a.addOrPreview(w, r, req.Rule, req.Reason, req.Preview)
}

func (a *api) adminRemoveRule(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		adminError(w, http.StatusBadRequest, errors.New("rule id must be a number"))
		return
	}
	if err := a.mod.RemoveRule(r.Context(), operatorOf(r, r.URL.Query().Get("reason")), id); err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminBlock adds a domain rule from a Mastodon-like block: severity
// suspend, reject, or limit (Mastodon's "silence").
func (a *api) adminBlock(w http.ResponseWriter, r *http.Request) {
	var req admin.Block
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if strings.TrimSpace(req.Reason) == "" && !req.Preview {
		adminError(w, http.StatusBadRequest, errors.New("a reason is required: it is kept in the audit log (--reason)"))
		return
	}
	sev := req.Severity
	switch sev {
	case "":
		sev = "suspend"
	case "silence": // Mastodon's name for limit
		sev = "limit"
	}
	action, err := policy.ParseAction(sev)
	if err != nil || action == policy.Accept {
		adminError(w, http.StatusBadRequest, errors.New("severity must be suspend, reject or limit (silence)"))
		return
	}
	rule := policy.Rule{Kind: policy.Domain, Subject: req.Domain, Action: action, PublicComment: req.PublicComment,
		PrivateComment: req.PrivateComment, Obfuscate: req.Obfuscate}
	rule.Filters.RejectMedia = req.RejectMedia
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			adminError(w, http.StatusBadRequest, errors.New("expires must be a duration such as 72h"))
			return
		}
		rule.Expires = time.Now().Add(d).UTC()
	}
	a.addOrPreview(w, r, rule, req.Reason, req.Preview)
}

func (a *api) adminAllow(w http.ResponseWriter, r *http.Request) {
	var req admin.Allow
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	rule := policy.Rule{Kind: policy.Domain, Subject: req.Domain, Action: policy.Accept, PublicComment: req.PublicComment}
	a.addOrPreview(w, r, rule, req.Reason, req.Preview)
}

func (a *api) adminAudit(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	entries, err := a.store.Audit(r.Context(), after, limit)
	listJSON(w, entries, err, func(e store.AuditEntry) admin.AuditEntry { return admin.AuditEntry(e) })
}

func (a *api) adminApproveDrafts(w http.ResponseWriter, r *http.Request) {
	var req admin.ApproveDrafts
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if len(req.IDs) == 0 && !req.All {
		adminError(w, http.StatusBadRequest, errors.New("name draft rule ids, or all"))
		return
	}
	ids, err := a.mod.ApproveDrafts(r.Context(), operatorOf(r, req.Reason), req.IDs)
	if err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	adminJSON(w, map[string][]int64{"approved": ids})
}

func (a *api) adminSetTrust(w http.ResponseWriter, r *http.Request) {
	var req admin.SetTrust
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	level, err := trust.ParseLevel(req.Level)
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if err := a.mod.SetTrust(r.Context(), operatorOf(r, req.Reason), req.Domain, string(level)); err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminTrust lists each known peer's trust level with what the relay has
// observed of it.
func (a *api) adminTrust(w http.ResponseWriter, r *http.Request) {
	out, err := a.peers.PeerTrust(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	adminJSON(w, out)
}

func (a *api) adminKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.store.PinnedKeys(r.Context())
	listJSON(w, keys, err, func(k store.PinnedKey) admin.PinnedKey { return admin.PinnedKey(k) })
}

func (a *api) adminEndorsementRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /endorsements", func(w http.ResponseWriter, r *http.Request) {
		es, err := a.store.Endorsements(r.Context())
		if err != nil {
			adminError(w, http.StatusInternalServerError, err)
			return
		}
		var out []admin.Endorsement // null when there are none, as ever
		for _, e := range es {
			out = append(out, admin.Endorsement(e))
		}
		adminJSON(w, out)
	})
	mux.HandleFunc("GET /endorsements/peers", func(w http.ResponseWriter, r *http.Request) {
		pe, err := a.mod.PeerEndorsements(r.Context())
		if err != nil {
			adminError(w, http.StatusInternalServerError, err)
			return
		}
		out := make([]admin.PeerEndorsement, 0, len(pe))
		for _, e := range pe {
			out = append(out, admin.PeerEndorsement(e))
		}
		adminJSON(w, out)
	})
	mux.HandleFunc("POST /endorsements", func(w http.ResponseWriter, r *http.Request) {
		var req admin.Endorse
		if err := decodeAdmin(r, &req); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		if err := a.mod.Endorse(r.Context(), operatorOf(r, req.Reason), req.Domain, req.Kind, req.Reason); err != nil {
			adminError(w, moderationStatus(err), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /endorsements/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			adminError(w, http.StatusBadRequest, errors.New("endorsement id must be a number"))
			return
		}
		if err := a.mod.Unendorse(r.Context(), operatorOf(r, r.URL.Query().Get("reason")), id); err != nil {
			adminError(w, moderationStatus(err), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
