package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

// Timing of list subscriptions.
const (
	// listCheckInterval is how often due lists are looked for.
	listCheckInterval = time.Minute
	// minListInterval is the shortest interval between fetches of a list.
	minListInterval = time.Minute
	// defaultListInterval applies when none is given.
	defaultListInterval = 24 * time.Hour
)

// SubscribeList follows a shared domain list at a URL. Its new entries
// come in as drafts unless draft is false.
func (s *Server) SubscribeList(ctx context.Context, op Operator, l store.ListSubscription) (store.ListSubscription, error) {
	if l.Name == "" || strings.ContainsAny(l.Name, " /:") {
		return l, fmt.Errorf("%w: list name %q (letters, digits, dashes)", policy.ErrBadRule, l.Name)
	}
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return l, fmt.Errorf("%w: list URL %q", policy.ErrBadRule, l.URL)
	}
	if l.Interval == 0 {
		l.Interval = defaultListInterval
	}
	if l.Interval < minListInterval {
		return l, fmt.Errorf("%w: interval under %s", policy.ErrBadRule, minListInterval)
	}
	if l.PlainAction == "" {
		l.PlainAction = string(policy.Suspend)
	}
	if _, err := policy.ParseAction(l.PlainAction); err != nil {
		return l, fmt.Errorf("%w: %v", policy.ErrBadRule, err)
	}
	for i, d := range l.Excludes {
		p, err := policy.ParsePeer(strings.TrimPrefix(d, "*."))
		if err != nil {
			return l, fmt.Errorf("%w: exclude %q", policy.ErrBadRule, d)
		}
		l.Excludes[i] = p
	}
	l.Created, l.Author = time.Now().UTC(), op.Who
	details, _ := json.Marshal(l)
	s.listWrites.Lock()
	defer s.listWrites.Unlock()
	if _, err := s.store.Moderate(ctx, store.ModerationChange{PutList: &l, Audit: []store.AuditEntry{{
		Who: op.Who, What: "list.subscribe", Subject: l.Name, Why: op.Why, Source: "list:" + l.Name, Details: details,
	}}}); err != nil {
		return l, err
	}
	s.log.Info("subscribed to a shared list", "list", l.Name, "url", l.URL, "by", op.Who)
	return l, nil
}

// UnsubscribeList stops following a list; the rules it brought stay.
func (s *Server) UnsubscribeList(ctx context.Context, op Operator, name string) error {
	s.listWrites.Lock()
	defer s.listWrites.Unlock()
	_, err := s.store.Moderate(ctx, store.ModerationChange{RemoveList: name, Audit: []store.AuditEntry{{
		Who: op.Who, What: "list.unsubscribe", Subject: name, Why: op.Why, Source: "list:" + name,
	}}})
	return err
}

// SyncList fetches a list now and applies it: new entries become rules
// (drafts unless the subscription says otherwise) unless excluded or
// already covered by a rule (a manual rule is never overwritten); entries
// the list dropped are reported as retracted, and their rules are kept for
// a moderator to decide.
func (s *Server) SyncList(ctx context.Context, name string) (admin.Synced, error) {
	l, err := s.listSubscription(ctx, name)
	if err != nil {
		return admin.Synced{}, err
	}
	// Fetched outside the lock: a slow list server holds up no import,
	// no other sync and no operator's change.
	res, entries, fetchErr := s.fetchList(ctx, &l)
	s.listWrites.Lock()
	defer s.listWrites.Unlock()
	// Applied to the subscription as it is now: an operator may have
	// changed it, or unsubscribed, during the fetch.
	if l, err = s.listSubscription(ctx, name); err != nil {
		return res, err
	}
	l.LastFetch = time.Now().UTC()
	if fetchErr != nil {
		l.LastError = errText(fetchErr)
		if _, serr := s.store.Moderate(ctx, store.ModerationChange{PutList: &l, Audit: []store.AuditEntry{{
			Who: "list:" + name, What: "list.fetch_failed", Subject: name, Why: l.LastError, Source: "list:" + name,
		}}}); serr != nil {
			return res, serr
		}
		return res, fetchErr
	}
	change, res, err := s.diffList(ctx, &l, entries)
	if err != nil {
		return res, err
	}
	ids, err := s.store.Moderate(ctx, change)
	if err != nil {
		return res, err
	}
	res.Added = res.Added[:0]
	for i, id := range ids {
		if d := change.Add[i].Subject; id == 0 {
			res.Skipped = append(res.Skipped, d) // a moderator's rule came first
		} else {
			res.Added = append(res.Added, d)
		}
	}
	if len(res.Added) > 0 || len(res.Retracted) > 0 {
		s.log.Info("shared list synced", "list", name, "added", len(res.Added), "retracted", len(res.Retracted),
			"draft", l.Draft)
	}
	return res, s.reloadPolicy(ctx)
}

