package relay

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/runrig/runrig/relay/store/sqlite"
)

// When start-up fails part way (here gossip cannot bind, after the
// dispatcher, the loops and the DHT have started), Serve returns only once
// all that background work has ended, so the caller may close the store.
func TestFailedStartWaitsForBackground(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.PublicURL, cfg.DataDir, cfg.AllowPrivateNetworks = "http://"+ln.Addr().String(), dir, true
	cfg.DHT.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Gossip.Bind, cfg.Gossip.Insecure = taken.Addr().String(), true
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := New(ctx, cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ctx, ln); err == nil {
		t.Fatal("Serve started with its gossip address taken")
	}
	if n := s.bg.Running(); n != 0 {
		t.Fatalf("Serve returned while %d background goroutines still run and use the store", n)
	}
}
