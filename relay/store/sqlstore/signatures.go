package sqlstore

import (
	"context"
	"fmt"

	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/schemes"
)

// signatures implements schemes.Store.
type signatures struct{ db *DB }

// Signatures implements store.Store.
func (db *DB) Signatures() schemes.Store { return signatures{db} }

// SignatureMemory implements schemes.Store.
func (s signatures) SignatureMemory(ctx context.Context) ([]schemes.Entry, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT host, kind, accepted, until FROM signature_memory`)
	if err != nil {
		return nil, fmt.Errorf("signature memory: %w", err)
	}
	defer rows.Close()
	var out []schemes.Entry
	for rows.Next() {
		var e schemes.Entry
		var kind string
		var until int64
		if err := rows.Scan(&e.Host, &kind, &e.Accepted, &until); err != nil {
			return nil, fmt.Errorf("signature memory: %w", err)
		}
		e.Kind, e.Until = httpsig.Kind(kind), fromMS(until)
		out = append(out, e)
	}
	return out, rows.Err()
}

// RememberSignature implements schemes.Store.
func (s signatures) RememberSignature(ctx context.Context, e schemes.Entry) error {
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO signature_memory(host, kind, accepted, until) VALUES (?, ?, ?, ?)
		ON CONFLICT(host, kind) DO UPDATE SET accepted = excluded.accepted, until = excluded.until`,
		e.Host, string(e.Kind), e.Accepted, ms(e.Until))
	if err != nil {
		return fmt.Errorf("remembering a signature scheme: %w", err)
	}
	return nil
}