// listSubscription returns the subscription to the list name.
func (s *Server) listSubscription(ctx context.Context, name string) (store.ListSubscription, error) {
	lists, err := s.store.ListSubscriptions(ctx)
	if err != nil {
		return store.ListSubscription{}, err
	}
	for _, l := range lists {
		if l.Name == name {
			return l, nil
		}
	}
	return store.ListSubscription{}, fmt.Errorf("list %s: %w", name, store.ErrNotFound)
}

func (s *Server) fetchList(ctx context.Context, l *store.ListSubscription) (admin.Synced, []policy.Entry, error) {
	body, err := s.listFetch.Get(ctx, l.URL)
	if err != nil {
		return admin.Synced{}, nil, err
	}
	entries, err := policy.ParseList(body, policy.Action(l.PlainAction))
	return admin.Synced{}, entries, err
}

// diffList compares a fetched list with the rules and the previous fetch.
func (s *Server) diffList(ctx context.Context, l *store.ListSubscription, entries []policy.Entry) (store.ModerationChange, admin.Synced, error) {
	res := admin.Synced{Added: []string{}, Skipped: []string{}, Excluded: []string{}, Retracted: []string{}}
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return store.ModerationChange{}, res, err
	}
	source := "list:" + l.Name
	ruled, fromList := map[string]bool{}, map[string]bool{}
	for _, r := range rules {
		if r.Kind == policy.Domain {
			ruled[r.Subject] = true
			if r.Source == source {
				fromList[r.Subject] = true
			}
		}
	}
	now := time.Now().UTC()
	who := "list:" + l.Name
	change := store.ModerationChange{PutList: l, AddUnruled: true}
	current := map[string]bool{}
	for _, e := range entries {
		current[e.Domain] = true
		switch {
		case excluded(e.Domain, l.Excludes):
			res.Excluded = append(res.Excluded, e.Domain)
		case ruled[e.Domain]:
			res.Skipped = append(res.Skipped, e.Domain)
		default:
			r := e.Rule(source)
			r.Draft, r.Created, r.Author = l.Draft, now, who
			change.Add = append(change.Add, r)
			res.Added = append(res.Added, e.Domain)
		}
	}
	retracted := map[string]bool{}
	for _, d := range l.Retracted {
		if fromList[d] && !current[d] {
			retracted[d] = true // still retracted, still ruled
		}
	}
	for _, d := range l.Entries {
		if !current[d] && fromList[d] && !retracted[d] {
			retracted[d] = true
			res.Retracted = append(res.Retracted, d)
			change.Audit = append(change.Audit, store.AuditEntry{Who: who, What: "list.retracted", Subject: d,
				Why: "no longer on the list; the rule is kept for review", Source: source})
		}
	}
	l.Entries = make([]string, 0, len(current))
	for d := range current {
		l.Entries = append(l.Entries, d)
	}
	sort.Strings(l.Entries)
	l.Retracted = l.Retracted[:0]
	for d := range retracted {
		l.Retracted = append(l.Retracted, d)
	}
	sort.Strings(l.Retracted)
	l.LastError = ""
	details, _ := json.Marshal(res)
	change.Audit = append(change.Audit, store.AuditEntry{Who: who, What: "list.sync", Subject: l.Name,
		Source: source, Details: details})
	return change, res, nil
}

// excluded reports whether domain is one of excludes or under one.
func excluded(domain string, excludes []string) bool {
	for _, x := range excludes {
		if domain == x || strings.HasSuffix(domain, "."+x) {
			return true
		}
	}
	return false
}

// SyncDue fetches the lists whose interval has passed, highest priority
// first, so that when lists due together disagree about a domain the
// higher one's rule is the one created. A rule already created from a list
// is not replaced by a later sync of another. It returns the names synced.
func (s *Server) SyncDue(ctx context.Context) ([]string, error) {
	lists, err := s.store.ListSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var synced []string
	for _, l := range lists {
		if time.Since(l.LastFetch) < l.Interval {
			continue
		}
		if _, err := s.SyncList(ctx, l.Name); err != nil {
			if errors.Is(err, context.Canceled) {
				return synced, err
			}
			s.log.Warn("syncing a shared list", "list", l.Name, "err", err)
			continue
		}
		synced = append(synced, l.Name)
	}
	return synced, nil
}
