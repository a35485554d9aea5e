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
	"github.com/runrig/runrig/relay/settings"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// backupTimeout bounds one backup.
const backupTimeout = 30 * time.Minute

// dataFlag adds --data, defaulting to RUNRIG_DATA or ./data.
func dataFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("RUNRIG_DATA")
	if def == "" {
		def = "./data"
	}
	return fs.String("data", def, "data directory (env RUNRIG_DATA)")
}

// backupCmd: backup FILE [--data DIR] — a consistent copy of the store,
// taken by the running relay, or directly when none runs.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: runrig backup FILE [--data DIR]")
		return 2
	}
	path, err := filepath.Abs(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "runrig backup:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), backupTimeout)
	defer cancel()
	how := "from the running relay"
	c, err := admin.Dial(*data)
	if err == nil {
		_, err = c.Backup(ctx, path)
	}
	if errors.Is(err, admin.ErrNotRunning) {
		how = "from the store (no relay running)"
		err = backupOffline(ctx, *data, path)
	}
	if err != nil {
		fmt.Fprintln(stderr, "runrig backup:", err)
		return 1
	}
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Fprintln(stderr, "runrig backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes), %s\n", *data, path, fi.Size(), how)
	return 0
}

// backupOffline opens the store (locking it against a relay starting
// meanwhile) and backs it up.
func backupOffline(ctx context.Context, dir, path string) error {
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		return fmt.Errorf("no store in %s: %w", dir, err)
	}
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Backup(ctx, path)
}

// restoreCmd: restore FILE [--data DIR] — a backup into an empty data
// directory.
func restoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: runrig restore FILE [--data DIR]")
		return 2
	}
	if err := sqlite.Restore(context.Background(), pos[0], *data); err != nil {
		fmt.Fprintln(stderr, "runrig restore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s into %s; start the relay with: runrig serve --data %s\n", pos[0], *data, *data)
	return 0
}

// configCmd: config example | config check FILE.
func configCmd(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && args[0] == "example":
		if err := settings.Example(stdout); err != nil {
			fmt.Fprintln(stderr, "runrig config example:", err)
			return 1
		}
		return 0
	case len(args) == 2 && args[0] == "check":
		if _, err := settings.Check(args[1]); err != nil {
			fmt.Fprintln(stderr, "runrig config check:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s is valid\n", args[1])
		return 0
	}
	fmt.Fprintln(stderr, "usage: runrig config example | runrig config check FILE")
	return 2
}
