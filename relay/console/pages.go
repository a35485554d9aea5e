package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// overviewData is what the overview shows.
type overviewData struct {
	ByState map[store.SubscriptionState]int
	Pending []store.SubscriberStatus
	Failing []store.SubscriberStatus
	Queue   map[string]int
	// Peers counts the verified peers discovery knows.
	Peers int
	// Day is the last 24 h of deliveries and refusals; the Line fields
	// are its sparklines' points.
	Day                                       series
	DeliveredLine, FailedLine, RefusedLine    string
	DeliveredTotal, FailedTotal, RefusedTotal int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	subs, err := c.cfg.Reads.SubscriberStatuses(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	q, err := c.cfg.Reads.QueueDepth(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	d := overviewData{ByState: map[store.SubscriptionState]int{}, Queue: map[string]int{}}
	for state, n := range q {
		d.Queue[string(state)] = n
	}
	for _, s := range subs {
		d.ByState[s.State]++
		if s.State == store.Pending {
			d.Pending = append(d.Pending, s)
		}
		if s.Health.ConsecutiveFailures > 0 {
			d.Failing = append(d.Failing, s)
		}
	}
	sort.Slice(d.Failing, func(i, j int) bool {
		return d.Failing[i].Health.ConsecutiveFailures > d.Failing[j].Health.ConsecutiveFailures
	})
	peers, err := c.cfg.Peers.Peers(r.Context(), "", "", false)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	for _, p := range peers {
		if p.Verified {
			d.Peers++
		}
	}
	d.Day = c.cfg.Recent.snapshot(now())
	d.DeliveredLine, d.FailedLine, d.RefusedLine = sparkline(d.Day.Delivered, 288, 40), sparkline(d.Day.Failed, 288, 40),
		sparkline(d.Day.Refused, 288, 40)
	d.DeliveredTotal, d.FailedTotal, d.RefusedTotal = total(d.Day.Delivered), total(d.Day.Failed), total(d.Day.Refused)
	c.render(w, r, http.StatusOK, "overview", nil, page{Data: d})
}

func (c *Console) subscribers(w http.ResponseWriter, r *http.Request) {
	subs, err := c.cfg.Reads.SubscriberStatuses(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "subscribers", nil, page{Data: subs, Message: notice(r)})
}

// notices are the messages a redirect after a change may name, with how
// many arguments each takes. Nothing else in a URL becomes a notice, so a
// link cannot make the console say what its sender wants.
var notices = map[string]int{
	"decided": 2, "rule_added": 1, "rule_removed": 1, "retried": 1, "trust_set": 2, "imported": 2,
	"drafts_approved": 1, "drafts_discarded": 1, "list_subscribed": 1, "list_synced": 3, "list_unsubscribed": 1,
	"totp_on": 0, "totp_off": 0, "approval_set": 1, "list_excluded": 2,
	"bridge_added": 1, "bridge_synced": 5, "bridge_removed": 2,
}

// noticeArg is what a notice's argument may be: a number, a domain, a name.
var noticeArg = regexp.MustCompile(`^[A-Za-z0-9.:_\[\]-]{1,253}$`)

// notice is the message a redirect after a change carries.
func notice(r *http.Request) string {
	q := r.URL.Query()
	key, args := q.Get("done"), q["a"]
	if n, ok := notices[key]; !ok || len(args) != n {
		return ""
	}
	vals := make([]any, len(args))
	for i, a := range args {
		if !noticeArg.MatchString(a) {
			return ""
		}
		vals[i] = a
	}
	return fmt.Sprintf(msg(key), vals...)
}

// redirect sends the browser back to a page with a notice (POST, then
// redirect, then GET: a reload does not repeat the change).
func redirect(w http.ResponseWriter, r *http.Request, path, key string, args ...any) {
	q := url.Values{"done": {key}}
	for _, a := range args {
		q.Add("a", fmt.Sprint(a))
	}
	http.Redirect(w, r, path+"?"+q.Encode(), http.StatusSeeOther)
}

// decideSubscribers approves, rejects or removes the selected
// subscriptions ("slice|peer" each), one at a time.
func (c *Console) decideSubscribers(w http.ResponseWriter, r *http.Request) {
	u := current(r)
	action := r.PostFormValue("action")
	keys := r.PostForm["sub"]
	if len(keys) == 0 || len(keys) > 1000 || (action != "approve" && action != "reject" && action != "remove") {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	done := 0
	for _, k := range keys {
		slice, peer, ok := strings.Cut(k, "|")
		if !ok || peer == "" {
			c.refuse(w, r, http.StatusBadRequest, "bad_form")
			return
		}
		var err error
		switch action {
		case "approve":
			_, err = c.cfg.Subscriptions.Decide(r.Context(), u.operator(""), slice, peer, store.Accepted)
		case "reject":
			_, err = c.cfg.Subscriptions.Decide(r.Context(), u.operator(""), slice, peer, store.Rejected)
		default:
			err = c.cfg.Subscriptions.Remove(r.Context(), u.operator(""), slice, peer)
		}
		if errors.Is(err, store.ErrNotFound) {
			continue // unsubscribed meanwhile
		}
		if err != nil {
			c.failed(w, r, err)
			return
		}
		done++
	}
	redirect(w, r, "/admin/subscribers", "decided", done, action)
}

// rulesData is what the rules page shows.
type rulesData struct {
	Rules  []policy.Rule
	Search string
	Form   ruleForm
	CSRF   string
}

// ruleForm is the form adding a rule: of a domain (with its
// subdomains), an actor, or a key (by id or sha256 fingerprint), with
// optional filters.
type ruleForm struct {
	Kind, Domain, Action, Reason, PublicReason string
	// Filters: activity types, listing kinds and keywords (comma
	// separated), and refusing media.
	Types, Kinds, Keywords string
	RejectMedia            bool
}

// rule is the policy rule the form describes.
func (f ruleForm) rule() (policy.Rule, error) {
	action, err := policy.ParseAction(f.Action)
	if err != nil {
		return policy.Rule{}, err
	}
	kind := policy.Kind(f.Kind)
	if kind != policy.Domain && kind != policy.Actor && kind != policy.Key {
		return policy.Rule{}, fmt.Errorf("%w: kind %q", policy.ErrBadRule, f.Kind)
	}
	r := policy.Rule{Kind: kind, Subject: f.Domain, Action: action, PublicComment: f.PublicReason}
	r.Filters.Types, r.Filters.Kinds, r.Filters.Keywords = commaList(f.Types), commaList(f.Kinds), commaList(f.Keywords)
	r.Filters.RejectMedia = f.RejectMedia
	return r, nil
}

// commaList splits a comma-separated field, dropping blanks.
func commaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Console) rules(w http.ResponseWriter, r *http.Request) {
	rules, err := c.cfg.Moderation.Rules(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	d := rulesData{Search: q, Form: ruleForm{Kind: string(policy.Domain), Action: string(policy.Suspend)}}
	for _, rl := range rules {
		if q == "" || strings.Contains(strings.ToLower(rl.Subject), q) {
			d.Rules = append(d.Rules, rl)
		}
	}
	c.render(w, r, http.StatusOK, "rules", nil, page{Data: d, Message: notice(r)})
}

// addRule previews a domain rule (what it would affect) or, once
// confirmed, saves it.
func (c *Console) addRule(w http.ResponseWriter, r *http.Request) {
	u := current(r)
	f := ruleForm{Kind: r.PostFormValue("kind"), Domain: strings.TrimSpace(r.PostFormValue("domain")), Action: r.PostFormValue("action"),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), PublicReason: strings.TrimSpace(r.PostFormValue("public_reason")),
		Types: r.PostFormValue("types"), Kinds: r.PostFormValue("kinds"), Keywords: r.PostFormValue("keywords"),
		RejectMedia: r.PostFormValue("reject_media") == "yes"}
	if f.Kind == "" {
		f.Kind = string(policy.Domain)
	}
	rule, err := f.rule()
	if err != nil || f.Domain == "" {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	if f.Reason == "" {
		c.render(w, r, http.StatusBadRequest, "rules", nil, page{Data: rulesData{Form: f}, Message: msg("reason_required")})
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		affected, err := c.cfg.Moderation.Preview(r.Context(), rule)
		if errors.Is(err, policy.ErrBadRule) {
			c.render(w, r, http.StatusBadRequest, "rules", nil, page{Data: rulesData{Form: f}, Message: fmt.Sprintf(msg("bad_rule"), err)})
			return
		}
		if err != nil {
			c.failed(w, r, err)
			return
		}
		c.render(w, r, http.StatusOK, "preview", nil, page{Data: previewData{Form: f, Affected: affected}})
		return
	}
	added, err := c.cfg.Moderation.AddRule(r.Context(), u.operator(f.Reason), rule)
	if errors.Is(err, policy.ErrBadRule) {
		c.render(w, r, http.StatusBadRequest, "rules", nil, page{Data: rulesData{Form: f}, Message: fmt.Sprintf(msg("bad_rule"), err)})
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	redirect(w, r, "/admin/rules", "rule_added", added.ID)
}

// previewData is what the preview of a rule shows.
type previewData struct {
	Form     ruleForm
	Affected policy.Affected
}

func (c *Console) removeRule(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	err = c.cfg.Moderation.RemoveRule(r.Context(), current(r).operator(strings.TrimSpace(r.PostFormValue("reason"))), id)
	c.changed(w, r, err, "/admin/rules", "rule_removed", id)
}

// changed answers a change a service made, or refused: a bad request
// (policy.ErrBadRule) 400, a subject gone meanwhile (ErrNotFound) 404, a
// failure of the relay 500; else back to path with the notice key.
func (c *Console) changed(w http.ResponseWriter, r *http.Request, err error, path, key string, args ...any) {
	switch {
	case errors.Is(err, policy.ErrBadRule):
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
	case errors.Is(err, store.ErrNotFound):
		c.refuse(w, r, http.StatusNotFound, "not_found")
	case err != nil:
		c.failed(w, r, err)
	default:
		redirect(w, r, path, key, args...)
	}
}

// deliveriesData is what the dead letters page shows: the subscribers
// with dead letters, and those of one (Peer) or all.
type deliveriesData struct {
	Peer  string
	Peers []store.SubscriberStatus
	Dead  []store.Delivery
}

func (c *Console) deliveries(w http.ResponseWriter, r *http.Request) {
	d := deliveriesData{Peer: limit(r.URL.Query().Get("peer"), 300)}
	subs, err := c.cfg.Reads.SubscriberStatuses(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	for _, s := range subs {
		if s.Dead > 0 {
			d.Peers = append(d.Peers, s)
		}
	}
	if d.Dead, err = c.cfg.Reads.Deliveries(r.Context(), store.DeliveryFilter{State: store.Dead, Peer: d.Peer, Limit: 500}); err != nil {
		c.failed(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "deliveries", nil, page{Data: d, Message: notice(r)})
}

// retryDeliveries requeues the selected dead letters, or all of them.
func (c *Console) retryDeliveries(w http.ResponseWriter, r *http.Request) {
	var ids []int64
	for _, v := range r.PostForm["id"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || len(ids) >= 1000 {
			c.refuse(w, r, http.StatusBadRequest, "bad_form")
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 && r.PostFormValue("all") != "yes" {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	n, err := c.cfg.Subscriptions.RetryDead(r.Context(), current(r).operator(""), ids)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	redirect(w, r, "/admin/deliveries", "retried", n)
}

// auditData is what the audit page shows.
type auditData struct {
	// Since is a date (YYYY-MM-DD, UTC) from which entries are shown.
	Who, What, Subject, Since string
	Entries                   []store.AuditEntry
}

// audit shows the newest matching audit entries.
func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := auditData{Who: limit(q.Get("who"), 100), What: limit(q.Get("what"), 100), Subject: limit(q.Get("subject"), 300)}
	since, ok := parseDate(q.Get("since"))
	if !ok {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	if !since.IsZero() {
		d.Since = since.Format(time.DateOnly)
	}
	entries, err := c.cfg.Reads.SearchAudit(r.Context(), store.AuditFilter{Who: d.Who, What: d.What, Subject: d.Subject,
		Since: since, Limit: auditPage})
	if err != nil {
		c.failed(w, r, err)
		return
	}
	d.Entries = entries
	c.render(w, r, http.StatusOK, "audit", nil, page{Data: d})
}

// auditExport writes the whole audit log, filtered as the audit page is,
// as JSON lines (oldest first), a thousand entries at a time.
func (c *Console) auditExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	who, what, subject := limit(q.Get("who"), 100), limit(q.Get("what"), 100), limit(q.Get("subject"), 300)
	since, ok := parseDate(q.Get("since"))
	if !ok {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="runrig-audit.jsonl"`)
	enc := json.NewEncoder(w)
	var after int64
	for {
		batch, err := c.cfg.Reads.Audit(r.Context(), after, 1000)
		if err != nil {
			c.cfg.Log.Error("console audit export", "err", err) // the status is sent: the export ends short
			return
		}
		for _, e := range batch {
			if contains(e.Who, who) && contains(e.What, what) && contains(e.Subject, subject) && !e.At.Before(since) {
				enc.Encode(e)
			}
		}
		if len(batch) < 1000 {
			return
		}
		after = batch[len(batch)-1].ID
	}
}

// parseDate reads a YYYY-MM-DD date (UTC); empty is the zero time.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// contains reports whether have contains want, case-insensitively.
func contains(have, want string) bool {
	return want == "" || strings.Contains(strings.ToLower(have), strings.ToLower(want))
}

// limit cuts s to at most n bytes.
func limit(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// settingsData is what the admins' settings page shows.
type settingsData struct{ Approval string }

func (c settingsPages) trust(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "trust", nil, page{Data: settingsData{Approval: c.cfg.Settings.ApprovalMode()}, Message: notice(r)})
}

// setApproval changes how new subscriptions are handled (admins only).
func (c settingsPages) setApproval(w http.ResponseWriter, r *http.Request) {
	mode := r.PostFormValue("approval")
	err := c.cfg.Settings.SetApprovalMode(r.Context(), current(r).operator(strings.TrimSpace(r.PostFormValue("reason"))), mode)
	c.changed(w, r, err, "/admin/trust", "approval_set", mode)
}

// setTrust sets a peer's trust level (admins only).
func (c settingsPages) setTrust(w http.ResponseWriter, r *http.Request) {
	peer := strings.TrimSpace(r.PostFormValue("peer"))
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	level, err := trust.ParseLevel(r.PostFormValue("level"))
	if peer == "" || r.PostFormValue("level") == "" || err != nil {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	err = c.cfg.Moderation.SetTrust(r.Context(), current(r).operator(reason), peer, string(level))
	c.changed(w, r, err, "/admin/trust", "trust_set", peer, level)
}
