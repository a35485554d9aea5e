package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// Limits of admin request bodies.
const (
	// maxAdminBody bounds an admin request body.
	maxAdminBody = 1 << 20
	// maxImportBody bounds a list import: the largest list, JSON-escaped
	// (which at most doubles it), with room for the other fields.
	maxImportBody = 2*policy.MaxListBytes + 64<<10
)

func (s *Server) adminModerationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /rules", s.adminRules)
	mux.HandleFunc("GET /rules/{id}", s.adminRule)
	mux.HandleFunc("POST /rules", s.adminAddRule)
	mux.HandleFunc("DELETE /rules/{id}", s.adminRemoveRule)
	mux.HandleFunc("POST /block", s.adminBlock)
	mux.HandleFunc("POST /allow", s.adminAllow)
	mux.HandleFunc("GET /audit", s.adminAudit)
	mux.HandleFunc("POST /lists/import", s.adminImportList)
	mux.HandleFunc("POST /drafts/approve", s.adminApproveDrafts)
	mux.HandleFunc("POST /lists/subscriptions", s.adminSubscribeList)
	mux.HandleFunc("GET /lists/subscriptions", s.adminListSubscriptions)
	mux.HandleFunc("DELETE /lists/subscriptions/{name}", s.adminUnsubscribeList)
	mux.HandleFunc("POST /lists/subscriptions/{name}/sync", s.adminSyncList)
	mux.HandleFunc("POST /trust", s.adminSetTrust)
	mux.HandleFunc("GET /trust", s.adminTrust)
	mux.HandleFunc("GET /keys", s.adminKeys)
	mux.HandleFunc("GET /self", s.adminSelf)
	mux.HandleFunc("GET /peers", s.adminPeers)
	mux.HandleFunc("POST /peers", s.adminAddPeer)
	s.adminEndorsementRoutes(mux)
	mux.HandleFunc("GET /lists/export", s.adminExportList)
}

func (s *Server) adminImportList(w http.ResponseWriter, r *http.Request) {
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
	res, err := s.ImportList(r.Context(), operatorOf(r, req.Reason), req.Name, []byte(req.Content), action, req.Draft, req.Preview)
	if err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	adminJSON(w, admin.Imported{Added: len(res.Added), Skipped: res.Skipped, Rules: res.Added})
}

func (s *Server) adminExportList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	b, err := s.ExportList(r.Context(), q.Get("format") == "allows", q.Get("obfuscate") == "true")
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Write(b)
}

