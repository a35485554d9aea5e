package relay

import (
	"context"
	"net"
	"testing"
)

// When start-up fails part way (here gossip cannot bind, after the
// dispatcher, the loops and the DHT have started), Serve returns only once
// all that background work has ended, so the caller may close the store.
func TestFailedStartWaitsForBackground(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s, ln := newInternal(t, func(cfg *Config) {
		cfg.DHT.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.Gossip.Bind, cfg.Gossip.Insecure = taken.Addr().String(), true
	})
	if err := s.Serve(context.Background(), ln); err == nil {
		t.Fatal("Serve started with its gossip address taken")
	}
	if n := s.bg.Running(); n != 0 {
		t.Fatalf("Serve returned while %d background goroutines still run and use the store", n)
	}
}
