package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// Rules implements store.Moderation.
func (db *DB) Rules(ctx context.Context) ([]policy.Rule, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, kind, subject, action, filters, public_comment, private_comment,
		source, draft, obfuscate, reject_reports, expires_at, created_at, author FROM rules ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []policy.Rule
	for rows.Next() {
		var r policy.Rule
		var filters string
		var expires, created int64
		if err := rows.Scan(&r.ID, &r.Kind, &r.Subject, &r.Action, &filters, &r.PublicComment, &r.PrivateComment,
			&r.Source, &r.Draft, &r.Obfuscate, &r.RejectReports, &expires, &created, &r.Author); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(filters), &r.Filters); err != nil {
			return nil, fmt.Errorf("rule %d filters: %w", r.ID, err)
		}
		r.Expires, r.Created = fromMS(expires), fromMS(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Moderate implements store.Moderation.
func (db *DB) Moderate(ctx context.Context, c store.ModerationChange) ([]int64, error) {
	if len(c.Audit) == 0 {
		return nil, errors.New("a moderation change needs an audit entry")
	}
	var ids []int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if err = removeRules(ctx, tx, c.Remove); err != nil {
			return err
		}
		if err = approveRules(ctx, tx, c.Approve); err != nil {
			return err
		}
		if ids, err = addRules(ctx, tx, c.Add, c.AddUnruled); err != nil {
			return err
		}
		for _, step := range []func() error{
			func() error { return updateRules(ctx, tx, c.Update) },
			func() error { return dropPeers(ctx, tx, c.DropPeers) },
			func() error { return setTrust(ctx, tx, c.SetTrust) },
			func() error { return changeLists(ctx, tx, c.PutList, c.RemoveList) },
			func() error { return listFetched(ctx, tx, c.ListFetched) },
			func() error { return changeEndorsements(ctx, tx, c.Endorse, c.Unendorse) },
			func() error { return appendAudit(ctx, tx, c.Audit) },
			func() error { return db.notify(ctx, tx, store.TopicPolicy, "") },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// exactlyOne fails with ErrNotFound when an update touched no row.
func exactlyOne(res sql.Result, what string) error {
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func removeRules(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `DELETE FROM rules WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, fmt.Sprintf("rule %d", id)); err != nil {
			return err
		}
	}
	return nil
}

func approveRules(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `UPDATE rules SET draft = 0 WHERE id = ? AND draft = 1`, id)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, fmt.Sprintf("draft rule %d", id)); err != nil {
			return err
		}
	}
	return nil
}

// addRules inserts rules; with unruled, only those whose kind and subject
// have no rule (id 0 for the others).
func addRules(ctx context.Context, tx *sql.Tx, rules []policy.Rule, unruled bool) ([]int64, error) {
	var ids []int64
	for _, r := range rules {
		if unruled {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM rules WHERE kind = ? AND subject = ?`,
				r.Kind, r.Subject).Scan(&n); err != nil {
				return nil, err
			}
			if n > 0 {
				ids = append(ids, 0)
				continue
			}
		}
		filters, _ := json.Marshal(r.Filters)
		q := `INSERT INTO rules(kind, subject, action, filters, public_comment,
			private_comment, source, draft, obfuscate, reject_reports, expires_at, created_at, author)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if unruled {
			// Another replica's sync may add the same list rule at once.
			q += ` ON CONFLICT (kind, subject) WHERE source LIKE 'list:%' DO NOTHING`
		}
		var id int64
		err := tx.QueryRowContext(ctx, q+` RETURNING id`,
			r.Kind, r.Subject, r.Action, string(filters), r.PublicComment, r.PrivateComment, r.Source, r.Draft,
			r.Obfuscate, r.RejectReports, ms(r.Expires), ms(r.Created), r.Author).Scan(&id)
		if err != nil && !(unruled && errors.Is(err, sql.ErrNoRows)) {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func updateRules(ctx context.Context, tx *sql.Tx, rules []policy.Rule) error {
	for _, r := range rules {
		filters, _ := json.Marshal(r.Filters)
		res, err := tx.ExecContext(ctx, `UPDATE rules SET action = ?, filters = ?, public_comment = ?, private_comment = ?,
			obfuscate = ?, reject_reports = ?, expires_at = ?, author = ? WHERE id = ?`,
			r.Action, string(filters), r.PublicComment, r.PrivateComment, r.Obfuscate, r.RejectReports, ms(r.Expires),
			r.Author, r.ID)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, fmt.Sprintf("rule %d", r.ID)); err != nil {
			return err
		}
	}
	return nil
}

func dropPeers(ctx context.Context, tx *sql.Tx, peers []string) error {
	for _, peer := range peers {
		for _, q := range []string{`DELETE FROM subscribers WHERE peer = ?`, `DELETE FROM deliveries WHERE peer = ?`} {
			if _, err := tx.ExecContext(ctx, q, peer); err != nil {
				return err
			}
		}
	}
	return nil
}

func setTrust(ctx context.Context, tx *sql.Tx, settings []store.TrustSetting) error {
	for _, ts := range settings {
		var err error
		if ts.Level == "normal" {
			_, err = tx.ExecContext(ctx, `DELETE FROM peer_trust WHERE peer = ?`, ts.Peer)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO peer_trust(peer, level, reason, set_by, set_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT(peer) DO UPDATE SET level = excluded.level, reason = excluded.reason,
				set_by = excluded.set_by, set_at = excluded.set_at`, ts.Peer, ts.Level, ts.Reason, ts.SetBy, ms(ts.SetAt))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func changeLists(ctx context.Context, tx *sql.Tx, put *store.ListSubscription, remove string) error {
	if remove != "" {
		res, err := tx.ExecContext(ctx, `DELETE FROM list_subscriptions WHERE name = ?`, remove)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, "list "+remove); err != nil {
			return err
		}
	}
	if put == nil {
		return nil
	}
	ex, _ := json.Marshal(nonNil(put.Excludes))
	en, _ := json.Marshal(nonNil(put.Entries))
	re, _ := json.Marshal(nonNil(put.Retracted))
	_, err := tx.ExecContext(ctx, `INSERT INTO list_subscriptions(name, url, priority, interval_ms, draft,
		plain_action, excludes, created_at, author, last_fetch, last_error, entries, retracted)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET url = excluded.url, priority = excluded.priority,
		interval_ms = excluded.interval_ms, draft = excluded.draft, plain_action = excluded.plain_action,
		excludes = excluded.excludes, last_fetch = excluded.last_fetch, last_error = excluded.last_error,
		entries = excluded.entries, retracted = excluded.retracted`,
		put.Name, put.URL, put.Priority, put.Interval.Milliseconds(), put.Draft, put.PlainAction, string(ex),
		ms(put.Created), put.Author, ms(put.LastFetch), put.LastError, string(en), string(re))
	return err
}

// listFetched records a sync's fetch state on a subscription that must
// still exist, leaving what the operator sets alone.
func listFetched(ctx context.Context, tx *sql.Tx, l *store.ListSubscription) error {
	if l == nil {
		return nil
	}
	en, _ := json.Marshal(nonNil(l.Entries))
	re, _ := json.Marshal(nonNil(l.Retracted))
	res, err := tx.ExecContext(ctx, `UPDATE list_subscriptions SET last_fetch = ?, last_error = ?, entries = ?,
		retracted = ? WHERE name = ?`, ms(l.LastFetch), l.LastError, string(en), string(re), l.Name)
	if err != nil {
		return err
	}
	return exactlyOne(res, "list "+l.Name)
}

func changeEndorsements(ctx context.Context, tx *sql.Tx, add []store.Endorsement, withdraw []int64) error {
	for _, e := range add {
		if _, err := tx.ExecContext(ctx, `INSERT INTO endorsements(domain, kind, reason, author, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT(domain, kind) DO UPDATE SET reason = excluded.reason,
			author = excluded.author, created_at = excluded.created_at`,
			e.Domain, e.Kind, e.Reason, e.Author, ms(e.Created)); err != nil {
			return err
		}
	}
	for _, id := range withdraw {
		res, err := tx.ExecContext(ctx, `DELETE FROM endorsements WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := exactlyOne(res, fmt.Sprintf("endorsement %d", id)); err != nil {
			return err
		}
	}
	return nil
}

func appendAudit(ctx context.Context, tx *sql.Tx, entries []store.AuditEntry) error {
	for _, e := range entries {
		at := e.At
		if at.IsZero() {
			at = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit(at, who, what, subject, why, source, details)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, ms(at), e.Who, e.What, e.Subject, e.Why, e.Source, string(e.Details)); err != nil {
			return err
		}
	}
	return nil
}

// Audit implements store.Moderation.
func (db *DB) Audit(ctx context.Context, afterID int64, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		limit = 1000
	}
	return scanAudit(db.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit))
}

// SearchAudit implements store.Moderation.
func (db *DB) SearchAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	like := func(s string) string {
		r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
		return "%" + r.Replace(strings.ToLower(s)) + "%"
	}
	return scanAudit(db.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit
		WHERE lower(who) LIKE ? ESCAPE '\' AND lower(what) LIKE ? ESCAPE '\' AND lower(subject) LIKE ? ESCAPE '\' AND at >= ?
		ORDER BY id DESC LIMIT ?`, like(f.Who), like(f.What), like(f.Subject), ms(f.Since), f.Limit))
}

// auditColumns are the columns scanAudit reads, in its order.
const auditColumns = `id, at, who, what, subject, why, source, details`

// scanAudit reads the audit entries a query of auditColumns returned.
func scanAudit(rows *sql.Rows, err error) ([]store.AuditEntry, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.Who, &e.What, &e.Subject, &e.Why, &e.Source, &details); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		if details != "" {
			e.Details = json.RawMessage(details)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// TrustLevels implements store.Moderation.
func (db *DB) TrustLevels(ctx context.Context) ([]store.TrustSetting, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT peer, level, reason, set_by, set_at FROM peer_trust ORDER BY peer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.TrustSetting
	for rows.Next() {
		var t store.TrustSetting
		var at int64
		if err := rows.Scan(&t.Peer, &t.Level, &t.Reason, &t.SetBy, &at); err != nil {
			return nil, err
		}
		t.SetAt = fromMS(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListSubscriptions implements store.Moderation.
func (db *DB) ListSubscriptions(ctx context.Context) ([]store.ListSubscription, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name, url, priority, interval_ms, draft, plain_action, excludes,
		created_at, author, last_fetch, last_error, entries, retracted FROM list_subscriptions ORDER BY priority DESC, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ListSubscription
	for rows.Next() {
		var l store.ListSubscription
		var interval, created, last int64
		var ex, en, re string
		if err := rows.Scan(&l.Name, &l.URL, &l.Priority, &interval, &l.Draft, &l.PlainAction, &ex, &created, &l.Author,
			&last, &l.LastError, &en, &re); err != nil {
			return nil, err
		}
		l.Interval = time.Duration(interval) * time.Millisecond
		l.Created, l.LastFetch = fromMS(created), fromMS(last)
		for _, p := range []struct {
			raw string
			dst *[]string
		}{{ex, &l.Excludes}, {en, &l.Entries}, {re, &l.Retracted}} {
			if err := json.Unmarshal([]byte(p.raw), p.dst); err != nil {
				return nil, fmt.Errorf("list %s: %w", l.Name, err)
			}
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Endorsements implements store.Moderation.
func (db *DB) Endorsements(ctx context.Context) ([]store.Endorsement, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, domain, kind, reason, author, created_at FROM endorsements ORDER BY domain, kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Endorsement{}
	for rows.Next() {
		var e store.Endorsement
		var created int64
		if err := rows.Scan(&e.ID, &e.Domain, &e.Kind, &e.Reason, &e.Author, &created); err != nil {
			return nil, err
		}
		e.Created = fromMS(created)
		out = append(out, e)
	}
	return out, rows.Err()
}
