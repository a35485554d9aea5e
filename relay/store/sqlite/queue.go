package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// Apply implements store.Queue.
func (db *DB) Apply(ctx context.Context, c store.Change) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if c.Seen != "" {
			res, err := tx.ExecContext(ctx, `INSERT INTO seen(activity_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
				c.Seen, ms(time.Now()))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return store.ErrDuplicate
			}
		}
		if c.Remove != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE peer = ?`, c.Remove); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE peer = ?`, c.Remove); err != nil {
				return err
			}
		}
		if c.Upsert != nil {
			if err := upsertSubscriber(ctx, tx, c.Upsert); err != nil {
				return err
			}
		}
		return insertMessages(ctx, tx, c.Messages)
	})
}

func insertMessages(ctx context.Context, tx *sql.Tx, msgs []store.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO deliveries(payload_id, peer, inbox, state, next_at, created_at) VALUES (?, ?, ?, 'queued', ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, m := range msgs {
		if len(m.Targets) == 0 {
			continue
		}
		at := ms(m.At)
		if at == 0 {
			at = ms(time.Now())
		}
		var pid int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO payloads(activity_id, body, created_at) VALUES (?, ?, ?) RETURNING id`,
			m.ActivityID, m.Body, at).Scan(&pid); err != nil {
			return err
		}
		for _, t := range m.Targets {
			if _, err := ins.ExecContext(ctx, pid, t.Peer, t.Inbox, at, at); err != nil {
				return err
			}
		}
	}
	return nil
}

const deliveryCols = `d.id, d.payload_id, p.activity_id, d.peer, d.inbox, d.state, d.attempts, d.next_at, d.last_error, d.created_at`

func scanDelivery(row scanner) (store.Delivery, error) {
	var d store.Delivery
	var next, created int64
	err := row.Scan(&d.ID, &d.PayloadID, &d.ActivityID, &d.Peer, &d.Inbox, &d.State, &d.Attempts, &next, &d.LastError, &created)
	d.NextAttempt, d.CreatedAt = fromMS(next), fromMS(created)
	return d, err
}

// Claim implements store.Queue.
func (db *DB) Claim(ctx context.Context, req store.ClaimRequest) (store.Claimed, error) {
	out := store.Claimed{Bodies: map[int64][]byte{}}
	now := ms(req.Now)
	args := []any{now + req.Lease.Milliseconds(), now, now, now}
	exclude := ""
	if len(req.ExcludePeers) > 0 {
		exclude = ` AND peer NOT IN (?` + strings.Repeat(`, ?`, len(req.ExcludePeers)-1) + `)`
		for _, p := range req.ExcludePeers {
			args = append(args, p)
		}
	}
	args = append(args, req.Limit)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET lease_until = ? WHERE id IN (
			SELECT id FROM deliveries WHERE state != 'dead' AND next_at <= ? AND lease_until <= ?
			AND peer NOT IN (SELECT peer FROM peers WHERE circuit_until > ?)`+exclude+`
			ORDER BY next_at, id LIMIT ?)
			RETURNING id, payload_id, peer, inbox, state, attempts, next_at, last_error, created_at`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d store.Delivery
			var next, created int64
			if err := rows.Scan(&d.ID, &d.PayloadID, &d.Peer, &d.Inbox, &d.State, &d.Attempts, &next, &d.LastError, &created); err != nil {
				rows.Close()
				return err
			}
			d.NextAttempt, d.CreatedAt = fromMS(next), fromMS(created)
			out.Deliveries = append(out.Deliveries, d)
			out.Bodies[d.PayloadID] = nil
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ids := make(map[int64]string, len(out.Bodies))
		for pid := range out.Bodies {
			var body []byte
			var aid string
			if err := tx.QueryRowContext(ctx, `SELECT body, activity_id FROM payloads WHERE id = ?`, pid).Scan(&body, &aid); err != nil {
				return fmt.Errorf("payload %d: %w", pid, err)
			}
			out.Bodies[pid] = body
			ids[pid] = aid
		}
		for i := range out.Deliveries {
			out.Deliveries[i].ActivityID = ids[out.Deliveries[i].PayloadID]
		}
		return nil
	})
	return out, err
}

// Complete implements store.Queue.
func (db *DB) Complete(ctx context.Context, outcomes []store.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		payloads := map[int64]bool{}
		for _, o := range outcomes {
			d := o.Delivery
			var err error
			switch {
			case o.Delivered:
				payloads[d.PayloadID] = true
				if _, err = tx.ExecContext(ctx, `DELETE FROM deliveries WHERE id = ?`, d.ID); err == nil {
					_, err = tx.ExecContext(ctx, `INSERT INTO peers(peer, last_success, delivered) VALUES (?, ?, 1)
						ON CONFLICT(peer) DO UPDATE SET last_success = excluded.last_success,
						consecutive_failures = 0, circuit_until = 0, delivered = delivered + 1`, d.Peer, ms(o.At))
				}
			case o.Deferred:
				_, err = tx.ExecContext(ctx, `UPDATE deliveries SET next_at = ?, lease_until = 0 WHERE id = ?`, ms(o.NextAttempt), d.ID)
			default:
				state := store.Retrying
				if o.Dead {
					state = store.Dead
				}
				if _, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?,
					lease_until = 0, last_error = ? WHERE id = ?`, state, ms(o.NextAttempt), o.Err, d.ID); err == nil {
					_, err = tx.ExecContext(ctx, `INSERT INTO peers(peer, last_failure, last_error, consecutive_failures, circuit_until, failed)
						VALUES (?, ?, ?, 1, ?, 1)
						ON CONFLICT(peer) DO UPDATE SET last_failure = excluded.last_failure, last_error = excluded.last_error,
						consecutive_failures = consecutive_failures + 1,
						circuit_until = MAX(circuit_until, excluded.circuit_until), failed = failed + 1`,
						d.Peer, ms(o.At), o.Err, ms(o.CircuitUntil))
				}
			}
			if err != nil {
				return fmt.Errorf("delivery %d: %w", d.ID, err)
			}
		}
		for pid := range payloads {
			if _, err := tx.ExecContext(ctx, `DELETE FROM payloads WHERE id = ? AND NOT EXISTS
				(SELECT 1 FROM deliveries WHERE payload_id = ?)`, pid, pid); err != nil {
				return err
			}
		}
		return nil
	})
}

// Deliveries implements store.Queue.
func (db *DB) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	q := `SELECT ` + deliveryCols + ` FROM deliveries d JOIN payloads p ON p.id = d.payload_id WHERE 1=1`
	var args []any
	if f.State != "" {
		q += ` AND d.state = ?`
		args = append(args, f.State)
	}
	if f.Peer != "" {
		q += ` AND d.peer = ?`
		args = append(args, f.Peer)
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	q += ` ORDER BY d.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RetryDead implements store.Queue.
func (db *DB) RetryDead(ctx context.Context, ids []int64, now time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		q := `UPDATE deliveries SET state = 'retrying', next_at = ?, lease_until = 0 WHERE state = 'dead'`
		args := []any{ms(now)}
		if len(ids) > 0 {
			q += ` AND id IN (?` + strings.Repeat(`, ?`, len(ids)-1) + `)`
			for _, id := range ids {
				args = append(args, id)
			}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// QueueDepth implements store.Queue.
func (db *DB) QueueDepth(ctx context.Context) (map[store.DeliveryState]int, error) {
	out := map[store.DeliveryState]int{store.Queued: 0, store.Retrying: 0, store.Dead: 0}
	rows, err := db.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM deliveries GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s store.DeliveryState
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
