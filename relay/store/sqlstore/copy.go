package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// copyTables are the tables a store moves with, parents before children.
// Replicas and singleton leases are not moved: they belong to processes.
var copyTables = []string{
	"settings", "seen", "subscribers", "peers", "payloads", "deliveries", "listings", "listing_regions",
	"listing_products", "rules", "audit", "peer_trust", "list_subscriptions", "pinned_keys", "endorsements",
	"relay_follows", "moderators", "moderator_setups", "console_sessions", "signature_memory", "bridges",
	"bridge_items",
}

// identityTables have ids the destination numbers from: after the copy its
// sequences continue after the largest id copied, so ids are never reused.
var identityTables = []string{"payloads", "deliveries", "rules", "audit", "endorsements"}

// ErrNotEmpty: the destination of a copy already holds a relay.
var ErrNotEmpty = errors.New("the destination store is not empty")

// copyBatch is how many rows one INSERT of a copy carries.
const copyBatch = 100

// Copied is how many rows of each table a copy moved, in copy order.
type Copied struct {
	Table string
	Rows  int
}

// CopyProgress hears how far a copy is; either field may be nil.
type CopyProgress struct {
	// Table is told of each table as it is done.
	Table func(Copied)
	// Rows is told how many rows of all tables are copied of how many,
	// after every batch.
	Rows func(done, total int)
}

// Copy copies everything db holds into dst, which must be empty, in one
// transaction of dst's, and checks that every table has as many rows on
// both sides. Deliveries arrive unleased. progress hears how far it is.
// db should not change meanwhile (SQLite: the relay is stopped, the store
// locked by the copy).
func Copy(ctx context.Context, db, dst *DB, progress CopyProgress) ([]Copied, error) {
	var out []Copied
	rows := &rowCount{report: progress.Rows}
	if rows.report != nil {
		for _, t := range copyTables {
			var n int
			if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
				return nil, fmt.Errorf("%s: %w", t, err)
			}
			rows.total += n
		}
	}
	err := dst.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range copyTables {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			if n > 0 {
				return fmt.Errorf("%w: its table %s has %d rows; copy only into a new database", ErrNotEmpty, t, n)
			}
		}
		for _, t := range copyTables {
			n, err := copyTable(ctx, db, tx, t, rows)
			if err != nil {
				return fmt.Errorf("copying %s: %w", t, err)
			}
			c := Copied{Table: t, Rows: n}
			out = append(out, c)
			if progress.Table != nil {
				progress.Table(c)
			}
		}
		if dst.d.Name == "postgres" {
			for _, t := range identityTables {
				used := int64(0) // ids never reused: a removed rule's too
				if t == "rules" && db.d.Name == "sqlite" {
					err := db.r.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'rules'`).Scan(&used)
					if err != nil && !errors.Is(err, sql.ErrNoRows) { // no row: no rule was ever made
						return fmt.Errorf("rule ids used: %w", err)
					}
				}
				if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t+`', 'id'),
					GREATEST(COALESCE((SELECT MAX(id) FROM `+t+`), 0), ?) + 1, false)`, used); err != nil {
					return fmt.Errorf("%s ids: %w", t, err)
				}
			}
		}
		return verifyCopy(ctx, tx, out)
	})
	return out, err
}

// verifyCopy counts the destination's rows within the copy's transaction.
func verifyCopy(ctx context.Context, tx *sql.Tx, copied []Copied) error {
	for _, c := range copied {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+c.Table).Scan(&n); err != nil {
			return err
		}
		if n != c.Rows {
			return fmt.Errorf("%s: copied %d rows but the destination holds %d", c.Table, c.Rows, n)
		}
	}
	return nil
}

// rowCount counts the rows a copy moved for its progress report.
type rowCount struct {
	done, total int
	report      func(done, total int)
}

func (c *rowCount) add(n int) {
	if c.report != nil {
		c.done += n
		c.report(c.done, max(c.total, c.done))
	}
}

// copyTable copies one table's rows into tx, in batches.
func copyTable(ctx context.Context, db *DB, tx *sql.Tx, table string, count *rowCount) (int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	row := `(?` + strings.Repeat(`, ?`, len(cols)-1) + `)`
	insert := func(args []any) error {
		q := `INSERT INTO ` + table + `(` + strings.Join(cols, ", ") + `) VALUES ` +
			row + strings.Repeat(`, `+row, len(args)/len(cols)-1)
		_, err := tx.ExecContext(ctx, q, args...)
		if err == nil {
			count.add(len(args) / len(cols))
		}
		return err
	}
	n := 0
	batch := make([]any, 0, copyBatch*len(cols))
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if table == "deliveries" {
			unlease(cols, vals)
		}
		batch = append(batch, vals...)
		n++
		if len(batch) == cap(batch) {
			if err := insert(batch); err != nil {
				return n, err
			}
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if len(batch) > 0 {
		return n, insert(batch)
	}
	return n, nil
}

// unlease clears a copied delivery's lease: the processes that held
// leases do not move with the store.
func unlease(cols []string, vals []any) {
	for i, c := range cols {
		switch c {
		case "lease_until":
			vals[i] = int64(0)
		case "lease_owner":
			vals[i] = ""
		}
	}
}
