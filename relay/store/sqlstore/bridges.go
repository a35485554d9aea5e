package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// bridges implements store.Bridges.
type bridges struct{ db *DB }

// Bridges implements store.Store.
func (db *DB) Bridges() store.Bridges { return bridges{db} }

const bridgeColumns = `name, catalog_url, auth, token, every_ms, region, kind, key_pem, ed25519_seed, created_at,
	retired_at, actor_name, etag, last_modified, last_attempt, last_success, last_error, listed, sold_out, skipped, held, problems`

func scanBridge(row interface{ Scan(...any) error }) (store.Bridge, error) {
	var b store.Bridge
	var every, created, retired, attempt, success int64
	err := row.Scan(&b.Name, &b.CatalogURL, &b.Auth, &b.Token, &every, &b.Region, &b.Kind, &b.KeyPEM, &b.Ed25519Seed,
		&created, &retired, &b.ActorName, &b.ETag, &b.LastModified, &attempt, &success, &b.LastError, &b.Listed, &b.SoldOut,
		&b.Skipped, &b.Held, &b.Problems)
	b.Every = time.Duration(every) * time.Millisecond
	b.Created, b.Retired, b.LastAttempt, b.LastSuccess = fromMS(created), optMS(retired), optMS(attempt), optMS(success)
	return b, err
}

func optMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

func optToMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// Bridges implements store.Bridges.
func (s bridges) Bridges(ctx context.Context) ([]store.Bridge, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+bridgeColumns+` FROM bridges ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("bridges: %w", err)
	}
	defer rows.Close()
	var out []store.Bridge
	for rows.Next() {
		b, err := scanBridge(rows)
		if err != nil {
			return nil, fmt.Errorf("bridges: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Bridge implements store.Bridges.
func (s bridges) Bridge(ctx context.Context, name string) (store.Bridge, error) {
	b, err := scanBridge(s.db.r.QueryRowContext(ctx, `SELECT `+bridgeColumns+` FROM bridges WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("bridge %s: %w", name, store.ErrNotFound)
	}
	return b, err
}

// CreateBridge implements store.Bridges.
func (s bridges) CreateBridge(ctx context.Context, b store.Bridge, audit store.AuditEntry) error {
	return s.db.tx(ctx, func(tx *sql.Tx) error {
		var retired int64
		err := tx.QueryRowContext(ctx, `SELECT retired_at FROM bridges WHERE name = ?`, b.Name).Scan(&retired)
		switch {
		case err == nil && retired == 0:
			return fmt.Errorf("bridge %s: %w", b.Name, store.ErrExists)
		case err == nil:
			if _, err := tx.ExecContext(ctx, `UPDATE bridges SET catalog_url = ?, auth = ?, token = ?, every_ms = ?,
				region = ?, kind = ?, retired_at = 0, etag = '', last_modified = '', last_error = '' WHERE name = ?`,
				b.CatalogURL, b.Auth, b.Token, b.Every.Milliseconds(), b.Region, b.Kind, b.Name); err != nil {
				return err
			}
			return auditBridge(ctx, s.db, tx, audit)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bridges(name, catalog_url, auth, token, every_ms, region, kind,
			key_pem, ed25519_seed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.Name, b.CatalogURL, b.Auth, b.Token,
			b.Every.Milliseconds(), b.Region, b.Kind, b.KeyPEM, b.Ed25519Seed, ms(b.Created)); err != nil {
			return err
		}
		return auditBridge(ctx, s.db, tx, audit)
	})
}

// SaveBridgeSync implements store.Bridges.
func (s bridges) SaveBridgeSync(ctx context.Context, name string, st store.BridgeSync) error {
	res, err := s.db.w.ExecContext(ctx, `UPDATE bridges SET actor_name = ?, etag = ?, last_modified = ?, last_attempt = ?,
		last_success = ?, last_error = ?, listed = ?, sold_out = ?, skipped = ?, held = ?, problems = ? WHERE name = ?`,
		st.ActorName, st.ETag, st.LastModified, optToMS(st.LastAttempt), optToMS(st.LastSuccess), st.LastError,
		st.Listed, st.SoldOut, st.Skipped, st.Held, st.Problems, name)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("bridge %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// BridgeItems implements store.Bridges.
func (s bridges) BridgeItems(ctx context.Context, name string) ([]store.BridgeItem, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT bridge, item, listing_id, hash, published_at, updated_at, end_at
		FROM bridge_items WHERE bridge = ? ORDER BY item`, name)
	if err != nil {
		return nil, fmt.Errorf("bridge items: %w", err)
	}
	defer rows.Close()
	var out []store.BridgeItem
	for rows.Next() {
		var it store.BridgeItem
		var pub, upd, end int64
		if err := rows.Scan(&it.Bridge, &it.Item, &it.ListingID, &it.Hash, &pub, &upd, &end); err != nil {
			return nil, fmt.Errorf("bridge items: %w", err)
		}
		it.Published, it.Updated, it.End = fromMS(pub), optMS(upd), fromMS(end)
		out = append(out, it)
	}
	return out, rows.Err()
}

// RetireBridge implements store.Bridges.
func (s bridges) RetireBridge(ctx context.Context, name string, audit store.AuditEntry) error {
	return s.db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bridges SET retired_at = ? WHERE name = ? AND retired_at = 0`,
			ms(time.Now()), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("bridge %s: %w", name, store.ErrNotFound)
		}
		return auditBridge(ctx, s.db, tx, audit)
	})
}

// applyBridgeItem records or forgets a bridge's catalog item, in a Change.
func applyBridgeItem(ctx context.Context, tx *sql.Tx, c store.Change) error {
	if k := c.DeleteBridgeItem; k != nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM bridge_items WHERE bridge = ? AND item = ?`, k.Bridge, k.Item); err != nil {
			return err
		}
	}
	it := c.PutBridgeItem
	if it == nil {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM bridges WHERE name = ? AND retired_at = 0`, it.Bridge).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("bridge %s: %w", it.Bridge, store.ErrNotFound)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO bridge_items(bridge, item, listing_id, hash, published_at, updated_at, end_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(bridge, item) DO UPDATE SET listing_id = excluded.listing_id,
		hash = excluded.hash, published_at = excluded.published_at, updated_at = excluded.updated_at, end_at = excluded.end_at`,
		it.Bridge, it.Item, it.ListingID, it.Hash, ms(it.Published), optToMS(it.Updated), ms(it.End))
	return err
}

// auditBridge records an operator's change of a bridge and tells other
// replicas of it.
func auditBridge(ctx context.Context, db *DB, tx *sql.Tx, audit store.AuditEntry) error {
	if err := db.notify(ctx, tx, store.TopicBridges, ""); err != nil {
		return err
	}
	return appendAudit(ctx, tx, []store.AuditEntry{audit})
}
