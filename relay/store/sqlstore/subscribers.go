package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/runrig/runrig/relay/store"
)

const subscriberCols = `slice, peer, actor, inbox, follow_id, style, state, follow_back_id, follow_back_state, software, created_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanSubscriber(row scanner, extra ...any) (store.Subscriber, error) {
	var s store.Subscriber
	var created, updated int64
	dest := append([]any{&s.Slice, &s.Peer, &s.Actor, &s.Inbox, &s.FollowID, &s.Style, &s.State,
		&s.FollowBackID, &s.FollowBackState, &s.Software, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return s, err
	}
	s.CreatedAt, s.UpdatedAt = fromMS(created), fromMS(updated)
	return s, nil
}

// Subscriber implements store.Subscribers.
func (db *DB) Subscriber(ctx context.Context, slice, peer string) (store.Subscriber, error) {
	s, err := scanSubscriber(db.r.QueryRowContext(ctx, `SELECT `+subscriberCols+` FROM subscribers WHERE slice = ? AND peer = ?`, slice, peer))
	if errors.Is(err, sql.ErrNoRows) {
		return s, store.ErrNotFound
	}
	return s, err
}

// SubscribersIn implements store.Subscribers.
func (db *DB) SubscribersIn(ctx context.Context, slice string, state store.SubscriptionState) ([]store.Subscriber, error) {
	rows, err := db.stmts.subscribersIn.QueryContext(ctx, slice, state)
	if err != nil {
		return nil, err
	}
	return scanSubscribers(rows)
}

// sqlSubscribersIn lists one slice's subscribers in one state: the
// fan-out's query, once per activity.
const sqlSubscribersIn = `SELECT ` + subscriberCols + ` FROM subscribers WHERE slice = ? AND state = ? ORDER BY peer`

// PeerSubscriptions implements store.Subscribers.
func (db *DB) PeerSubscriptions(ctx context.Context, peer string) ([]store.Subscriber, error) {
	return querySubscribers(ctx, db, `SELECT `+subscriberCols+` FROM subscribers WHERE peer = ? ORDER BY slice`, peer)
}

func querySubscribers(ctx context.Context, db *DB, query string, args ...any) ([]store.Subscriber, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanSubscribers(rows)
}

func scanSubscribers(rows *sql.Rows) ([]store.Subscriber, error) {
	defer rows.Close()
	var out []store.Subscriber
	for rows.Next() {
		s, err := scanSubscriber(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SubscriberStatuses implements store.Subscribers.
func (db *DB) SubscriberStatuses(ctx context.Context) ([]store.SubscriberStatus, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+subscriberCols+`,
		COALESCE(p.last_success, 0), COALESCE(p.last_failure, 0), COALESCE(p.last_error, ''),
		COALESCE(p.consecutive_failures, 0), COALESCE(p.circuit_until, 0),
		COALESCE(p.delivered, 0), COALESCE(p.failed, 0),
		(SELECT COUNT(*) FROM deliveries d WHERE d.peer = s.peer AND d.slice = s.slice AND d.state != 'dead'),
		(SELECT COUNT(*) FROM deliveries d WHERE d.peer = s.peer AND d.slice = s.slice AND d.state = 'dead')
		FROM subscribers s LEFT JOIN peers p USING (peer) ORDER BY s.peer, s.slice`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SubscriberStatus
	for rows.Next() {
		var st store.SubscriberStatus
		var ls, lf, cu int64
		h := &st.Health
		s, err := scanSubscriber(rows, &ls, &lf, &h.LastError, &h.ConsecutiveFailures, &cu,
			&h.Delivered, &h.Failed, &st.Queued, &st.Dead)
		if err != nil {
			return nil, err
		}
		st.Subscriber = s
		h.LastSuccess, h.LastFailure, h.CircuitUntil = fromMS(ls), fromMS(lf), fromMS(cu)
		out = append(out, st)
	}
	return out, rows.Err()
}

// SubscriberSummary implements store.Subscribers.
func (db *DB) SubscriberSummary(ctx context.Context, failingSince time.Time) (store.SubscriberSummary, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT s.state, COUNT(*), COALESCE(SUM(CASE WHEN
		COALESCE(p.consecutive_failures, 0) > 0 AND COALESCE(p.last_failure, 0) >= COALESCE(p.last_success, 0)
		AND (CASE WHEN COALESCE(p.last_success, 0) = 0 THEN s.created_at ELSE p.last_success END) < ? THEN 1 ELSE 0 END), 0)
		FROM subscribers s LEFT JOIN peers p USING (peer) GROUP BY s.state`, ms(failingSince))
	if err != nil {
		return store.SubscriberSummary{}, err
	}
	defer rows.Close()
	sum := store.SubscriberSummary{ByState: map[store.SubscriptionState]int{}}
	for rows.Next() {
		var state store.SubscriptionState
		var n, failing int
		if err := rows.Scan(&state, &n, &failing); err != nil {
			return sum, err
		}
		sum.ByState[state], sum.Failing = n, sum.Failing+failing
	}
	return sum, rows.Err()
}

func upsertSubscriber(ctx context.Context, tx *sql.Tx, s *store.Subscriber) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO subscribers (`+subscriberCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(slice, peer) DO UPDATE SET actor = excluded.actor, inbox = excluded.inbox,
		follow_id = excluded.follow_id, style = excluded.style, state = excluded.state,
		follow_back_id = excluded.follow_back_id, follow_back_state = excluded.follow_back_state,
		software = excluded.software, updated_at = excluded.updated_at`,
		s.Slice, s.Peer, s.Actor, s.Inbox, s.FollowID, s.Style, s.State, s.FollowBackID, s.FollowBackState,
		s.Software, ms(s.CreatedAt), ms(s.UpdatedAt))
	return err
}

// SetSoftware implements store.Subscribers.
func (db *DB) SetSoftware(ctx context.Context, peer, software string) error {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE subscribers SET software = ? WHERE peer = ?`, software, peer)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

func updateSubscriber(ctx context.Context, tx *sql.Tx, s *store.Subscriber) error {
	res, err := tx.ExecContext(ctx, `UPDATE subscribers SET actor = ?, inbox = ?, follow_id = ?, style = ?,
		state = ?, follow_back_id = ?, follow_back_state = ?, software = ?, updated_at = ? WHERE slice = ? AND peer = ?`,
		s.Actor, s.Inbox, s.FollowID, s.Style, s.State, s.FollowBackID, s.FollowBackState, s.Software,
		ms(s.UpdatedAt), s.Slice, s.Peer)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
