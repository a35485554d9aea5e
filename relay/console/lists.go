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

// maxListForm bounds a list import's form: the largest list, and room for
// the other fields.
const maxListForm = policy.MaxListBytes + 64<<10

// Lists are the operator's acts on shared domain lists and drafts
// (policy.Moderator).
type Lists interface {
	ImportList(ctx context.Context, op policy.Operator, name string, data []byte, plainAction policy.Action,
		draft, preview bool) (policy.ImportResult, error)
	ApproveDrafts(ctx context.Context, op policy.Operator, ids []int64) ([]int64, error)
	SubscribeList(ctx context.Context, op policy.Operator, l policy.ListSubscription) (policy.ListSubscription, error)
	UnsubscribeList(ctx context.Context, op policy.Operator, name string) error
	SyncList(ctx context.Context, name string) (policy.Synced, error)
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

// importData is what the preview of an import shows, with the list to
// import on confirmation.
type importData struct {
	Name, Action, List string
	Draft              bool
	Result             policy.ImportResult
}

// importList previews a list import (what would be added and skipped) or,
// once confirmed, imports it. The list comes as an uploaded file or, on
// confirmation, as the text the preview carried.
func (c listPages) importList(w http.ResponseWriter, r *http.Request) {
	d := importData{Name: strings.TrimSpace(r.PostFormValue("name")), Action: r.PostFormValue("action"),
		Draft: r.PostFormValue("draft") == "yes", List: r.PostFormValue("list")}
	if f, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(io.LimitReader(f, policy.MaxListBytes+1))
		f.Close()
		if err != nil || len(b) > policy.MaxListBytes {
			c.refuse(w, r, http.StatusRequestEntityTooLarge, "list_too_large")
			return
		}
		if len(b) > 0 {
			d.List = string(b)
		}
	}
	action, err := policy.ParseAction(d.Action)
	if err != nil || d.Name == "" || d.List == "" {
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	confirm := r.PostFormValue("confirm") == "yes"
	res, err := c.cfg.Lists.ImportList(r.Context(), current(r).operator("imported in the console"), d.Name,
		[]byte(d.List), action, d.Draft, !confirm)
	if errors.Is(err, policy.ErrBadRule) {
		c.render(w, r, http.StatusBadRequest, "error", nil, page{Message: fmt.Sprintf(msg("bad_list"), err)})
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	if !confirm {
		d.Result = res
		c.render(w, r, http.StatusOK, "import", nil, page{Data: d})
		return
	}
	redirect(w, r, "/admin/lists", "imported", len(res.Added), len(res.Skipped))
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
		n := 0
		for _, id := range ids {
			err := c.cfg.Moderation.RemoveRule(r.Context(), u.operator("draft discarded"), id)
			if err != nil && !errors.Is(err, policy.ErrNotFound) {
				c.failed(w, r, err)
				return
			}
			if err == nil {
				n++
			}
		}
		redirect(w, r, "/admin/lists", "drafts_discarded", n)
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
		var s policy.Synced
		s, err = c.cfg.Lists.SyncList(r.Context(), name)
		done, args = "list_synced", []any{name, len(s.Added), len(s.Retracted)}
	case "unsubscribe":
		err = c.cfg.Lists.UnsubscribeList(r.Context(), current(r).operator(""), name)
		done, args = "list_unsubscribed", []any{name}
	case "exclude":
		domain := strings.TrimSpace(r.PostFormValue("domain"))
		err = c.excludeFromList(r.Context(), current(r), name, domain)
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

// excludeFromList keeps domain (and its subdomains) from ever being taken
// from the shared list name.
func (c listPages) excludeFromList(ctx context.Context, u *who, name, domain string) error {
	subs, err := c.cfg.Reads.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	for _, l := range subs {
		if l.Name == name {
			if domain == "" {
				return fmt.Errorf("%w: no domain to exclude", policy.ErrBadRule)
			}
			l.Excludes = append(l.Excludes, domain)
			_, err := c.cfg.Lists.SubscribeList(ctx, u.operator("exclude "+domain), l)
			return err
		}
	}
	return policy.ErrNotFound
}
