package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/postgres"
	"github.com/runrig/runrig/relay/store/sqlite"
	"github.com/runrig/runrig/relay/store/sqlstore"
)

// migrateStoreCmd: migrate-store --to URL [--data DIR] — moves a stopped
// SQLite relay's store into an empty PostgreSQL database.
func migrateStoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := os.Getenv("RUNRIG_DATA")
	if data == "" {
		data = "./data"
	}
	fs.StringVar(&data, "data", data, "data directory of the SQLite store to move (env RUNRIG_DATA)")
	to := fs.String("to", "", "PostgreSQL URL of an empty database to move it into (postgres://user:password@host/db)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 0 || *to == "" {
		fmt.Fprintln(stderr, "usage: runrig migrate-store --to postgres://user:password@host/db [--data DIR]")
		return 2
	}
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(data, sqlite.FileName)); err != nil {
		fmt.Fprintf(stderr, "runrig migrate-store: no store in %s: %v\n", data, err)
		return 1
	}
	src, err := sqlite.Open(ctx, data)
	if errors.Is(err, store.ErrLocked) {
		fmt.Fprintf(stderr, "runrig migrate-store: a relay is running on %s: stop it first, so that nothing changes while the store moves\n", data)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "runrig migrate-store:", err)
		return 1
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to)
	if err != nil {
		fmt.Fprintln(stderr, "runrig migrate-store:", err)
		return 1
	}
	defer dst.Close()
	start := time.Now()
	m := newMeter(stderr, "moving the store", false)
	copied, err := sqlstore.Copy(ctx, src.DB, dst.DB, sqlstore.CopyProgress{
		Table: func(c sqlstore.Copied) {
			m.Done()
			fmt.Fprintf(stdout, "  %-20s %7d rows\n", c.Table, c.Rows)
		},
		Rows: func(done, total int) {
			m.Report(admin.Progress{Step: "copying", Done: done, Total: total, Unit: "rows"})
		},
	})
	m.Done()
	if err != nil {
		fmt.Fprintln(stderr, "runrig migrate-store: nothing was moved:", err)
		return 1
	}
	total := 0
	for _, c := range copied {
		total += c.Rows
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "moved %s rows in %d tables from %s to PostgreSQL %s in %s%s; every table's count checked.\n"+
		"Start the relay (and any replicas) with --database set to that URL; keep %s as a backup until you are sure.\n",
		grouped(total), len(copied), data, postgres.Describe(*to), took.Round(time.Millisecond), rateOf(total, "rows", took), data)
	return 0
}
