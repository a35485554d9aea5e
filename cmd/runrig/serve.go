package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/settings"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/postgres"
	"github.com/runrig/runrig/relay/store/sqlite"
	"github.com/runrig/runrig/relay/web"
)

func version() string { return relay.Version }

func serve(args []string, stdout, stderr io.Writer) int {
	cfg, lg, err := settings.Load(args, os.Getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "runrig serve: %v\nrun `runrig serve --help` for every setting\n", err)
		return 2
	}
	log := newLogger(stderr, lg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "runrig serve: opening the store:", err)
		return 1
	}
	defer st.Close()
	srv, err := relay.New(ctx, cfg, st, log)
	if err != nil {
		fmt.Fprintln(stderr, "runrig serve:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Runrig relay\n  actor: %s\n  inbox: %s   <- paste this into your server's relay settings\n  data:  %s\n",
		srv.ActorID(), srv.InboxID(), cfg.DataDir)
	if cfg.Database != "" {
		fmt.Fprintf(stdout, "  store: PostgreSQL %s (replicas with the same database share the work)\n", postgres.Describe(cfg.Database))
	}
	if web.LocalOnly(cfg.PublicURL) {
		fmt.Fprintf(stdout, "  note:  %s is on this machine or its private network only: no server on the internet can\n"+
			"         subscribe. Set --public-url (public_url) to the https:// address peers reach (docs/operating.md).\n",
			cfg.PublicURL)
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "runrig serve:", err)
		return 1
	}
	return 0
}

// openStore opens the configured store: PostgreSQL when a database is
// set, else SQLite in the data directory.
func openStore(ctx context.Context, cfg relay.Config) (store.Store, error) {
	if cfg.Database != "" {
		return postgres.Open(ctx, cfg.Database)
	}
	return sqlite.Open(ctx, cfg.DataDir)
}

func newLogger(w io.Writer, lg settings.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(lg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if lg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
