package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Timing of list subscriptions.
const (
	// minListInterval is the shortest interval between fetches of a list.
	minListInterval = time.Minute
	// defaultListInterval applies when none is given.
	defaultListInterval = 24 * time.Hour
)

// ListImport is one import of a shared domain list.
type ListImport struct {
	// Name names the list; its rules get source "list:NAME".
	Name string
	// Data is a Mastodon CSV or a plain-text list, one domain a line.
	Data []byte
	// PlainAction is the action of a plain-text list's entries.
	PlainAction Action
	// Draft makes the rules drafts a moderator approves; Preview reports
	// what would be added and changes nothing.
	Draft, Preview bool
	// Progress, when set, hears how far the import is (optional).
	Progress Progress
}

// Progress hears how far long work is: done of total items of a step
// ("checking", "writing"); total is 0 while it is not known. It is called
// from the working goroutine and must return quickly.
type Progress func(step string, done, total int)

// report calls p when set.
func (p Progress) report(step string, done, total int) {
	if p != nil {
		p(step, done, total)
	}
}

// progressEvery is how many rows pass between two reports of a step.
const progressEvery = 500

// ImportList imports a Mastodon CSV or plain-text domain list as rules
// from source "list:NAME". Every row is checked first: one bad row and
// nothing is imported. Domains that already have a rule are skipped.
func (m *Moderator) ImportList(ctx context.Context, op Operator, imp ListImport) (ImportResult, error) {
	name, prog := imp.Name, imp.Progress
	if !listName.MatchString(name) {
		return ImportResult{}, fmt.Errorf("%w: list name %q (lower-case letters, digits, dashes)", ErrBadRule, name)
	}
	entries, err := ParseList(imp.Data, imp.PlainAction)
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: %v", ErrBadRule, err)
	}
	m.listWrites.Lock()
	defer m.listWrites.Unlock()
	existing, err := m.store.Rules(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	have := map[string]bool{}
	for _, r := range existing {
		if r.Kind == Domain {
			have[r.Subject] = true
		}
	}
	res := ImportResult{Added: []Rule{}, Skipped: []string{}}
	now := time.Now().UTC()
	for i, e := range entries {
		if i%progressEvery == 0 {
			prog.report("checking", i, len(entries))
		}
		if have[e.Domain] {
			res.Skipped = append(res.Skipped, e.Domain)
			continue
		}
		r := e.Rule("list:" + name)
		r.Draft, r.Created, r.Author = imp.Draft, now, op.Who
		if err := r.Normalize(); err != nil {
			return ImportResult{}, fmt.Errorf("line %d: %w", e.Line, err)
		}
		res.Added = append(res.Added, r)
	}
	prog.report("checking", len(entries), len(entries))
	if imp.Preview || len(res.Added) == 0 {
		return res, nil
	}
	prog.report("writing", len(res.Added), 0) // one transaction: no count until it ends
	details, _ := json.Marshal(map[string]any{"added": len(res.Added), "skipped": res.Skipped, "draft": imp.Draft})
	ids, err := m.store.Moderate(ctx, Change{Add: res.Added, AddUnruled: true, Audit: []AuditEntry{{
		Who: op.Who, What: "list.import", Subject: name, Why: op.Why, Source: "list:" + name, Details: details,
	}}})
	if err != nil {
		return ImportResult{}, err
	}
	added := res.Added[:0]
	for i, r := range res.Added {
		if r.ID = ids[i]; r.ID == 0 {
			res.Skipped = append(res.Skipped, r.Subject) // a moderator's rule came first
			continue
		}
		added = append(added, r)
	}
	res.Added = added
	prog.report("writing", len(ids), len(ids))
	m.log.Info("list imported", "list", name, "added", len(res.Added), "skipped", len(res.Skipped), "draft", imp.Draft, "by", op.Who)
	return res, m.Reload(ctx)
}

