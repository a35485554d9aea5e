package discovery

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
)

// A DHT node's connections, streams and memory are bounded whatever the
// network's size: its connection manager trims above dhtConnsHigh, and its
// resource manager's limits are sized to dhtMemory and dhtMaxConns, not to
// the machine (libp2p's default scales them to an eighth of its memory).
func TestDHTIsBounded(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	nd := newDHTNode(t, ring, "bounded.example")
	cm, ok := nd.d.host.ConnManager().(*connmgr.BasicConnMgr)
	if !ok {
		t.Fatalf("connection manager %T, want a trimming one", nd.d.host.ConnManager())
	}
	if info := cm.GetInfo(); info.LowWater != dhtConnsLow || info.HighWater != dhtConnsHigh {
		t.Fatalf("connection water marks %d/%d, want %d/%d", info.LowWater, info.HighWater, dhtConnsLow, dhtConnsHigh)
	}
	var memory int64
	var conns int
	err := nd.d.host.Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error {
		if l, ok := s.(rcmgr.ResourceScopeLimiter); ok {
			memory, conns = l.Limit().GetMemoryLimit(), l.Limit().GetConnTotalLimit()
		}
		return nil
	})
	if err != nil || memory <= 0 || memory > dhtMemory || conns != dhtMaxConns {
		t.Fatalf("system limits: memory %d (want ≤ %d), connections %d (want %d), %v", memory, dhtMemory, conns, dhtMaxConns, err)
	}
}
