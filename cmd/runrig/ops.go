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

// fileAndData parses `NAME FILE [--data DIR]`; ok is false after a usage
// error (already reported).
func fileAndData(name string, args []string, stderr io.Writer) (file, data string, ok bool) {
	fs := flag.NewFlagSet("runrig "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data = os.Getenv("RUNRIG_DATA")
	if data == "" {
		data = "./data"
	}
	fs.StringVar(&data, "data", data, "data directory (env RUNRIG_DATA)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", "", false
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "usage: runrig %s FILE [--data DIR]\n", name)
		return "", "", false
	}
	return pos[0], data, true
}

// backupCmd: backup FILE [--data DIR] — a consistent copy of the store,
// taken by the running relay, or directly when none runs.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	file, data, ok := fileAndData("backup", args, stderr)
	if !ok {
		return 2
	}
	path, err := filepath.Abs(file)
	if err != nil {
		fmt.Fprintln(stderr, "runrig backup:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), backupTimeout)
	defer cancel()
	start := time.Now()
	stop := watchBackup(newMeter(stderr, "backing up "+data, false), filepath.Join(data, sqlite.FileName), path)
	how := "from the running relay"
	c, err := admin.Dial(data)
	if err == nil {
		_, err = c.Backup(ctx, path)
	}
	if errors.Is(err, admin.ErrNotRunning) {
		how = "from the store (no relay running)"
		err = backupOffline(ctx, data, path)
	}
	stop()
	if err != nil {
		fmt.Fprintln(stderr, "runrig backup:", err)
		return 1
	}
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Fprintln(stderr, "runrig backup:", err)
		return 1
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "backed up %s to %s (%s in %s), %s\n", data, path, byteSize(int(fi.Size())), took.Round(time.Millisecond), how)
	return 0
}

// backupPoll is how often a backup's progress is read from its file.
const backupPoll = 100 * time.Millisecond

// watchBackup shows a backup's progress on m: the bytes its file holds of
// about as many as the store's files (SQLite writes the copy as it goes;
// the copy leaves free pages out, so it may end short of the total).
// stop ends the watch and clears the line.
func watchBackup(m *meter, store, path string) (stop func()) {
	if !m.on {
		return func() {}
	}
	total := 0
	for _, f := range []string{store, store + "-wal"} { // what is not yet checkpointed is in the log
		if fi, err := os.Stat(f); err == nil {
			total += int(fi.Size())
		}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(backupPoll)
		defer t.Stop()
		for {
			n := 0
			if fi, err := os.Stat(path); err == nil {
				n = int(fi.Size())
			}
			m.Report(admin.Progress{Step: "copying", Done: n, Total: max(total, n), Unit: "bytes"})
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		m.Done()
	}
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
	file, data, ok := fileAndData("restore", args, stderr)
	if !ok {
		return 2
	}
	start := time.Now()
	m := newMeter(stderr, "restoring "+file, false)
	err := sqlite.Restore(context.Background(), file, data, m.Func("bytes"))
	m.Done()
	if err != nil {
		fmt.Fprintln(stderr, "runrig restore:", err)
		return 1
	}
	size := 0
	if fi, err := os.Stat(file); err == nil {
		size = int(fi.Size())
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "restored %s (%s) into %s in %s; start the relay with: runrig serve --data %s\n",
		file, byteSize(size), data, took.Round(time.Millisecond), data)
	return 0
}

// configCmd: config example | config table | config check FILE.
func configCmd(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && (args[0] == "example" || args[0] == "table"):
		write := settings.Example
		if args[0] == "table" {
			write = settings.Table
		}
		if err := write(stdout); err != nil {
			fmt.Fprintln(stderr, "runrig config "+args[0]+":", err)
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
	fmt.Fprintln(stderr, "usage: runrig config example | runrig config table | runrig config check FILE")
	return 2
}
