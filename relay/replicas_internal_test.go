package relay

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/postgres"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
)

// newOnPostgres builds a Server (not started) on a fresh PostgreSQL
// database and returns it with the database's URL.
func newOnPostgres(t *testing.T) (*Server, string) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.Server(t).Database(t, "replica")
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Defaults()
	cfg.PublicURL, cfg.DataDir, cfg.AllowPrivateNetworks = "http://127.0.0.1:9", t.TempDir(), true
	s, err := New(ctx, cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s, dsn
}

// Audit ids are taken when an entry is written and committed in any
// order: a change whose entry commits after a later one's is still seen
// by the change poll (found by review: the poll kept only the newest id).
func TestChangePollSeesLateCommits(t *testing.T) {
	s, dsn := newOnPostgres(t)
	ctx := context.Background()
	if err := s.repl.poll(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Replica 1 sets the approval mode: its entry takes the next id...
	slow, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback()
	for _, q := range []string{
		`INSERT INTO audit(at, who, what, subject) VALUES (1, 'op', 'approval.set', 'manual')`,
		`INSERT INTO settings(name, value) VALUES ('` + settingApproval + `', 'manual')`,
	} {
		if _, err := slow.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// ... replica 2's change takes the one after and commits first.
	if err := s.store.SetSetting(ctx, "unrelated", "x", store.AuditEntry{Who: "op", What: "setting.set", Subject: "unrelated"}); err != nil {
		t.Fatal(err)
	}
	if err := s.repl.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.repl.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := *s.approval.Load(); got != ApproveManual {
		t.Errorf("approval = %s after replica 1's change committed; the poll missed it", got)
	}
}
