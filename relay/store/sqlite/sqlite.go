// Package sqlite implements store.Store on an embedded SQLite database
// (pure Go, no cgo) in the relay's data directory. One process owns a data
// directory at a time; a lock file enforces it.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/sqlstore"
)

// FileName is the database file inside the data directory.
const FileName = "runrig.db"

// DB is a store.Store backed by SQLite.
type DB struct {
	*sqlstore.DB
	w, r *sql.DB
	lock *os.File
}

// dialect is SQLite's: one writer, so claims need no locking of their
// own, and one process, so no other replica to tell of changes.
var dialect = sqlstore.Dialect{Name: "sqlite", Greatest: "MAX"}

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
	fail := func(err error) (*DB, error) {
		r.Close()
		w.Close()
		lock.Close()
		return nil, err
	}
	if err := migrate(ctx, w); err != nil {
		return fail(err)
	}
	// The lock file proves no other process uses this store: whatever
	// the last one leased, and the replicas it recorded, are gone.
	if _, err := w.ExecContext(ctx, `UPDATE deliveries SET lease_until = 0, lease_owner = '' WHERE lease_until != 0 OR lease_owner != '';
		DELETE FROM replicas; DELETE FROM leases`); err != nil {
		return fail(fmt.Errorf("release leases: %w", err))
	}
	inner, err := sqlstore.New(ctx, w, r, dialect)
	if err != nil {
		return fail(err)
	}
	return &DB{DB: inner, w: w, r: r, lock: lock}, nil
}

// Close closes the database and releases the lock.
func (db *DB) Close() error {
	err := db.DB.Close()
	db.lock.Close()
	return err
}

// SchemaVersion returns the applied schema version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.r.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
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
