package relay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// backuper is a store that can copy itself consistently while in use.
type backuper interface {
	Backup(ctx context.Context, path string) error
}

// ErrNoBackup: the store cannot take online backups.
var ErrNoBackup = errors.New("this store cannot take online backups: back PostgreSQL up with pg_dump (docs/scaling.md)")

// Backup writes a consistent copy of the store to path (absolute; it must
// not exist) while the relay runs.
func (s *Server) Backup(ctx context.Context, path string) (int64, error) {
	b, ok := s.store.(backuper)
	if !ok {
		return 0, ErrNoBackup
	}
	if !filepath.IsAbs(path) {
		return 0, fmt.Errorf("backup path %q must be absolute", path)
	}
	if err := b.Backup(ctx, path); err != nil {
		return 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	s.log.Info("store backed up", "path", path, "bytes", fi.Size())
	return fi.Size(), nil
}