// ExportList writes the rules as a Mastodon CSV: blocks (with obfuscated
// domains masked when obfuscate) or, with allows, the allow list.
func (m *Moderator) ExportList(ctx context.Context, allows, obfuscate bool) ([]byte, error) {
	live, err := m.LiveRules(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if allows {
		err = WriteMastodonAllows(&buf, live)
	} else {
		err = WriteMastodonBlocks(&buf, live, obfuscate)
	}
	return buf.Bytes(), err
}

// LiveRules are the moderation rules in force now.
func (m *Moderator) LiveRules(ctx context.Context) ([]Rule, error) {
	rules, err := m.store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	var live []Rule
	now := time.Now()
	for _, r := range rules {
		if r.Live(now) {
			live = append(live, r)
		}
	}
	return live, nil
}

// listName is what a list's name may be: it names rules' source
// ("list:NAME") and appears in URLs.
var listName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// ExcludeFromList keeps domain (and its subdomains) from ever being taken
// from the shared list name again; only the list's excludes change.
func (m *Moderator) ExcludeFromList(ctx context.Context, op Operator, name, domain string) error {
	d, err := ParsePeer(strings.TrimPrefix(strings.TrimSpace(domain), "*."))
	if err != nil {
		return fmt.Errorf("%w: exclude %q", ErrBadRule, domain)
	}
	m.listWrites.Lock()
	defer m.listWrites.Unlock()
	lists, err := m.store.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	for _, l := range lists {
		if l.Name != name {
			continue
		}
		if slices.Contains(l.Excludes, d) {
			return nil
		}
		l.Excludes = append(l.Excludes, d)
		_, err := m.store.Moderate(ctx, Change{PutList: &l, Audit: []AuditEntry{{
			Who: op.Who, What: "list.exclude", Subject: name + " " + d, Why: op.Why, Source: "list:" + name}}})
		return err
	}
	return fmt.Errorf("list %s: %w", name, ErrNotFound)
}

// SubscribeList follows a shared domain list at a URL. Its new entries
// come in as drafts unless draft is false.
func (m *Moderator) SubscribeList(ctx context.Context, op Operator, l ListSubscription) (ListSubscription, error) {
	if !listName.MatchString(l.Name) {
		return l, fmt.Errorf("%w: list name %q (lower-case letters, digits, dashes)", ErrBadRule, l.Name)
	}
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return l, fmt.Errorf("%w: list URL %q", ErrBadRule, l.URL)
	}
	if l.Interval == 0 {
		l.Interval = defaultListInterval
	}
	if l.Interval < minListInterval {
		return l, fmt.Errorf("%w: interval under %s", ErrBadRule, minListInterval)
	}
	if l.PlainAction == "" {
		l.PlainAction = string(Suspend)
	}
	if _, err := ParseAction(l.PlainAction); err != nil {
		return l, fmt.Errorf("%w: %v", ErrBadRule, err)
	}
	for i, d := range l.Excludes {
		p, err := ParsePeer(strings.TrimPrefix(d, "*."))
		if err != nil {
			return l, fmt.Errorf("%w: exclude %q", ErrBadRule, d)
		}
		l.Excludes[i] = p
	}
	l.Created, l.Author = time.Now().UTC(), op.Who
	details, _ := json.Marshal(l)
	m.listWrites.Lock()
	defer m.listWrites.Unlock()
	if _, err := m.store.Moderate(ctx, Change{PutList: &l, Audit: []AuditEntry{{
		Who: op.Who, What: "list.subscribe", Subject: l.Name, Why: op.Why, Source: "list:" + l.Name, Details: details,
	}}}); err != nil {
		return l, err
	}
	m.log.Info("subscribed to a shared list", "list", l.Name, "url", l.URL, "by", op.Who)
	return l, nil
}

// UnsubscribeList stops following a list; the rules it brought stay.
func (m *Moderator) UnsubscribeList(ctx context.Context, op Operator, name string) error {
	m.listWrites.Lock()
	defer m.listWrites.Unlock()
	_, err := m.store.Moderate(ctx, Change{RemoveList: name, Audit: []AuditEntry{{
		Who: op.Who, What: "list.unsubscribe", Subject: name, Why: op.Why, Source: "list:" + name,
	}}})
	return err
}

