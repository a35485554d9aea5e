package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Errors of backups and restores, matched with errors.Is.
var (
	// ErrExists: the backup file, or a store in the restore's data
	// directory, is already there; nothing is overwritten.
	ErrExists = errors.New("already exists")
	// ErrNotBackup: the file is not a runrig store this version can use.
	ErrNotBackup = errors.New("not a runrig backup")
)

// Backup writes a consistent copy of the store to path while the store is
// in use (SQLite's VACUUM INTO: one read transaction, writers go on). The
// file must not exist; it is created 0600.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup %s: %w", path, ErrExists)
	}
	if _, err := db.r.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}

// Restore puts a backup in place as the store of data directory dir,
// which must not hold a store yet. The backup is checked first: SQLite's
// integrity check, and a schema this version can migrate. The relay
// applies newer migrations when it next starts. progress, when not nil,
// hears the steps: "checking" (no count), then "copying" bytes.
func Restore(ctx context.Context, backup, dir string, progress func(step string, done, total int)) error {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	progress("checking", 0, 0)
	if err := checkBackup(ctx, backup); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	dst := filepath.Join(dir, FileName)
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s: a store %w; restore only into an empty data directory", dst, ErrExists)
	}
	in, err := os.Open(backup)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".restore"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	size := 0
	if fi, err := in.Stat(); err == nil {
		size = int(fi.Size())
	}
	progress("copying", 0, size)
	if _, err := io.Copy(&progressWriter{w: out, total: size, report: progress}, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := errors.Join(out.Sync(), out.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// progressWriter tells report how many bytes went through it.
type progressWriter struct {
	w           io.Writer
	done, total int
	report      func(step string, done, total int)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += n
	p.report("copying", p.done, max(p.total, p.done))
	return n, err
}

// checkBackup opens a backup read-only and checks it.
func checkBackup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		return fmt.Errorf("%w: %s: integrity check: %v %s", ErrNotBackup, path, err, ok)
	}
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotBackup, path, err)
	}
	if v < 1 || v > SchemaVersion {
		return fmt.Errorf("%w: %s has schema version %d; this runrig reads 1 to %d", ErrNotBackup, path, v, SchemaVersion)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM settings`).Scan(&n); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotBackup, path, err)
	}
	return nil
}
