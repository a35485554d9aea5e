package simulation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// A region cut in two: its members run on loopback, so the cut is made in
// memberlist's transport. Each member's transport drops the packets it
// sends to, and refuses the streams it opens to, a member on the other
// side of the cut; filtering what leaves each member is enough, since
// both sides do it.

// errCut is a stream refused because the region is cut between its ends.
var errCut = errors.New("the region is cut between these members")

// Timing of a partition.
const (
	// holdAfterDetect is how long a cut holds, by default, once every
	// member sees the other half down: long enough for the halves' own
	// gossip of the deaths to have run out, so that only reconnection
	// can heal it.
	holdAfterDetect = 10 * time.Second
	// detectLimit is the least time the halves are given to see each
	// other down: memberlist's suspicion of a member lasts up to 6 times
	// its minimum (lan: 4 probe intervals × log10 N) when few members
	// confirm it, as in a half.
	detectLimit = 2 * time.Minute
)

// cut says which half of a region each member's gossip address is in,
// while the region is cut; whole, it says nothing. Safe for concurrent
// use.
type cut struct {
	mu   sync.Mutex
	side map[string]int // gossip address → half; empty while whole
}

// split cuts the region between the two halves' addresses.
func (c *cut) split(halves [2][]string) {
	side := map[string]int{}
	for h, addrs := range halves {
		for _, a := range addrs {
			side[a] = h
		}
	}
	c.mu.Lock()
	c.side = side
	c.mu.Unlock()
}

// heal makes the region whole again.
func (c *cut) heal() {
	c.mu.Lock()
	c.side = nil
	c.mu.Unlock()
}

// apart reports whether traffic from one address to the other crosses
// the cut.
func (c *cut) apart(from, to string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	sf, okf := c.side[from]
	st, okt := c.side[to]
	return okf && okt && sf != st
}

// cutTransport is memberlist's own network transport for one member, with
// its traffic across the cut lost. It implements only
// memberlist.Transport (not NodeAwareTransport, whose methods would
// bypass the filter): memberlist wraps it and sends everything through
// WriteTo and DialTimeout.
type cutTransport struct {
	net  *memberlist.NetTransport
	addr string // the member's own gossip address, host:port
	cut  *cut
}

var _ memberlist.Transport = (*cutTransport)(nil)

// newCutTransport listens at addr (UDP and TCP), subject to c.
func newCutTransport(c *cut, addr string) (*cutTransport, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("transport at %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("transport at %q: %w", addr, err)
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port,
		Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		return nil, fmt.Errorf("transport at %s: %w", addr, err)
	}
	return &cutTransport{net: nt, addr: addr, cut: c}, nil
}

// FinalAdvertiseAddr implements memberlist.Transport.
func (t *cutTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.net.FinalAdvertiseAddr(ip, port)
}

// WriteTo implements memberlist.Transport: a packet across the cut is
// lost, as if sent.
func (t *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.cut.apart(t.addr, addr) {
		return time.Now(), nil
	}
	return t.net.WriteTo(b, addr)
}

// PacketCh implements memberlist.Transport.
func (t *cutTransport) PacketCh() <-chan *memberlist.Packet { return t.net.PacketCh() }

// DialTimeout implements memberlist.Transport: a stream across the cut is
// refused.
func (t *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.cut.apart(t.addr, addr) {
		return nil, fmt.Errorf("%s to %s: %w", t.addr, addr, errCut)
	}
	return t.net.DialTimeout(addr, timeout)
}

// StreamCh implements memberlist.Transport.
func (t *cutTransport) StreamCh() <-chan net.Conn { return t.net.StreamCh() }

// Shutdown implements memberlist.Transport.
func (t *cutTransport) Shutdown() error { return t.net.Shutdown() }

// RunGossipPartition forms a cluster of n members on loopback (lan
// timing, o.ReconnectInterval), cuts it into two halves and measures how
// long until every member sees every member of the other half down
// (Detect); holds the cut o.Hold longer; heals it and measures how long until every directory is right again
// (UntilCorrect): every member lists every other, verified, not down.
// Memberlist declares each half dead to the other and never reaches out
// again by itself: the heal waits for a member's reconnection
// (discovery.GossipConfig.ReconnectInterval, 30 s by default), which then
// dominates UntilCorrect. Everything is shut down before it returns; on
// failure the point holds what was measured, and StillWrong the entries
// left wrong.
func RunGossipPartition(ctx context.Context, n int, o ChurnOptions) (ChurnPoint, error) {
	o = o.withDefaults()
	p := ChurnPoint{Scenario: "partition", Layer: "gossip", N: n}
	if n < 2 {
		return p, fmt.Errorf("a partition needs 2 members at least, not %d", n)
	}
	c := &gossipCluster{ring: newKeyring(), opts: memberOptions{reconnect: o.ReconnectInterval, cut: &cut{}}}
	defer c.shutdown()
	if err := c.form(ctx, n); err != nil {
		return p, err
	}
	var halves [2][]*gossipRelay
	var addrs [2][]string
	for i, m := range c.live {
		h := i * 2 / n
		halves[h], addrs[h] = append(halves[h], m), append(addrs[h], m.g.Addr())
	}
	cutAt := time.Now()
	c.opts.cut.split(addrs)
	var err error
	p.Detect, p.StillWrong, err = until(ctx, cutAt, max(o.Limit, detectLimit), "each half sees the other down",
		func() (int, string) { return apartWrong(halves) })
	if err != nil {
		return p, err
	}
	if err := sleepUntil(ctx, cutAt.Add(p.Detect+o.Hold)); err != nil {
		return p, err
	}
	healAt := time.Now()
	c.opts.cut.heal()
	p.Held = healAt.Sub(cutAt)
	p.UntilCorrect, p.StillWrong, err = until(ctx, healAt, o.Limit, "the healed region is whole in every directory",
		func() (int, string) { return c.wrong(time.Now()) })
	c.repairs(&p)
	return p, err
}

// apartWrong counts the entries that do not yet show a member of the
// other half down (or still list it as a member), and names the first.
func apartWrong(halves [2][]*gossipRelay) (int, string) {
	w, first := 0, ""
	for h, half := range halves {
		for _, m := range half {
			for _, o := range halves[1-h] {
				if e, _ := m.dir.Get(o.domain); !e.Down || m.g.HasMember(o.domain) {
					if w++; first == "" {
						first = fmt.Sprintf("%s's entry of %s (down %v, member %v)", m.domain, o.domain, e.Down, m.g.HasMember(o.domain))
					}
				}
			}
		}
	}
	return w, first
}
