// Package postgres opens the store on a PostgreSQL database that several
// relay processes (replicas) may share. The queries are the sqlstore
// package's; this package adds PostgreSQL's schema, a driver that numbers
// placeholders, claims that skip each other's rows, and changes told to
// every replica with LISTEN/NOTIFY.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/sqlstore"
)

// PoolerParams is what a database URL needs behind a transaction-mode
// pooler (PgBouncer's pool_mode = transaction): statements sent unnamed,
// as a named one lives on one server connection and the pooler hands each
// transaction another.
const PoolerParams = "default_query_exec_mode=exec"

// Limits of the connection pool and the change channel.
const (
	// maxConns bounds one replica's connections; the database's
	// max_connections must cover every replica's (default 100).
	maxConns = 16
	// connectTimeout bounds each connection attempt.
	connectTimeout = 10 * time.Second
	// channel is the LISTEN/NOTIFY channel of changes.
	channel = "runrig_changes"
	// claimLock is the advisory lock key claims take in turn.
	claimLock = 0x72756e72696763 // "runrigc"
)

// DB is a store.Store on PostgreSQL.
type DB struct {
	*sqlstore.DB
	pool *sql.DB
	cfg  pgx.ConnConfig
}

var (
	_ store.Store   = (*DB)(nil)
	_ store.Watcher = (*DB)(nil)
)

// dialect is PostgreSQL's: claims lock the rows they take and skip rows
// others hold, take turns (so one replica serves a peer at a time), and
// changes are told to every replica on commit.
var dialect = sqlstore.Dialect{
	Name:            "postgres",
	Greatest:        "GREATEST",
	ClaimLock:       "FOR UPDATE SKIP LOCKED",
	ShareLock:       "FOR SHARE",
	Hash:            "hashtext",
	Clock:           "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
	SerializeClaims: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(claimLock)),
	Notify: func(ctx context.Context, tx *sql.Tx, topic store.Topic, payload string) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_notify('`+channel+`', ?)`, string(topic)+" "+payload)
		return err
	},
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), applies pending migrations and returns the store. Unlike
// SQLite's, it releases no leases: other replicas may hold them.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err) // pgx leaves the password out
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "runrig"
	}
	pool := sql.OpenDB(connector{inner: stdlib.GetConnector(*cfg),
		unnamed: cfg.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement})
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", Describe(dsn), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	inner, err := sqlstore.New(ctx, pool, pool, dialect)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{DB: inner, pool: pool, cfg: *cfg}, nil
}

// SchemaVersion returns the applied schema version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.pool.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}

// Watch implements store.Watcher: it listens on a connection of its own
// and calls f for every change a replica (this one included) commits,
// until ctx ends or the connection fails.
func (db *DB) Watch(ctx context.Context, f func(store.Event)) error {
	cfg := db.cfg.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listening for changes: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listening for changes: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listening for changes: %w", err)
		}
		topic, payload, _ := strings.Cut(n.Payload, " ")
		f(store.Event{Topic: store.Topic(topic), Payload: payload})
	}
}

// Describe names the database of dsn for logs and errors, without its
// password: user@host:port/database.
func Describe(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "(an unreadable database URL)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
