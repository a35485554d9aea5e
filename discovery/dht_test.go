package discovery

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

type dhtNode struct {
	domain string
	priv   ed25519.PrivateKey
	id     crypto.PrivKey
	dir    *Directory
	d      *DHT
	mu     sync.Mutex
	rej    []error
}

func (n *dhtNode) record(seq uint64, issued time.Time, ttl time.Duration, regions []string) Record {
	return Record{Domain: n.domain, Actor: "https://" + n.domain + "/actor", Inbox: "https://" + n.domain + "/inbox",
		PeerID: n.d.PeerID().String(), Addrs: n.d.Addrs(), Software: "runrig test", Regions: regions,
		Kinds: []string{"offers", "surplus"}, Seq: seq, Issued: issued, Expires: issued.Add(ttl)}
}

func (n *dhtNode) sign(t testing.TB, r Record, priv ed25519.PrivateKey) []byte {
	b, err := Sign(r, "https://"+n.domain+"/actor#ed25519-key", priv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newDHTNode starts a DHT node on loopback for domain, joining through
// boot (none for the first node of a network). Its key is added to ring,
// and the refusals its verifier and DHT report are kept in rej.
func newDHTNode(tb testing.TB, ring *keyring, domain string, boot ...string) *dhtNode {
	tb.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	id, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	ring.mu.Lock()
	ring.keys["https://"+domain+"/actor#ed25519-key"] = AssertionKey{ID: "https://" + domain + "/actor#ed25519-key",
		Controller: "https://" + domain + "/actor", Public: pub}
	ring.mu.Unlock()
	nd := &dhtNode{domain: domain, priv: priv, id: id, dir: NewDirectory()}
	v := NewVerifier(ring)
	reject := func(err error) { nd.mu.Lock(); nd.rej = append(nd.rej, err); nd.mu.Unlock() }
	verify := func(ctx context.Context, b []byte) (Record, error) {
		r, err := v.Verify(ctx, b)
		if err != nil {
			reject(err)
		}
		return r, err
	}
	cfg := DHTConfig{Identity: id, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, AllowPrivate: true, Bootstrap: boot}
	var err error
	if nd.d, err = StartDHT(context.Background(), cfg, verify, nd.dir); err != nil {
		tb.Fatalf("%s: %v", domain, err)
	}
	nd.d.OnRejected = reject
	tb.Cleanup(func() { nd.d.Close() })
	return nd
}

// startDHTNetwork starts n DHT nodes on loopback; each joins through the
// first node.
func startDHTNetwork(t testing.TB, n int, ring *keyring) []*dhtNode {
	t.Helper()
	nodes := make([]*dhtNode, n)
	for i := range nodes {
		var boot []string
		if i > 0 {
			boot = nodes[0].d.Addrs()[:1]
		}
		nodes[i] = newDHTNode(t, ring, fmt.Sprintf("dht%02d.example", i), boot...)
	}
	// Refresh one at a time, so that every table knows more than the
	// first node.
	for _, nd := range nodes {
		nd.d.Refresh()
	}
	return nodes
}

func regionOf(i int) []string { return []string{[]string{"it-bg", "it-mi", "fr-ly"}[i%3]} }

// A network of 32 real libp2p hosts on loopback: every node's record is
// found by a lookup from one node and verified; region lookups find
// exactly the nodes of that region; a record signed by a key the domain
// does not list is refused; the DHT refuses expired records, records
// under another peer's key, and never prefers an older record.
func TestDHTNetwork(t *testing.T) {
	const n = 32
	ring := &keyring{keys: map[string]AssertionKey{}}
	nodes := startDHTNetwork(t, n, ring)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	now := time.Now()
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	for i, nd := range nodes[1:] {
		priv := nd.priv
		if i == 0 { // nodes[1] signs with a key its domain does not list
			priv = stranger
		}
		if err := nd.d.Publish(ctx, nd.sign(t, nd.record(1, now, time.Hour, regionOf(i+1)), priv)); err != nil {
			t.Fatalf("%s publishes: %v", nd.domain, err)
		}
	}

	seeker := nodes[0]
	recs, err := seeker.d.Lookup(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Domain)
	}
	sort.Strings(got)
	var want []string
	for _, nd := range nodes[2:] {
		want = append(want, nd.domain)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("lookup found %d records:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
	}
	for _, d := range want {
		if e, ok := seeker.dir.Get(d); !ok || !e.Verified || e.Sources[0] != SourceDHT {
			t.Errorf("%s not verified in the directory: %+v", d, e)
		}
	}
	if _, ok := seeker.dir.Get(nodes[1].domain); ok {
		t.Error("the forged record entered the directory")
	}
	seeker.mu.Lock()
	if len(seeker.rej) != 1 || !errors.Is(seeker.rej[0], ErrForged) {
		t.Errorf("rejections %v, want one forged", seeker.rej)
	}
	seeker.mu.Unlock()

	// A region lookup from another node finds exactly that region's nodes.
	recs, err = nodes[5].d.Lookup(ctx, "it-mi", "surplus")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Regions[0] != "it-mi" {
			t.Errorf("region lookup returned %s of %v", r.Domain, r.Regions)
		}
	}
	if want := 0; len(recs) == want {
		t.Error("region lookup found nothing")
	}
	for i := 2; i < n; i++ {
		if i != 5 && regionOf(i)[0] == "it-mi" && !hasDomain(recs, nodes[i].domain) {
			t.Errorf("region lookup missed %s", nodes[i].domain)
		}
	}

	// A lookup again: records already verified are taken from the
	// directory, not refused as replays.
	if recs, _ := seeker.d.Lookup(ctx, "", ""); len(recs) != len(want) {
		t.Errorf("second lookup found %d, want %d", len(recs), len(want))
	}

	t.Run("expired", func(t *testing.T) {
		nd := nodes[3]
		old := nd.sign(t, nd.record(5, now.Add(-2*time.Hour), time.Hour, nil), nd.priv)
		if err := nd.d.Publish(ctx, old); !errors.Is(err, ErrExpired) {
			t.Fatalf("publishing an expired record: %v", err)
		}
	})
	t.Run("older never wins", func(t *testing.T) {
		nd := nodes[4]
		newer := nd.sign(t, nd.record(9, now, time.Hour, regionOf(4)), nd.priv)
		if err := nd.d.Publish(ctx, newer); err != nil {
			t.Fatal(err)
		}
		older := nd.sign(t, nd.record(2, now, time.Hour, regionOf(4)), nd.priv)
		nd.d.Publish(ctx, older) // the DHT keeps the newer one
		if _, err := seeker.d.Lookup(ctx, "", ""); err != nil {
			t.Fatal(err)
		}
		if e, _ := seeker.dir.Get(nd.domain); e.Record.Seq != 9 {
			t.Errorf("directory holds seq %d, want 9", e.Record.Seq)
		}
	})
	t.Run("another peer's key", func(t *testing.T) {
		victim, thief := nodes[6], nodes[7]
		r := victim.record(99, now, time.Hour, nil)
		value, err := sealEnvelope(victim.sign(t, r, victim.priv), thief.id)
		if err != nil {
			t.Fatal(err)
		}
		if err := thief.d.kad.PutValue(ctx, RecordKey(victim.d.PeerID()), value); !errors.Is(err, ErrForged) {
			t.Fatalf("a record sealed by another peer: %v", err)
		}
	})
}

func hasDomain(recs []Record, d string) bool {
	for _, r := range recs {
		if r.Domain == d {
			return true
		}
	}
	return false
}

func TestRecordValidator(t *testing.T) {
	id, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	pid, _ := peer.IDFromPrivateKey(id)
	other, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	rec := func(seq uint64, peerID string, issued time.Time) []byte {
		b, err := Sign(Record{Domain: "a.example", Actor: "https://a.example/actor", Inbox: "https://a.example/inbox",
			PeerID: peerID, Seq: seq, Issued: issued, Expires: issued.Add(time.Hour)}, "https://a.example/actor#k", priv)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seal := func(a []byte, k crypto.PrivKey) []byte {
		b, err := sealEnvelope(a, k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v := recordValidator{now: func() time.Time { return now }}
	for _, tc := range []struct {
		name  string
		key   string
		value []byte
		want  error
	}{
		{"valid", RecordKey(pid), seal(rec(1, pid.String(), now), id), nil},
		{"sealed by another peer", RecordKey(pid), seal(rec(1, pid.String(), now), other), ErrForged},
		{"names another peer", RecordKey(pid), seal(rec(1, "12D3KooWother", now), id), ErrMalformed},
		{"expired", RecordKey(pid), seal(rec(1, pid.String(), now.Add(-2*time.Hour)), id), ErrExpired},
		{"from the future", RecordKey(pid), seal(rec(1, pid.String(), now.Add(time.Hour)), id), ErrExpired},
		{"not an envelope", RecordKey(pid), []byte(`{"x":1}`), ErrMalformed},
		{"bad key", "/runrig/not-a-peer", seal(rec(1, pid.String(), now), id), ErrMalformed},
		{"too large", RecordKey(pid), make([]byte, maxEnvelopeBytes+1), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Validate(tc.key, tc.value)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Validate: %v, want %v", err, tc.want)
			}
		})
	}
	vals := [][]byte{seal(rec(3, pid.String(), now), id), []byte("junk"), seal(rec(7, pid.String(), now), id), seal(rec(5, pid.String(), now), id)}
	if i, err := v.Select(RecordKey(pid), vals); err != nil || i != 2 {
		t.Fatalf("Select = %d, %v; want the highest sequence, 2", i, err)
	}
}

// DHT values from any node: opening never panics, and a value it opens
// names the peer id it is stored under.
func FuzzOpenEnvelope(f *testing.F) {
	id, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	pid, _ := peer.IDFromPrivateKey(id)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	rec, _ := Sign(Record{Domain: "a.example", Actor: "https://a.example/actor", Inbox: "https://a.example/inbox",
		PeerID: pid.String(), Seq: 1, Issued: now, Expires: now.Add(time.Hour)}, "https://a.example/actor#k", priv)
	sealed, err := sealEnvelope(rec, id)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(RecordKey(pid), sealed)
	f.Add(RecordKey(pid), []byte("{}"))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		_, r, err := openEnvelope(key, value, now)
		if err != nil {
			return
		}
		if id, err := peer.Decode(r.PeerID); err != nil || RecordKey(id) != key {
			t.Fatalf("opened a value naming %s under %s", r.PeerID, key)
		}
	})
}
