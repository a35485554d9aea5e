// Package sqlstore implements store.Store in SQL that SQLite and
// PostgreSQL both run: the sqlite and postgres packages open a database,
// migrate its schema and hand it here with the [Dialect] that says how
// the two differ. Queries are written once, with ? placeholders (the
// postgres package's driver numbers them).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// Dialect is what differs between the databases the store runs on.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Greatest is the scalar maximum of two values: MAX in SQLite,
	// GREATEST in PostgreSQL.
	Greatest string
	// ClaimLock ends the claim's selection of due rows: on PostgreSQL
	// "FOR UPDATE SKIP LOCKED", so that replicas claiming at once skip
	// each other's rows instead of waiting for them.
	ClaimLock string
	// ShareLock ends a fan-out's look at the subscriptions it delivers to
	// (PostgreSQL: "FOR SHARE"): a subscription ended by another
	// transaction meanwhile is then seen ended, or its end waits for the
	// fan-out and removes what it queued. Unset with one writer.
	ShareLock string
	// SerializeClaims, when set, runs first in every claim's transaction
	// and holds until it ends, so that claims by several replicas take
	// turns (PostgreSQL: a transaction-level advisory lock). A peer's
	// deliveries are then leased by one replica at a time, and the
	// per-peer concurrency limit holds across replicas.
	SerializeClaims string
	// Hash, when set, names a function hashing text to an integer
	// (PostgreSQL: hashtext), with which claims split the peers among
	// the replicas ([store.ClaimRequest.Shards]). Unset (SQLite, one
	// process): the claimer takes any peer.
	Hash string
	// Clock, when set, is a query for the database's clock in
	// milliseconds since 1970 (PostgreSQL: clock_timestamp()). Unset,
	// the process's clock is the store's (SQLite: one process).
	Clock string
	// Notify, when set, tells other replicas of a change, inside the
	// transaction that makes it (PostgreSQL: pg_notify, sent on commit).
	Notify func(ctx context.Context, tx *sql.Tx, topic store.Topic, payload string) error
}

// DB is a store.Store on a SQL database.
type DB struct {
	w *sql.DB // writes (SQLite: its one writer connection)
	r *sql.DB // reads
	d Dialect

	// stmts are the hot statements, parsed once.
	stmts statements
}

// statements are the hot statements of the delivery path and the
// fan-out, parsed once: the queue's on the writer, the subscriber list on
// the readers.
type statements struct {
	retry, deferDelivery, dropPayload *sql.Stmt
	insertPayload                     *sql.Stmt
	// insertDeliveries[i] and insertDeliveriesSub[i] insert
	// insertBatches[i] rows.
	insertDeliveries, insertDeliveriesSub []*sql.Stmt
	// subscribersIn is on the readers.
	subscribersIn *sql.Stmt
	// peerHealth[i] folds healthBatches[i] peers' tallies.
	peerHealth []*sql.Stmt
}

// healthBatches are the peers per statement of a batch's health update,
// largest first: a batch's outcomes for 250 peers are 5 statements, not
// 250.
var healthBatches = []int{64, 16, 4, 1}

// Hot statements of the delivery path. Only the owner of a lease records
// its outcome: a delivery whose lease expired and went to another replica
// is that replica's to record.
const (
	sqlRetry = `UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?,
		lease_until = 0, lease_owner = '', last_error = ? WHERE id = ? AND lease_owner = ?`
	sqlDefer = `UPDATE deliveries SET next_at = ?, lease_until = 0, lease_owner = '' WHERE id = ? AND lease_owner = ?`
	// sqlPeerHealth folds one batch's tally into a peer's health. A batch
	// with a success resets the failure streak to the failures after it.
	// %[1]s is the dialect's Greatest.
	// %[2]s are the rows, one per peer.
	sqlPeerHealth = `INSERT INTO peers(peer, last_success, last_failure, last_error, consecutive_failures,
		circuit_until, delivered, failed) VALUES %[2]s
		ON CONFLICT(peer) DO UPDATE SET
		last_success = %[1]s(peers.last_success, excluded.last_success),
		last_failure = %[1]s(peers.last_failure, excluded.last_failure),
		last_error = CASE WHEN excluded.last_failure > 0 THEN excluded.last_error ELSE peers.last_error END,
		consecutive_failures = CASE WHEN excluded.delivered > 0 THEN excluded.consecutive_failures
			ELSE peers.consecutive_failures + excluded.consecutive_failures END,
		circuit_until = CASE WHEN excluded.delivered > 0 AND excluded.consecutive_failures = 0 THEN 0
			ELSE %[1]s(peers.circuit_until, excluded.circuit_until) END,
		delivered = peers.delivered + excluded.delivered, failed = peers.failed + excluded.failed`
	sqlDropPayload = `DELETE FROM payloads WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE payload_id = ?1)`
)

