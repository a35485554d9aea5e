// Package simulation runs discovery networks as large as one machine
// holds — real libp2p DHT hosts and real memberlist members on loopback,
// in one process — measures how their costs grow with the number of
// relays, fits curves to the figures and draws them. `make simulate`
// runs it (cmd/runrig-simulate); the results are in docs/simulation/ and
// docs/discovery.md's scaling section.
package simulation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/runrig/runrig/discovery"
)

// Schedule of a relay's discovery work (discovery.NodeConfig defaults),
// by which the cost of one operation becomes a cost per hour.
const (
	// lookupsPerHour: a relay looks up `all` every 10 minutes.
	lookupsPerHour = 6
	// publishesPerHour: a relay republishes at half its 24 h validity.
	publishesPerHour = 1.0 / 12
	// refreshesPerHour: the DHT refreshes its routing table every 10
	// minutes (go-libp2p-kad-dht's default).
	refreshesPerHour = 6
)

// keyring holds the simulated relays' Ed25519 keys, as their actors would
// publish them.
type keyring struct {
	mu   sync.Mutex
	keys map[string]discovery.AssertionKey
	priv map[string]ed25519.PrivateKey // by domain
}

func newKeyring() *keyring {
	return &keyring{keys: map[string]discovery.AssertionKey{}, priv: map[string]ed25519.PrivateKey{}}
}

// AssertionKey implements discovery.Keys.
func (k *keyring) AssertionKey(_ context.Context, id string) (discovery.AssertionKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[id]
	if !ok {
		return key, errors.New("no such key")
	}
	return key, nil
}

// add makes a key for domain and returns its private half.
func (k *keyring) add(domain string) ed25519.PrivateKey {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	id := "https://" + domain + "/actor#ed25519-key"
	k.mu.Lock()
	k.keys[id] = discovery.AssertionKey{ID: id, Controller: "https://" + domain + "/actor", Public: pub}
	k.priv[domain] = priv
	k.mu.Unlock()
	return priv
}

// put adds the public key of another process's node.
func (k *keyring) put(domain string, pub ed25519.PublicKey) {
	id := "https://" + domain + "/actor#ed25519-key"
	k.mu.Lock()
	k.keys[id] = discovery.AssertionKey{ID: id, Controller: "https://" + domain + "/actor", Public: pub}
	k.mu.Unlock()
}

// privOf is the private key made for domain.
func (k *keyring) privOf(domain string) ed25519.PrivateKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.priv[domain]
}

// sign signs r as its domain's actor.
func sign(r discovery.Record, priv ed25519.PrivateKey) ([]byte, error) {
	return discovery.Sign(r, "https://"+r.Domain+"/actor#ed25519-key", priv)
}

// heapInUse is the live heap after collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// percentile of durations (sorted here).
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}
