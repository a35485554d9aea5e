package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// The store's queries are written once for SQLite and PostgreSQL, with ?
// placeholders (?N for a numbered one) and 0 and 1 for booleans. This
// file's connector hands pgx what PostgreSQL expects: $N placeholders and
// booleans as integers.

// connector wraps pgx's connector so that every connection it makes
// rewrites placeholders.
type connector struct {
	inner driver.Connector
	// unnamed makes the store's prepared statements client-side: each
	// execution sends its SQL, as behind a transaction-mode pooler it
	// must (a statement prepared on one server connection is unknown to,
	// or already exists on, the next the pooler hands out).
	unnamed bool
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := cn.(pgxConn)
	if !ok {
		cn.Close()
		return nil, fmt.Errorf("postgres: the pgx connection %T lacks a method the store needs", cn)
	}
	return conn{pc, c.unnamed}, nil
}

func (c connector) Driver() driver.Driver { return c.inner.Driver() }

// pgxConn is what pgx's database/sql connection implements.
type pgxConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
}

// conn is a pgx connection whose queries are rebound.
type conn struct {
	pgxConn
	unnamed bool // see connector
}

func (c conn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if c.unnamed {
		return unpreparedStmt{c, q}, nil
	}
	st, err := c.pgxConn.PrepareContext(ctx, rebind(q))
	return st, poolerHint(err)
}

// unpreparedStmt is a statement kept on the client: each execution sends
// its SQL with the arguments, in the URL's query execution mode.
type unpreparedStmt struct {
	c conn
	q string
}

func (s unpreparedStmt) Close() error  { return nil }
func (s unpreparedStmt) NumInput() int { return -1 }

func (s unpreparedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.q, args)
}

func (s unpreparedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.q, args)
}

func (s unpreparedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s unpreparedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

// named numbers positional arguments as database/sql does.
func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}

func (c conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.pgxConn.ExecContext(ctx, rebind(q), args)
	return res, poolerHint(err)
}

func (c conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.pgxConn.QueryContext(ctx, rebind(q), args)
	return rows, poolerHint(err)
}

// poolerHint says what to do when err is a named prepared statement
// meeting the wrong server connection: the database is reached through a
// transaction-mode pooler, which hands each transaction another one.
func poolerHint(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P05" || pe.Code == "26000") {
		return fmt.Errorf("%w (behind a transaction-mode pooler such as PgBouncer, add %s to the database URL: docs/scaling.md)",
			err, PoolerParams)
	}
	return err
}

// CheckNamedValue passes every argument on as pgx would, but booleans
// become 0 and 1: the schema keeps flags in integer columns, as SQLite's
// does.
func (c conn) CheckNamedValue(nv *driver.NamedValue) error {
	if s, ok := nv.Value.(string); ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
		// PostgreSQL's text holds neither: the write would fail whole.
		nv.Value = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if b, ok := nv.Value.(bool); ok {
		nv.Value = int64(0)
		if b {
			nv.Value = int64(1)
		}
	}
	return nil
}

// rebind turns ? and ?N placeholders into PostgreSQL's $N. A bare ? takes
// the number after the largest used so far, as in SQLite. Quoted strings
// and identifiers are left alone.
func rebind(q string) string {
	if !strings.ContainsRune(q, '?') {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	highest := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '\'', '"':
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n := highest + 1
			if j > i+1 {
				n, _ = strconv.Atoi(q[i+1 : j])
			}
			highest = max(highest, n)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
