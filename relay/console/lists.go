package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
)

// Lists.
const (
	// maxListForm bounds a list import's form: the largest list, and
	// room for the other fields.
	maxListForm = policy.MaxListBytes + 64<<10
	// manualSyncEvery is how often a moderator may sync one list by hand.
	manualSyncEvery = time.Minute
)

// Lists are the operator's acts on shared domain lists and drafts
// (policy.Moderator).
type Lists interface {
	ImportList(ctx context.Context, op policy.Operator, imp policy.ListImport) (policy.ImportResult, error)
	ApproveDrafts(ctx context.Context, op policy.Operator, ids []int64) ([]int64, error)
	SubscribeList(ctx context.Context, op policy.Operator, l policy.ListSubscription) (policy.ListSubscription, error)
	UnsubscribeList(ctx context.Context, op policy.Operator, name string) error
	SyncList(ctx context.Context, name string) (policy.Synced, error)
	DiscardDrafts(ctx context.Context, op policy.Operator, ids []int64) ([]int64, error)
	ExcludeFromList(ctx context.Context, op policy.Operator, name, domain string) error
}

// listsData is what the lists page shows.
type listsData struct {
	Drafts        []policy.Rule
	Subscriptions []policy.ListSubscription
}

func (c listPages) lists(w http.ResponseWriter, r *http.Request) {
	rules, err := c.cfg.Moderation.Rules(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	subs, err := c.cfg.Reads.ListSubscriptions(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	d := listsData{Subscriptions: subs}
	for _, rl := range rules {
		if rl.Draft {
			d.Drafts = append(d.Drafts, rl)
		}
	}
	c.render(w, r, http.StatusOK, "lists", nil, page{Data: d, Message: notice(r)})
}

// importData is what the preview of an import shows; the upload waits on
// the server under Upload.
type importData struct {
	Name, Action, Upload string
	Draft                bool
	Result               policy.ImportResult
}

// importList previews an uploaded list (what it would add and skip) and
// keeps it on the server; the confirmation imports that upload. One
// import is worked on at a time.
func (c listPages) importList(w http.ResponseWriter, r *http.Request) {
	select {
	case c.importing <- struct{}{}:
		defer func() { <-c.importing }()
	default:
		c.busy(w, r)
		return
	}
	u := current(r)
	if r.PostFormValue("confirm") == "yes" {
		p, ok := c.imports.take(r.PostFormValue("upload"), u.Name, now())
		if !ok {
			c.refuse(w, r, http.StatusNotFound, "import_gone")
			return
		}
		action, _ := policy.ParseAction(p.action)
		res, err := c.cfg.Lists.ImportList(r.Context(), u.operator("imported in the console"),
			policy.ListImport{Name: p.name, Data: p.data, PlainAction: action, Draft: p.draft})
		if c.importFailed(w, r, err) {
			return
		}
		redirect(w, r, "/admin/lists", "imported", len(res.Added), len(res.Skipped))
		return
	}
	p := pendingImport{moderator: u.Name, name: strings.TrimSpace(r.PostFormValue("name")), action: r.PostFormValue("action"),
		draft: r.PostFormValue("draft") == "yes", at: now()}
	f, _, err := r.FormFile("file")
	if err == nil {
		p.data, err = io.ReadAll(io.LimitReader(f, policy.MaxListBytes+1))
		f.Close()
		if err != nil || len(p.data) > policy.MaxListBytes {
			c.refuse(w, r, http.StatusRequestEntityTooLarge, "list_too_large")
			return
		}
	}
	action, err := policy.ParseAction(p.action)
	if err != nil || p.name == "" || len(p.data) == 0 {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	res, err := c.cfg.Lists.ImportList(r.Context(), u.operator("previewed in the console"),
		policy.ListImport{Name: p.name, Data: p.data, PlainAction: action, Draft: p.draft, Preview: true})
	if c.importFailed(w, r, err) {
		return
	}
	d := importData{Name: p.name, Action: p.action, Draft: p.draft, Result: res, Upload: c.imports.put(p)}
	c.render(w, r, http.StatusOK, "import", nil, page{Data: d})
}

// importFailed answers a failed import (a bad list gets 400 and why)
// and reports whether it did.
func (c listPages) importFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, policy.ErrBadRule):
		c.render(w, r, http.StatusBadRequest, "error", nil, page{Message: fmt.Sprintf(msg("bad_list"), err)})
	default:
		c.failed(w, r, err)
	}
	return true
}

