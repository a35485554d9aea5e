// Package pgtest gives tests a PostgreSQL database of their own on the
// server named by RUNRIG_TEST_POSTGRES (deploy/postgres/test-cluster.sh
// starts a throwaway one). Without it the tests skip, unless
// RUNRIG_REQUIRE_POSTGRES is set (as CI sets it), when they fail.
// RUNRIG_TEST_PGBOUNCER names a transaction-mode PgBouncer in front of
// that server, through which [Pooler]'s databases are reached.
package pgtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/runrig/runrig/relay/store/postgres"
)

// Env names the variable holding the test server's URL.
const Env = "RUNRIG_TEST_POSTGRES"

// PoolerEnv names the variable holding the URL of a transaction-mode
// PgBouncer in front of the test server.
const PoolerEnv = "RUNRIG_TEST_PGBOUNCER"

// Srv is a PostgreSQL server tests make databases on.
type Srv struct {
	url   string
	admin *sql.DB
	// front, when set, is the pooler's URL: databases are made on the
	// server and reached through it.
	front string

	// mu guards made.
	mu   sync.Mutex
	made map[string]string
}

// Server returns the test server, skipping (or failing, when
// RUNRIG_REQUIRE_POSTGRES is set) when there is none.
func Server(t testing.TB) *Srv {
	t.Helper()
	u := need(t, Env, "no PostgreSQL to test on (deploy/postgres/test-cluster.sh starts one)")
	admin, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PingContext(context.Background()); err != nil {
		t.Fatalf("test PostgreSQL at %s: %v", Env, err)
	}
	t.Cleanup(func() { admin.Close() })
	return &Srv{url: u, admin: admin, made: map[string]string{}}
}

// need returns the variable env, or skips the test saying why (fails it,
// when RUNRIG_REQUIRE_POSTGRES is set, as CI sets it).
func need(t testing.TB, env, why string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("RUNRIG_REQUIRE_POSTGRES") != "" {
			t.Fatalf("%s is not set: %s", env, why)
		}
		t.Skipf("%s is not set: %s", env, why)
	}
	return v
}

// Pooler returns the test server behind the transaction-mode PgBouncer,
// skipping or failing as Server does when there is none.
func Pooler(t testing.TB) *Srv {
	t.Helper()
	front := need(t, PoolerEnv, "no PgBouncer to test through (apt-get install pgbouncer; deploy/postgres/test-cluster.sh starts it)")
	s := Server(t)
	s.front = front
	return s
}

// Database returns the URL of a fresh database for key (a test's data
// directory, say): the same key gives the same database again, as a
// restarted relay finds its store. It is dropped when the test ends.
func (s *Srv) Database(t testing.TB, key string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.made[key]; ok {
		return u
	}
	sum := sha256.Sum256([]byte(t.Name() + "\x00" + key))
	name := "runrig_test_" + hex.EncodeToString(sum[:8])
	ctx := context.Background()
	if _, err := s.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	base := s.url
	if s.front != "" {
		base = s.front
	}
	pu, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	pu.Path = "/" + name
	if s.front != "" {
		q := pu.Query()
		k, v, _ := strings.Cut(postgres.PoolerParams, "=")
		q.Set(k, v)
		pu.RawQuery = q.Encode()
	}
	s.made[key] = pu.String()
	return pu.String()
}

// String names the server for messages.
func (s *Srv) String() string { return fmt.Sprintf("PostgreSQL at $%s", Env) }
