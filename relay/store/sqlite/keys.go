package sqlite

import (
	"context"
	"database/sql"

	"github.com/runrig/runrig/relay/store"
)

// PinnedKeys implements store.Keys.
func (db *DB) PinnedKeys(ctx context.Context) ([]store.PinnedKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key_id, owner, peer, fingerprint, previous_fingerprint, rotations,
		first_seen, rotated_at FROM pinned_keys ORDER BY peer, key_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.PinnedKey
	for rows.Next() {
		var k store.PinnedKey
		var first, rotated int64
		if err := rows.Scan(&k.KeyID, &k.Owner, &k.Peer, &k.Fingerprint, &k.PreviousFingerprint, &k.Rotations,
			&first, &rotated); err != nil {
			return nil, err
		}
		k.FirstSeen, k.RotatedAt = fromMS(first), fromMS(rotated)
		out = append(out, k)
	}
	return out, rows.Err()
}

// PinKey implements store.Keys.
func (db *DB) PinKey(ctx context.Context, k store.PinnedKey, audit *store.AuditEntry) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pinned_keys(key_id, owner, peer, fingerprint, previous_fingerprint,
			rotations, first_seen, rotated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(key_id) DO UPDATE SET owner = excluded.owner, fingerprint = excluded.fingerprint,
			previous_fingerprint = excluded.previous_fingerprint, rotations = excluded.rotations,
			rotated_at = excluded.rotated_at`,
			k.KeyID, k.Owner, k.Peer, k.Fingerprint, k.PreviousFingerprint, k.Rotations, ms(k.FirstSeen), ms(k.RotatedAt)); err != nil {
			return err
		}
		if audit != nil {
			return appendAudit(ctx, tx, []store.AuditEntry{*audit})
		}
		return nil
	})
}