func operatorOf(r *http.Request, why string) Operator {
	who := r.Header.Get(admin.OperatorHeader)
	if who == "" {
		who = "operator"
	}
	return Operator{Who: who, Why: why}
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
	case isNotFound(err):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func (s *Server) adminRules(w http.ResponseWriter, r *http.Request) {
	rules, err := s.Rules(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	if rules == nil {
		rules = []policy.Rule{}
	}
	adminJSON(w, rules)
}

func (s *Server) adminRule(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		adminError(w, http.StatusBadRequest, errors.New("rule id must be a number"))
		return
	}
	rules, err := s.Rules(r.Context())
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
func (s *Server) addOrPreview(w http.ResponseWriter, r *http.Request, rule policy.Rule, why string, preview bool) {
	if preview {
		aff, err := s.Preview(r.Context(), rule)
		if err != nil {
			adminError(w, moderationStatus(err), err)
			return
		}
		adminJSON(w, aff)
		return
	}
	added, err := s.AddRule(r.Context(), operatorOf(r, why), rule)
	if err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	adminJSON(w, added)
}

func (s *Server) adminAddRule(w http.ResponseWriter, r *http.Request) {
	var req admin.AddRule
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	s.addOrPreview(w, r, req.Rule, req.Reason, req.Preview)
}

func (s *Server) adminRemoveRule(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		adminError(w, http.StatusBadRequest, errors.New("rule id must be a number"))
		return
	}
	if err := s.RemoveRule(r.Context(), operatorOf(r, r.URL.Query().Get("reason")), id); err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminBlock adds a domain rule from a Mastodon-like block: severity
// suspend, reject, or limit (Mastodon's "silence").
func (s *Server) adminBlock(w http.ResponseWriter, r *http.Request) {
	var req admin.Block
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
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
	s.addOrPreview(w, r, rule, req.Reason, req.Preview)
}

func (s *Server) adminAllow(w http.ResponseWriter, r *http.Request) {
	var req admin.Allow
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	rule := policy.Rule{Kind: policy.Domain, Subject: req.Domain, Action: policy.Accept, PublicComment: req.PublicComment}
	s.addOrPreview(w, r, rule, req.Reason, req.Preview)
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	entries, err := s.store.Audit(r.Context(), after, limit)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	adminJSON(w, entries)
}

func (s *Server) adminApproveDrafts(w http.ResponseWriter, r *http.Request) {
	var req admin.ApproveDrafts
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if len(req.IDs) == 0 && !req.All {
		adminError(w, http.StatusBadRequest, errors.New("name draft rule ids, or all"))
		return
	}
	ids, err := s.ApproveDrafts(r.Context(), operatorOf(r, req.Reason), req.IDs)
	if err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	adminJSON(w, map[string][]int64{"approved": ids})
}

func (s *Server) adminSetTrust(w http.ResponseWriter, r *http.Request) {
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
	if err := s.SetTrust(r.Context(), operatorOf(r, req.Reason), req.Domain, level); err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminTrust lists each known peer's trust level with what the relay has
// observed of it.
func (s *Server) adminTrust(w http.ResponseWriter, r *http.Request) {
	settings, err := s.store.TrustLevels(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	sts, err := s.store.SubscriberStatuses(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	byPeer := map[string]*admin.PeerTrust{}
	var order []string
	get := func(peer string) *admin.PeerTrust {
		if p, ok := byPeer[peer]; ok {
			return p
		}
		p := &admin.PeerTrust{Peer: peer, Level: string(s.trustOf(peer))}
		byPeer[peer] = p
		order = append(order, peer)
		return p
	}
	for _, t := range settings {
		p := get(t.Peer)
		p.Reason, p.SetBy, p.SetAt = t.Reason, t.SetBy, t.SetAt
	}
	for _, st := range sts {
		p := get(st.Peer)
		if p.Since.IsZero() || st.CreatedAt.Before(p.Since) {
			p.Since = st.CreatedAt
		}
		p.Delivered, p.Failed = st.Health.Delivered, st.Health.Failed
		p.Subscriptions++
	}
	out := make([]admin.PeerTrust, 0, len(order))
	for _, peer := range order {
		p := *byPeer[peer]
		p.Rejected = s.rejections.get(peer)
		out = append(out, p)
	}
	adminJSON(w, out)
}

func (s *Server) adminSubscribeList(w http.ResponseWriter, r *http.Request) {
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
	l, err := s.SubscribeList(r.Context(), operatorOf(r, req.Reason), store.ListSubscription{Name: req.Name, URL: req.URL,
		Priority: req.Priority, Interval: interval, Draft: !req.NoDraft, PlainAction: req.PlainSeverity, Excludes: req.Excludes})
	if err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	adminJSON(w, l)
}

func (s *Server) adminListSubscriptions(w http.ResponseWriter, r *http.Request) {
	lists, err := s.store.ListSubscriptions(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	if lists == nil {
		lists = []store.ListSubscription{}
	}
	adminJSON(w, lists)
}

func (s *Server) adminUnsubscribeList(w http.ResponseWriter, r *http.Request) {
	if err := s.UnsubscribeList(r.Context(), operatorOf(r, r.URL.Query().Get("reason")), r.PathValue("name")); err != nil {
		adminError(w, moderationStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminSyncList(w http.ResponseWriter, r *http.Request) {
	res, err := s.SyncList(r.Context(), r.PathValue("name"))
	if err != nil {
		status := moderationStatus(err)
		if status == http.StatusInternalServerError {
			status = http.StatusBadGateway // the list could not be fetched or read
		}
		adminError(w, status, err)
		return
	}
	adminJSON(w, res)
}
