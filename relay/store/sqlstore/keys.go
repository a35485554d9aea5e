package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/runrig/runrig/relay/store"
)

// PinnedKeys implements store.Keys.
func (db *DB) PinnedKeys(ctx context.Context) ([]store.PinnedKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+pinColumns+` FROM pinned_keys ORDER BY peer, key_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.PinnedKey
	for rows.Next() {
		k, err := scanPin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

const pinColumns = `key_id, owner, peer, fingerprint, previous_fingerprint, rotations, first_seen, rotated_at`

func scanPin(row interface{ Scan(...any) error }) (store.PinnedKey, error) {
	var k store.PinnedKey
	var first, rotated int64
	if err := row.Scan(&k.KeyID, &k.Owner, &k.Peer, &k.Fingerprint, &k.PreviousFingerprint, &k.Rotations,
		&first, &rotated); err != nil {
		return k, err
	}
	k.FirstSeen, k.RotatedAt = fromMS(first), fromMS(rotated)
	return k, nil
}

// PinnedKey implements store.Keys.
func (db *DB) PinnedKey(ctx context.Context, keyID string) (store.PinnedKey, error) {
	k, err := scanPin(db.r.QueryRowContext(ctx, `SELECT `+pinColumns+` FROM pinned_keys WHERE key_id = ?`, keyID))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("pinned key %s: %w", keyID, store.ErrNotFound)
	}
	return k, err
}

// PinKey implements store.Keys.
func (db *DB) PinKey(ctx context.Context, k store.PinnedKey, audit *store.AuditEntry, keepPerPeer int) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		// Only a new pin makes room: a rotation replaces its own. A pin a
		// key rule names stays, so the rule keeps covering its key.
		if _, err := tx.ExecContext(ctx, `DELETE FROM pinned_keys WHERE peer = ? AND key_id NOT IN (
			SELECT key_id FROM pinned_keys WHERE peer = ? ORDER BY first_seen DESC, key_id LIMIT ?)
			AND NOT EXISTS (SELECT 1 FROM pinned_keys WHERE key_id = ?)
			AND key_id NOT IN (SELECT subject FROM rules WHERE kind = 'key')`,
			k.Peer, k.Peer, max(keepPerPeer-1, 0), k.KeyID); err != nil {
			return err
		}
		// A first pin never replaces one (two requests may race to pin
		// a key id); only a rotation, audited, does.
		onConflict := `DO NOTHING`
		if audit != nil {
			onConflict = `DO UPDATE SET owner = excluded.owner, fingerprint = excluded.fingerprint,
			previous_fingerprint = excluded.previous_fingerprint, rotations = excluded.rotations,
			rotated_at = excluded.rotated_at`
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pinned_keys(key_id, owner, peer, fingerprint, previous_fingerprint,
			rotations, first_seen, rotated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(key_id) `+onConflict,
			k.KeyID, k.Owner, k.Peer, k.Fingerprint, k.PreviousFingerprint, k.Rotations, ms(k.FirstSeen), ms(k.RotatedAt)); err != nil {
			return err
		}
		if audit != nil {
			return appendAudit(ctx, tx, []store.AuditEntry{*audit})
		}
		return nil
	})
}
