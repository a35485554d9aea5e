package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/runrig/runrig/relay/admin"
)

// backuper is a store that can copy itself consistently while in use.
type backuper interface {
	Backup(ctx context.Context, path string) error
}

// ErrNoBackup: the store cannot take online backups.
var ErrNoBackup = errors.New("this store cannot take online backups")

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

func (s *Server) adminBackup(w http.ResponseWriter, r *http.Request) {
	var req admin.BackupRequest
	if err := decodeAdmin(r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	n, err := s.Backup(r.Context(), req.Path)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	adminJSON(w, admin.BackupResult{Path: req.Path, Bytes: n})
}
