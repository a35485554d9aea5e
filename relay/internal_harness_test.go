package relay

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/runrig/runrig/relay/store/sqlite"
)

// newInternal builds a Server on a fresh SQLite store and a loopback
// listener (not served), with cfg changed by mutate; the store closes with
// the test.
func newInternal(t *testing.T, mutate func(*Config)) (*Server, net.Listener) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.PublicURL, cfg.DataDir, cfg.AllowPrivateNetworks = "http://"+ln.Addr().String(), dir, true
	if mutate != nil {
		mutate(&cfg)
	}
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(ctx, cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s, ln
}