// decideDrafts approves or discards the selected draft rules.
func (c listPages) decideDrafts(w http.ResponseWriter, r *http.Request) {
	u := current(r)
	var ids []int64
	for _, v := range r.PostForm["id"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || len(ids) >= 20_000 {
			c.refuse(w, r, http.StatusBadRequest, "bad_form")
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	switch r.PostFormValue("action") {
	case "approve":
		done, err := c.cfg.Lists.ApproveDrafts(r.Context(), u.operator(""), ids)
		if err != nil {
			c.failed(w, r, err)
			return
		}
		redirect(w, r, "/admin/lists", "drafts_approved", len(done))
	case "discard":
		done, err := c.cfg.Lists.DiscardDrafts(r.Context(), u.operator("draft discarded"), ids)
		if err != nil {
			c.failed(w, r, err)
			return
		}
		redirect(w, r, "/admin/lists", "drafts_discarded", len(done))
	default:
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
	}
}

// subscribeList follows a shared list at a URL; its new entries come in as
// drafts.
func (c listPages) subscribeList(w http.ResponseWriter, r *http.Request) {
	name, u := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("url"))
	every, err := time.ParseDuration(r.PostFormValue("every"))
	if err != nil || every <= 0 || name == "" || u == "" {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	// A name already followed is refused: following it again would
	// replace it, excludes and all.
	existing, err := c.cfg.Reads.ListSubscriptions(r.Context())
	if err != nil {
		c.failed(w, r, err)
		return
	}
	for _, l := range existing {
		if l.Name == name {
			c.render(w, r, http.StatusConflict, "error", nil, page{Message: fmt.Sprintf(msg("list_exists"), name)})
			return
		}
	}
	_, err = c.cfg.Lists.SubscribeList(r.Context(), current(r).operator(""), policy.ListSubscription{Name: name, URL: u,
		Interval: every, Draft: true, PlainAction: string(policy.Suspend)})
	if errors.Is(err, policy.ErrBadRule) {
		c.render(w, r, http.StatusBadRequest, "error", nil, page{Message: fmt.Sprintf(msg("bad_list"), err)})
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	redirect(w, r, "/admin/lists", "list_subscribed", name)
}

// listAction syncs a list subscription now or ends it.
func (c listPages) listAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var err error
	var done string
	var args []any
	switch r.PostFormValue("action") {
	case "sync":
		if !c.maySync(name, now()) {
			c.refuse(w, r, http.StatusTooManyRequests, "sync_soon")
			return
		}
		var s policy.Synced
		s, err = c.cfg.Lists.SyncList(r.Context(), name)
		done, args = "list_synced", []any{name, len(s.Added), len(s.Retracted)}
	case "unsubscribe":
		err = c.cfg.Lists.UnsubscribeList(r.Context(), current(r).operator(""), name)
		done, args = "list_unsubscribed", []any{name}
	case "exclude":
		domain := strings.TrimSpace(r.PostFormValue("domain"))
		err = c.cfg.Lists.ExcludeFromList(r.Context(), current(r).operator(""), name, domain)
		done, args = "list_excluded", []any{domain, name}
	default:
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	switch {
	case errors.Is(err, policy.ErrNotFound):
		c.refuse(w, r, http.StatusNotFound, "not_found")
	case errors.Is(err, policy.ErrBadRule):
		c.render(w, r, http.StatusBadRequest, "error", nil, page{Message: fmt.Sprintf(msg("bad_list"), err)})
	case err != nil:
		c.render(w, r, http.StatusBadGateway, "error", nil, page{Message: fmt.Sprintf(msg("list_failed"), name, err)})
	default:
		redirect(w, r, "/admin/lists", done, args...)
	}
}

// maySync reports whether a moderator may sync list (or bridge) name now:
// at most once a minute each, so that a button cannot make the relay
// fetch a site over and over.
func (c *Console) maySync(name string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.syncs[name]; ok && now.Sub(last) < manualSyncEvery {
		return false
	}
	if len(c.syncs) >= maxTracked {
		clear(c.syncs)
	}
	c.syncs[name] = now
	return true
}
