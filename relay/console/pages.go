package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// overviewData is what the overview shows.
type overviewData struct {
	ByState map[store.SubscriptionState]int
	Pending []store.SubscriberStatus
	Failing []store.SubscriberStatus
	Queue   map[string]int
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
	c.render(w, r, http.StatusOK, "overview", nil, page{Data: d, Message: r.URL.Query().Get("m")})
}

func (c *Console) subscribers(w http.ResponseWriter, r *http.Request) {
	subs, err := c.cfg.Reads.SubscriberStatuses(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "subscribers", nil, page{Data: subs, Message: notice(r)})
}

// notice is the message a redirect after a change carries.
func notice(r *http.Request) string {
	m := r.URL.Query().Get("done")
	if len(m) > 200 {
		return ""
	}
	return m
}

// redirect sends the browser back to a page with a notice (POST, then
// redirect, then GET: a reload does not repeat the change).
func redirect(w http.ResponseWriter, r *http.Request, path, notice string) {
	http.Redirect(w, r, path+"?done="+url.QueryEscape(notice), http.StatusSeeOther)
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
	redirect(w, r, "/admin/subscribers", fmt.Sprintf(msg("decided"), done, action))
}

// rulesData is what the rules page shows.
type rulesData struct {
	Rules  []policy.Rule
	Search string
	Form   ruleForm
	CSRF   string
}

// ruleForm is the form adding a domain rule.
type ruleForm struct {
	Domain, Action, Reason, PublicReason string
}

func (c *Console) rules(w http.ResponseWriter, r *http.Request) {
	rules, err := c.cfg.Moderation.Rules(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	d := rulesData{Search: q, Form: ruleForm{Action: string(policy.Suspend)}}
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
	f := ruleForm{Domain: strings.TrimSpace(r.PostFormValue("domain")), Action: r.PostFormValue("action"),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), PublicReason: strings.TrimSpace(r.PostFormValue("public_reason"))}
	action, err := policy.ParseAction(f.Action)
	if err != nil || f.Domain == "" {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	if f.Reason == "" {
		c.render(w, r, http.StatusBadRequest, "rules", nil, page{Data: rulesData{Form: f}, Message: msg("reason_required")})
		return
	}
	rule := policy.Rule{Kind: policy.Domain, Subject: f.Domain, Action: action, PublicComment: f.PublicReason}
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
	redirect(w, r, "/admin/rules", fmt.Sprintf(msg("rule_added"), added.ID))
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
	if errors.Is(err, store.ErrNotFound) {
		c.refuse(w, r, http.StatusNotFound, "not_found")
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	redirect(w, r, "/admin/rules", fmt.Sprintf(msg("rule_removed"), id))
}

func (c *Console) deliveries(w http.ResponseWriter, r *http.Request) {
	dead, err := c.cfg.Reads.Deliveries(r.Context(), store.DeliveryFilter{State: store.Dead, Peer: r.URL.Query().Get("peer"), Limit: 500})
	if err != nil {
		c.failed(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "deliveries", nil, page{Data: dead, Message: notice(r)})
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
	redirect(w, r, "/admin/deliveries", fmt.Sprintf(msg("retried"), n))
}

// auditData is what the audit page shows.
type auditData struct {
	Who, What, Subject string
	Entries            []store.AuditEntry
}

// audit shows the newest matching audit entries.
func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := auditData{Who: q.Get("who"), What: q.Get("what"), Subject: q.Get("subject")}
	var after int64
	for {
		batch, err := c.cfg.Reads.Audit(r.Context(), after, 1000)
		if err != nil {
			c.failed(w, r, err)
			return
		}
		for _, e := range batch {
			if matches(e.Who, d.Who) && matches(e.What, d.What) && matches(e.Subject, d.Subject) {
				d.Entries = append(d.Entries, e)
			}
		}
		if len(d.Entries) > auditPage {
			d.Entries = d.Entries[len(d.Entries)-auditPage:]
		}
		if len(batch) < 1000 {
			break
		}
		after = batch[len(batch)-1].ID
	}
	for i, j := 0, len(d.Entries)-1; i < j; i, j = i+1, j-1 {
		d.Entries[i], d.Entries[j] = d.Entries[j], d.Entries[i]
	}
	c.render(w, r, http.StatusOK, "audit", nil, page{Data: d})
}

func matches(have, want string) bool {
	return want == "" || strings.Contains(strings.ToLower(have), strings.ToLower(want))
}

func (c *Console) trust(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "trust", nil, page{Message: notice(r)})
}

// setTrust sets a peer's trust level (admins only).
func (c *Console) setTrust(w http.ResponseWriter, r *http.Request) {
	peer, level := strings.TrimSpace(r.PostFormValue("peer")), r.PostFormValue("level")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if peer == "" || level == "" {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	err := c.cfg.Moderation.SetTrust(r.Context(), current(r).operator(reason), peer, level)
	if errors.Is(err, policy.ErrBadRule) {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	redirect(w, r, "/admin/trust", fmt.Sprintf(msg("trust_set"), peer, level))
}
