package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// Replicas implements store.Store.
func (db *DB) Replicas() store.Replicas { return replicas{db} }

// replicas are the relay processes on this database, and the singleton
// leases they hold.
type replicas struct{ db *DB }

func (s replicas) Beat(ctx context.Context, r store.Replica) error {
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO replicas(id, host, started_at, seen_at, in_flight, delivered, failed)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at,
		in_flight = excluded.in_flight, delivered = excluded.delivered, failed = excluded.failed`,
		r.ID, r.Host, ms(r.StartedAt), ms(r.SeenAt), r.InFlight, r.Delivered, r.Failed)
	return err
}

func (s replicas) Clock(ctx context.Context) (time.Time, error) {
	if s.db.d.Clock == "" {
		return time.Now(), nil
	}
	var n int64
	if err := s.db.r.QueryRowContext(ctx, s.db.d.Clock).Scan(&n); err != nil {
		return time.Time{}, fmt.Errorf("the database's clock: %w", err)
	}
	return time.UnixMilli(n), nil
}

func (s replicas) List(ctx context.Context) ([]store.Replica, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT id, host, started_at, seen_at, in_flight, delivered, failed
		FROM replicas ORDER BY started_at DESC, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Replica
	for rows.Next() {
		var r store.Replica
		var started, seen int64
		if err := rows.Scan(&r.ID, &r.Host, &started, &seen, &r.InFlight, &r.Delivered, &r.Failed); err != nil {
			return nil, err
		}
		r.StartedAt, r.SeenAt = fromMS(started), fromMS(seen)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s replicas) Forget(ctx context.Context, before time.Time) ([]string, error) {
	var gone []string
	err := s.db.tx(ctx, func(tx *sql.Tx) error {
		gone = gone[:0]
		rows, err := tx.QueryContext(ctx, `DELETE FROM replicas WHERE seen_at < ? RETURNING id`, ms(before))
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			gone = append(gone, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range gone {
			if err := releaseOwner(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	return gone, err
}

func (s replicas) Leave(ctx context.Context, id string) error {
	return s.db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM replicas WHERE id = ?`, id); err != nil {
			return err
		}
		return releaseOwner(ctx, tx, id)
	})
}

// releaseOwner releases every lease a replica holds: its deliveries are
// due again at once, its singletons free.
func releaseOwner(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_until = 0, lease_owner = '' WHERE lease_owner = ?`, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE owner = ?`, id)
	return err
}

func (s replicas) Acquire(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	res, err := s.db.w.ExecContext(ctx, `INSERT INTO leases(name, owner, until) VALUES (?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE leases.owner = excluded.owner OR leases.until <= ?`, name, owner, ms(until), ms(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s replicas) Release(ctx context.Context, name, owner string) error {
	_, err := s.db.w.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner)
	return err
}

func (s replicas) Leases(ctx context.Context) ([]store.Lease, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT name, owner, until FROM leases ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		var l store.Lease
		var until int64
		if err := rows.Scan(&l.Name, &l.Owner, &until); err != nil {
			return nil, err
		}
		l.Until = fromMS(until)
		out = append(out, l)
	}
	return out, rows.Err()
}