// SyncList fetches a list now and applies it: new entries become rules
// (drafts unless the subscription says otherwise) unless excluded or
// already covered by a rule (a manual rule is never overwritten); entries
// the list dropped are reported as retracted, and their rules are kept for
// a moderator to decide.
func (m *Moderator) SyncList(ctx context.Context, name string) (Synced, error) {
	l, err := m.listSubscription(ctx, name)
	if err != nil {
		return Synced{}, err
	}
	// Fetched outside the lock: a slow list server holds up no import,
	// no other sync and no operator's change.
	res, entries, fetchErr := m.fetchList(ctx, &l)
	m.listWrites.Lock()
	defer m.listWrites.Unlock()
	// Applied to the subscription as it is now: an operator may have
	// changed it, or unsubscribed, during the fetch.
	if l, err = m.listSubscription(ctx, name); err != nil {
		return res, err
	}
	l.LastFetch = time.Now().UTC()
	if fetchErr != nil {
		l.LastError = shortError(fetchErr)
		if _, serr := m.store.Moderate(ctx, Change{ListFetched: &l, Audit: []AuditEntry{{
			Who: "list:" + name, What: "list.fetch_failed", Subject: name, Why: l.LastError, Source: "list:" + name,
		}}}); serr != nil {
			return res, serr
		}
		return res, fetchErr
	}
	change, res, err := m.diffList(ctx, &l, entries)
	if err != nil {
		return res, err
	}
	ids, err := m.store.Moderate(ctx, change)
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
		m.log.Info("shared list synced", "list", name, "added", len(res.Added), "retracted", len(res.Retracted),
			"draft", l.Draft)
	}
	return res, m.Reload(ctx)
}

// listSubscription returns the subscription to the list name.
func (m *Moderator) listSubscription(ctx context.Context, name string) (ListSubscription, error) {
	lists, err := m.store.ListSubscriptions(ctx)
	if err != nil {
		return ListSubscription{}, err
	}
	for _, l := range lists {
		if l.Name == name {
			return l, nil
		}
	}
	return ListSubscription{}, fmt.Errorf("list %s: %w", name, ErrNotFound)
}

func (m *Moderator) fetchList(ctx context.Context, l *ListSubscription) (Synced, []Entry, error) {
	body, err := m.cfg.Lists.Get(ctx, l.URL)
	if err != nil {
		return Synced{}, nil, err
	}
	entries, err := ParseList(body, Action(l.PlainAction))
	return Synced{}, entries, err
}

// diffList compares a fetched list with the rules and the previous fetch.
func (m *Moderator) diffList(ctx context.Context, l *ListSubscription, entries []Entry) (Change, Synced, error) {
	res := Synced{Added: []string{}, Skipped: []string{}, Excluded: []string{}, Retracted: []string{}}
	rules, err := m.store.Rules(ctx)
	if err != nil {
		return Change{}, res, err
	}
	source := "list:" + l.Name
	ruled, fromList := map[string]bool{}, map[string]bool{}
	for _, r := range rules {
		if r.Kind == Domain {
			ruled[r.Subject] = true
			if r.Source == source {
				fromList[r.Subject] = true
			}
		}
	}
	now := time.Now().UTC()
	who := "list:" + l.Name
	change := Change{ListFetched: l, AddUnruled: true}
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
			change.Audit = append(change.Audit, AuditEntry{Who: who, What: "list.retracted", Subject: d,
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
	change.Audit = append(change.Audit, AuditEntry{Who: who, What: "list.sync", Subject: l.Name,
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
func (m *Moderator) SyncDue(ctx context.Context) ([]string, error) {
	lists, err := m.store.ListSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var synced []string
	for _, l := range lists {
		if time.Since(l.LastFetch) < l.Interval {
			continue
		}
		if _, err := m.SyncList(ctx, l.Name); err != nil {
			if errors.Is(err, context.Canceled) {
				return synced, err
			}
			m.log.Warn("syncing a shared list", "list", l.Name, "err", err)
			continue
		}
		synced = append(synced, l.Name)
	}
	return synced, nil
}

// shortError is an error's text, shortened for a one-line record.
func shortError(err error) string {
	t := err.Error()
	if len(t) > 200 {
		t = t[:200]
	}
	return t
}
