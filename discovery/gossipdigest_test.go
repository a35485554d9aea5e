package discovery

import (
	"io"
	"log"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// deafTransport is memberlist's own transport that, while deaf, drops
// every packet it receives: the node hears no gossip (no alive message,
// no announcement, no digest), while its streams still work.
type deafTransport struct {
	*memberlist.NetTransport
	deaf    atomic.Bool
	packets chan *memberlist.Packet
	stop    chan struct{}
}

func newDeafTransport(t *testing.T, addr string) *deafTransport {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: p,
		Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	d := &deafTransport{NetTransport: nt, packets: make(chan *memberlist.Packet), stop: make(chan struct{})}
	go func() {
		for {
			select {
			case <-d.stop:
				return
			case pk := <-nt.PacketCh():
				if d.deaf.Load() {
					continue
				}
				select {
				case d.packets <- pk:
				case <-d.stop:
					return
				}
			}
		}
	}()
	return d
}

func (d *deafTransport) PacketCh() <-chan *memberlist.Packet { return d.packets }

func (d *deafTransport) Shutdown() error {
	close(d.stop)
	return d.NetTransport.Shutdown()
}

// A member that misses both a new member's alive message and its
// announcement (here: it hears no packet at all) has nothing telling it
// what it lacks, and push/pull is an hour away; the digests it sends
// differ from the others' lists, and the difference is repaired by a
// state exchange within seconds.
func TestMissedMemberIsPulled(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	var all []*node
	start := func(domain string, tr memberlist.Transport, addr string, join ...string) *node {
		priv := ring.add(domain)
		nd := &node{domain: domain, priv: priv, dir: NewDirectory(), addr: addr}
		g, err := StartGossip(GossipConfig{Name: domain, Bind: addr, Profile: "local", Join: join,
			ProbeInterval: time.Hour, PushPullInterval: time.Hour, Transport: tr,
			Announcement: announce(t, nd, 1, priv)}, NewVerifier(ring).Verify, nd.dir)
		if err != nil {
			t.Fatal(err)
		}
		nd.g = g
		t.Cleanup(func() { g.Shutdown() })
		all = append(all, nd)
		return nd
	}
	a := start("seed.example", nil, freeGossipAddr(t))
	start("other.example", nil, freeGossipAddr(t), a.addr)
	deafAddr := freeGossipAddr(t)
	deaf := newDeafTransport(t, deafAddr)
	x := start("deaf.example", deaf, deafAddr, a.addr)
	waitUntil(t, 20*time.Second, "three members list each other", func() bool {
		for _, nd := range all {
			if nd.g.Members() != 3 {
				return false
			}
		}
		return true
	})
	_, d1 := a.g.view.digest()
	_, d2 := x.g.view.digest()
	if string(d1) != string(d2) {
		t.Fatalf("members agreeing on the list send different digests: %x, %x", d1, d2)
	}
	deaf.deaf.Store(true)
	m := start("new.example", nil, freeGossipAddr(t), a.addr)
	waitUntil(t, time.Minute, "the deaf member lists the new one, with its verified announcement", func() bool {
		e, ok := x.dir.Get(m.domain)
		return x.g.HasMember(m.domain) && ok && e.Verified
	})
	var pulls int64
	for _, nd := range all {
		pulls += nd.g.Repairs().Pulled
	}
	if pulls == 0 {
		t.Fatal("repaired without a state exchange over the difference")
	}
}

// A digest is exactly 13 bytes; anything else is refused and counted.
func TestMalformedDigestIsRefused(t *testing.T) {
	ring := &keyring{keys: map[string]AssertionKey{}}
	var refused atomic.Int64
	g, err := StartGossip(GossipConfig{Name: "digest.example", Bind: "127.0.0.1:0", Profile: "local",
		OnRejected: func(error) { refused.Add(1) }}, NewVerifier(ring).Verify, NewDirectory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown() })
	for _, n := range []int{1, digestLen - 1, digestLen + 1, 300} {
		g.NotifyMsg(append([]byte{msgDigest}, make([]byte, n-1)...))
	}
	if refused.Load() != 4 {
		t.Fatalf("%d of 4 malformed digests refused", refused.Load())
	}
}
