// Package sqlite implements store.Store on an embedded SQLite database
// (pure Go, no cgo) in the relay's data directory. One process owns a data
// directory at a time; a lock file enforces it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/runrig/runrig/relay/store"
)

// FileName is the database file inside the data directory.
const FileName = "runrig.db"

// DB is a store.Store backed by SQLite.
type DB struct {
	w    *sql.DB // one connection: SQLite has one writer
	r    *sql.DB // readers, concurrent with the writer under WAL
	lock *os.File

	// stmts are the hot statements, parsed once.
	stmts statements
}

// statements are the hot statements of the delivery path and the
// fan-out, parsed once: the queue's on the writer, the subscriber list on
// the readers.
type statements struct {
	retry, deferDelivery, peerHealth, dropPayload *sql.Stmt
	insertPayload                                 *sql.Stmt
	// insertDeliveries[i] and insertDeliveriesSub[i] insert
	// insertBatches[i] rows.
	insertDeliveries, insertDeliveriesSub []*sql.Stmt
	// subscribersIn is on the readers.
	subscribersIn *sql.Stmt
}

// Hot statements of the delivery path.
const (
	sqlRetry = `UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?,
		lease_until = 0, last_error = ? WHERE id = ?`
	sqlDefer = `UPDATE deliveries SET next_at = ?, lease_until = 0 WHERE id = ?`
	// sqlPeerHealth folds one batch's tally into a peer's health. A batch
	// with a success resets the failure streak to the failures after it.
	sqlPeerHealth = `INSERT INTO peers(peer, last_success, last_failure, last_error, consecutive_failures,
		circuit_until, delivered, failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
		ON CONFLICT(peer) DO UPDATE SET
		last_success = MAX(last_success, excluded.last_success),
		last_failure = MAX(last_failure, excluded.last_failure),
		last_error = CASE WHEN excluded.last_failure > 0 THEN excluded.last_error ELSE last_error END,
		consecutive_failures = CASE WHEN excluded.delivered > 0 THEN excluded.consecutive_failures
			ELSE consecutive_failures + excluded.consecutive_failures END,
		circuit_until = CASE WHEN excluded.delivered > 0 AND excluded.consecutive_failures = 0 THEN 0
			ELSE MAX(circuit_until, excluded.circuit_until) END,
		delivered = delivered + excluded.delivered, failed = failed + excluded.failed`
	sqlDropPayload = `DELETE FROM payloads WHERE id = ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE payload_id = ?)`
)

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the store in dir, locks it against other
// processes, applies pending migrations and releases leases left by a
// previous process.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "runrig.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s", store.ErrLocked, dir)
	}
	path := filepath.Join(dir, FileName)
	// The store holds the actor's private key and the DHT identity: only
	// its owner may read it, whatever the umask or the data dir's mode.
	// SQLite gives its -wal and -shm files the database's permissions.
	if err := privateFile(path); err != nil {
		lock.Close()
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		lock.Close()
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		lock.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	db := &DB{w: w, r: r, lock: lock}
	if err := migrate(ctx, w); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := w.ExecContext(ctx, `UPDATE deliveries SET lease_until = 0 WHERE lease_until != 0`); err != nil {
		db.Close()
		return nil, fmt.Errorf("release leases: %w", err)
	}
	if err := db.stmts.prepare(ctx, db.w, db.r); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// prepare parses the hot statements once: the queue's (on the writer)
// and the fan-out's subscriber list (on the readers).
func (st *statements) prepare(ctx context.Context, w, r *sql.DB) error {
	for _, p := range []struct {
		on   *sql.DB
		stmt **sql.Stmt
		sql  string
	}{{w, &st.retry, sqlRetry}, {w, &st.deferDelivery, sqlDefer}, {w, &st.peerHealth, sqlPeerHealth},
		{w, &st.dropPayload, sqlDropPayload}, {w, &st.insertPayload, sqlInsertPayload},
		{r, &st.subscribersIn, sqlSubscribersIn}} {
		var err error
		if *p.stmt, err = p.on.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	for _, n := range insertBatches {
		for _, sub := range []bool{false, true} {
			stmt, err := w.PrepareContext(ctx, sqlInsertDeliveries(n, sub))
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

// Close closes the database and releases the lock.
func (db *DB) Close() error {
	err := errors.Join(db.r.Close(), db.w.Close())
	db.lock.Close()
	return err
}

// SchemaVersion returns the applied schema version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.r.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
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

// privateFile creates path with mode 0600 if it is missing, and takes
// read and write away from group and others if it is there.
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("store file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(fi.Mode().Perm() &^ 0o077); err != nil {
			return fmt.Errorf("store file: %w", err)
		}
	}
	return nil
}