var _ store.Store = (*DB)(nil)

// New returns the store on a migrated database: w for writes, r for
// reads (they may be the same). It parses the hot statements.
func New(ctx context.Context, w, r *sql.DB, d Dialect) (*DB, error) {
	db := &DB{w: w, r: r, d: d}
	if err := db.stmts.prepare(ctx, d, db.w, db.r); err != nil {
		return nil, err
	}
	return db, nil
}

// prepare parses the hot statements once: the queue's (on the writer)
// and the fan-out's subscriber list (on the readers).
func (st *statements) prepare(ctx context.Context, d Dialect, w, r *sql.DB) error {
	for _, p := range []struct {
		on   *sql.DB
		stmt **sql.Stmt
		sql  string
	}{{w, &st.retry, sqlRetry}, {w, &st.deferDelivery, sqlDefer},
		{w, &st.dropPayload, sqlDropPayload}, {w, &st.insertPayload, sqlInsertPayload},
		{r, &st.subscribersIn, sqlSubscribersIn}} {
		var err error
		if *p.stmt, err = p.on.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	for _, n := range healthBatches {
		rows := `(?, ?, ?, ?, ?, ?, ?, ?)` + strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?, ?)`, n-1)
		stmt, err := w.PrepareContext(ctx, fmt.Sprintf(sqlPeerHealth, d.Greatest, rows))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		st.peerHealth = append(st.peerHealth, stmt)
	}
	for _, n := range insertBatches {
		for _, sub := range []bool{false, true} {
			stmt, err := w.PrepareContext(ctx, sqlInsertDeliveries(n, sub, d.ShareLock))
			if err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
			if sub {
				st.insertDeliveriesSub = append(st.insertDeliveriesSub, stmt)
			} else {
				st.insertDeliveries = append(st.insertDeliveries, stmt)
			}
		}
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.r == db.w {
		return db.w.Close()
	}
	return errors.Join(db.r.Close(), db.w.Close())
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// tx runs fn in a write transaction.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// notify tells other replicas of a change made in tx, on databases that
// carry such news.
func (db *DB) notify(ctx context.Context, tx *sql.Tx, topic store.Topic, payload string) error {
	if db.d.Notify == nil {
		return nil
	}
	return db.d.Notify(ctx, tx, topic, payload)
}

// Setting implements store.Settings.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	return v, err
}

// SetSetting implements store.Settings.
func (db *DB) SetSetting(ctx context.Context, name, value string, audit store.AuditEntry) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings(name, value) VALUES (?, ?)
			ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
			return err
		}
		if err := db.notify(ctx, tx, store.TopicSettings, name); err != nil {
			return err
		}
		return appendAudit(ctx, tx, []store.AuditEntry{audit})
	})
}

// InitSetting implements store.Settings.
func (db *DB) InitSetting(ctx context.Context, name, value string) (string, error) {
	var v string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings(name, value) VALUES (?, ?) ON CONFLICT(name) DO NOTHING`, name, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	})
	return v, err
}

// Prune implements store.Store.
func (db *DB) Prune(ctx context.Context, before, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM seen WHERE seen_at < ?`, ms(before)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM listings WHERE end_at <= ?`, ms(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signature_memory WHERE until <= ?`, ms(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM payloads WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.payload_id = payloads.id)`)
		return err
	})
}

// foldHealth folds a batch's tallies into the peers' health, several peers
// per statement, in the order of their names (so that replicas recording
// at once lock peers' rows in the same order).
func (st *statements) foldHealth(ctx context.Context, tx *sql.Tx, tallies map[string]*peerTally) error {
	peers := make([]string, 0, len(tallies))
	for p := range tallies {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	for len(peers) > 0 {
		i := 0
		for healthBatches[i] > len(peers) {
			i++
		}
		n := healthBatches[i]
		args := make([]any, 0, 8*n)
		for _, p := range peers[:n] {
			t := tallies[p]
			args = append(args, p, ms(t.lastSuccess), ms(t.lastFailure), t.lastError, t.failStreak, ms(t.circuitUntil),
				t.delivered, t.failed)
		}
		if _, err := tx.StmtContext(ctx, st.peerHealth[i]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("peer health: %w", err)
		}
		peers = peers[n:]
	}
	return nil
}
