package simulation

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/runrig/runrig/discovery"
)

// Churn: relays leave a region and new ones join, some saying so and some
// not, and the directories must catch up. Each scenario measures the time
// from the last change until every live relay's directory is right
// again: the new relays present, the departed ones marked down. Removal
// comes much later and is not waited for: a departed relay's record
// expires (24 h after its last announcement or farewell), and the
// directory prunes it a day after that (discovery.Directory.Prune).

// Defaults of the churn and partition scenarios.
const (
	// DefaultSpread is how long the departures and arrivals are spread
	// over.
	DefaultSpread = time.Minute
	// defaultFraction is the share of the relays that leave.
	defaultFraction = 0.2
	// DefaultLookupEvery stands in for a relay's 10-minute DHT
	// LookupInterval: every DHT node looks up all this often.
	DefaultLookupEvery = 5 * time.Second
	// defaultCorrectLimit is how long a scenario waits for the
	// directories to be right before it reports failure.
	defaultCorrectLimit = 5 * time.Minute
	// pollEvery is how often the gossip scenarios check the directories.
	pollEvery = 50 * time.Millisecond
	// leaveTimeout bounds a member's telling the cluster it goes (as a
	// relay's node does).
	leaveTimeout = 2 * time.Second
	// farewellTimeout bounds a DHT node's publication of its farewell.
	farewellTimeout = 5 * time.Second
	// lookupTimeout bounds one DHT lookup of all.
	lookupTimeout = time.Minute
	// lookupsAtOnce bounds the nodes looking up at the same time in a
	// round: the simulation shares the machine's cores.
	lookupsAtOnce = 4
)

// ChurnOptions shape the churn and partition scenarios. Zero fields take
// the defaults given.
type ChurnOptions struct {
	// Spread is how long the departures and arrivals are spread over.
	// Default DefaultSpread.
	Spread time.Duration
	// Fraction is the share of the relays that leave (and of new ones
	// that join). Default 0.2. At least two leave: one saying so, one
	// crashing.
	Fraction float64
	// ReconnectInterval is the gossip members' (GossipConfig). Default
	// discovery.DefaultReconnectInterval.
	ReconnectInterval time.Duration
	// Hold is how long a cut region stays cut once every member sees
	// the other half down. Default 10 s.
	Hold time.Duration
	// LookupEvery is how often every DHT node looks up all, standing in
	// for the relay's LookupInterval. Default 5 s.
	LookupEvery time.Duration
	// Limit is how long a scenario waits for the directories to be right
	// before it reports failure. Default 5 minutes. (A cut region's
	// halves are given at least detectLimit to see each other down.)
	Limit time.Duration
}

func (o ChurnOptions) withDefaults() ChurnOptions {
	if o.Spread <= 0 {
		o.Spread = DefaultSpread
	}
	if o.Fraction <= 0 {
		o.Fraction = defaultFraction
	}
	if o.LookupEvery <= 0 {
		o.LookupEvery = DefaultLookupEvery
	}
	if o.Hold <= 0 {
		o.Hold = holdAfterDetect
	}
	if o.Limit <= 0 {
		o.Limit = defaultCorrectLimit
	}
	return o
}

// ChurnPoint is how long a region's directories took to be right again
// after churn or a partition.
type ChurnPoint struct {
	// Scenario is "churn" or "partition"; Layer "gossip" or "dht".
	Scenario, Layer string
	N               int
	// Left and Joined count the relays that left (half saying so, half
	// crashing) and the new ones that joined.
	Left, Joined int
	// Detect (partition) is the time from the cut until every member saw
	// every member of the other half down; Held is how long the cut held.
	Detect, Held time.Duration
	// UntilCorrect is the time from the last change (the last departure
	// or arrival; the heal) until every live relay's directory was right.
	UntilCorrect time.Duration
	// Rounds (DHT) counts the rounds of lookups until then.
	Rounds int
	// StillWrong is, for gossip, the directory entries still wrong when a
	// scenario gave up (0 when it succeeded); for the DHT, the crashed
	// relays still listed up by some directory: a crashed relay says
	// nothing, and DHT peers list it until its record expires.
	StillWrong int
	// Wants, Joins, Reconnects and Pulls sum the gossip members' repairs
	// (gossiprepair.go, gossipreconnect.go, gossipdigest.go), departed
	// members' included.
	Wants, Joins, Reconnects, Pulls int64
}

// leavers is how many of n relays leave: fraction of them, at least two
// (one saying so, one crashing).
func leavers(n int, fraction float64) int {
	return max(2, int(math.Round(float64(n)*fraction)))
}

// gossipCluster is a region's members during a scenario.
type gossipCluster struct {
	ring *keyring
	opts memberOptions
	// live are the members running; departed those that left or
	// crashed; all every member started (to shut down, and to sum repairs).
	live, departed, all []*gossipRelay
	joined              int // members started after the formation
}

// form starts n members and waits until every one lists every other.
func (c *gossipCluster) form(ctx context.Context, n int) error {
	if c.opts.used == nil {
		c.opts.used = map[string]bool{}
	}
	members, err := formCluster(ctx, c.ring, n, c.opts)
	c.live, c.all = members, append(c.all, members...)
	return err
}

func (c *gossipCluster) shutdown() {
	for _, m := range c.all {
		m.g.Shutdown()
	}
}

// RunGossipChurn forms a cluster of n members on loopback (lan timing),
// then over o.Spread makes o.Fraction of them leave — alternately with a
// farewell announcement and Leave, as a relay's node stops, and by crash,
// saying nothing — and as many new members join, departures and arrivals
// alternating at evenly spaced times. It measures the time from the last
// change until every live member's directory is right: every other live
// member present, verified, not down and listed by memberlist; every
// departed one absent or down (and not listed). Removal of the departed (their
// records expire, then a day later the directory prunes them) is not
// waited for. Everything is shut down before it returns.
func RunGossipChurn(ctx context.Context, n int, o ChurnOptions) (ChurnPoint, error) {
	o = o.withDefaults()
	k := leavers(n, o.Fraction)
	p := ChurnPoint{Scenario: "churn", Layer: "gossip", N: n}
	if n < 2*k {
		return p, fmt.Errorf("%d members: too few for %d to leave", n, k)
	}
	c := &gossipCluster{ring: newKeyring(), opts: memberOptions{reconnect: o.ReconnectInterval}}
	defer c.shutdown()
	if err := c.form(ctx, n); err != nil {
		return p, err
	}
	last, err := spreadChurn(ctx, c.live, k, o.Spread, c.leave, c.join)
	p.Left, p.Joined = len(c.departed), c.joined
	if err != nil {
		return p, err
	}
	p.UntilCorrect, p.StillWrong, err = until(ctx, last, o.Limit, "every directory right after churn",
		func() (int, string) { return c.wrong(time.Now()) })
	c.repairs(&p)
	return p, err
}

// spreadChurn makes k of members leave (by leave, every other one
// gracefully) and k new ones join (by join, numbered), alternating, at
// evenly spaced times over spread. The leavers are spread over the
// members, sparing the first (through which gossip members join). It
// returns when the last change was made.
func spreadChurn[M any](ctx context.Context, members []M, k int, spread time.Duration,
	leave func(ctx context.Context, m M, graceful bool) error, join func(ctx context.Context, i int) error) (time.Time, error) {
	going := make([]M, k)
	for j := range going {
		going[j] = members[(2*j+1)*len(members)/(2*k)]
	}
	events := 2 * k
	start := time.Now()
	var last time.Time
	for i := range events {
		if err := sleepUntil(ctx, start.Add(spread*time.Duration(i)/time.Duration(events-1))); err != nil {
			return last, err
		}
		var err error
		if i%2 == 0 {
			err = leave(ctx, going[i/2], i/2%2 == 0)
		} else {
			err = join(ctx, i/2)
		}
		if err != nil {
			return last, err
		}
		last = time.Now()
	}
	return last, nil
}

// leave stops member m: gracefully, as a relay's node stops (its farewell
// announcement, then Leave), or by crash (Shutdown, saying nothing).
func (c *gossipCluster) leave(_ context.Context, m *gossipRelay, graceful bool) error {
	for i, l := range c.live {
		if l == m {
			c.live = append(c.live[:i:i], c.live[i+1:]...)
			break
		}
	}
	c.departed = append(c.departed, m)
	if !graceful {
		return m.g.Shutdown()
	}
	now := time.Now()
	r := memberRecord(m.domain, m.g.Addr(), 2, now)
	r.Leaving = true
	farewell, err := sign(r, c.ring.privOf(m.domain))
	if err != nil {
		return fmt.Errorf("%s: farewell: %w", m.domain, err)
	}
	m.g.Announce(farewell) // goes out with the gossip of the leave
	// As a relay's node, go on when the leave was not seen out in time
	// (memberlist's timeout): the member is stopped either way.
	m.g.Leave(leaveTimeout)
	return nil
}

// join starts new member i, joining through a live member.
func (c *gossipCluster) join(_ context.Context, i int) error {
	m, err := startMember(c.ring, fmt.Sprintf("joiner%04d.example", i), c.live, c.opts)
	if err != nil {
		return err
	}
	c.live, c.all = append(c.live, m), append(c.all, m)
	c.joined++
	return nil
}

// wrong counts the live members' directory entries that are not right:
// another live member missing, unverified, down or not listed; a departed
// one up or listed.
// It describes the first one found.
func (c *gossipCluster) wrong(now time.Time) (int, string) {
	w, first := 0, ""
	note := func(m, o *gossipRelay, e discovery.Entry, ok bool) {
		if w++; first == "" {
			first = fmt.Sprintf("%s's entry of %s: present %v, verified %v, down %v, leaving %v, member %v",
				m.domain, o.domain, ok, e.Verified, e.Down, e.Record.Leaving, m.g.HasMember(o.domain))
		}
	}
	for _, m := range c.live {
		for _, o := range c.live {
			if e, ok := m.dir.Get(o.domain); o != m && (!ok || !e.Verified || e.Down || !m.g.HasMember(o.domain)) {
				note(m, o, e, ok)
			}
		}
		for _, d := range c.departed {
			e, ok := m.dir.Get(d.domain)
			if m.g.HasMember(d.domain) || ok && !e.Down {
				note(m, d, e, ok)
			}
		}
	}
	return w, first
}

// repairs sums every member's repairs into p.
func (c *gossipCluster) repairs(p *ChurnPoint) {
	for _, m := range c.all {
		r := m.g.Repairs()
		p.Wants, p.Joins, p.Reconnects, p.Pulls = p.Wants+r.Asked, p.Joins+r.Joined, p.Reconnects+r.Reconnected, p.Pulls+r.Pulled
	}
}

// until polls wrong until it counts nothing and returns the time since
// from. At from+limit, or when ctx ends, it gives up with the count left
// and an error naming what it waited for and the first wrong entry.
func until(ctx context.Context, from time.Time, limit time.Duration, what string, wrong func() (int, string)) (time.Duration, int, error) {
	for {
		w, first := wrong()
		if w == 0 {
			return time.Since(from), 0, nil
		}
		if time.Since(from) > limit {
			return time.Since(from), w, fmt.Errorf("%s: %d entries still wrong after %v, such as %s", what, w, limit, first)
		}
		select {
		case <-ctx.Done():
			return time.Since(from), w, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// sleepUntil waits until t, or less when ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// dhtNetwork is a DHT's relays during a scenario.
type dhtNetwork struct {
	ring *keyring
	// live are the nodes running; farewelled those that left saying so,
	// crashed those that did not; all every node started (to close).
	live, farewelled, crashed, all []*dhtRelay
	joined                         int // nodes started after the first
}

func (w *dhtNetwork) close() {
	for _, nd := range w.all {
		nd.d.Close()
	}
}

// RunDHTChurn starts n DHT nodes on loopback in this process (n ≤ a
// hundred or so: one process holds both ends of every connection), each
// publishing its announcement and filling its directory by lookups of
// all; then over o.Spread makes o.Fraction of them leave — alternately
// publishing a farewell announcement first, as a relay's node stops, and
// crashing, saying nothing — and as many new nodes join and publish,
// alternating at evenly spaced times. Then every live node looks up all
// every o.LookupEvery (standing in for the relay's LookupInterval), and it
// measures the rounds and the time from the last change until every live
// directory is right: every other live node listed (unexpired, verified,
// not down), every one that said farewell absent or down. A crashed relay
// is corrected only when its record expires (24 h, then pruned a day
// later): StillWrong counts those still listed up, which is all of them
// by design, not a failure. Everything is closed before it returns.
func RunDHTChurn(ctx context.Context, n int, o ChurnOptions) (ChurnPoint, error) {
	o = o.withDefaults()
	k := leavers(n, o.Fraction)
	p := ChurnPoint{Scenario: "churn", Layer: "dht", N: n}
	if n < 2*k {
		return p, fmt.Errorf("%d nodes: too few for %d to leave", n, k)
	}
	w := &dhtNetwork{ring: newKeyring()}
	defer w.close()
	nodes, err := startLocal(ctx, w.ring, nil, n)
	w.live, w.all = slices.Clone(nodes), nodes
	if err != nil {
		return p, err
	}
	if _, _, err := w.rounds(ctx, time.Now(), o); err != nil {
		return p, fmt.Errorf("filling the directories: %w", err)
	}
	last, err := spreadChurn(ctx, w.live, k, o.Spread, w.leave, w.join)
	p.Left, p.Joined = len(w.farewelled)+len(w.crashed), w.joined
	if err != nil {
		return p, err
	}
	p.UntilCorrect, p.Rounds, err = w.rounds(ctx, last, o)
	p.StillWrong = w.crashedListed(time.Now())
	return p, err
}

// rounds has every live node look up all every o.LookupEvery until every
// live directory is right, and returns the time since from and the
// rounds it took; it gives up at from+o.Limit.
func (w *dhtNetwork) rounds(ctx context.Context, from time.Time, o ChurnOptions) (time.Duration, int, error) {
	for r := 1; ; r++ {
		start := time.Now()
		if err := w.lookupAll(ctx); err != nil {
			return time.Since(from), r, err
		}
		if bad, first := w.wrong(time.Now()); bad == 0 {
			return time.Since(from), r, nil
		} else if time.Since(from) > o.Limit {
			return time.Since(from), r, fmt.Errorf("%d directory entries still wrong after %d rounds, %v, such as %s", bad, r, o.Limit, first)
		}
		if err := sleepUntil(ctx, start.Add(o.LookupEvery)); err != nil {
			return time.Since(from), r, err
		}
	}
}

// lookupAll has every live node look up all, lookupsAtOnce at a time.
func (w *dhtNetwork) lookupAll(ctx context.Context) error {
	sem := make(chan struct{}, lookupsAtOnce)
	var wg sync.WaitGroup
	for _, nd := range w.live {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			nd.d.Lookup(lctx, "", "") // what it finds enters its directory
		})
	}
	wg.Wait()
	return ctx.Err()
}

// leave stops node nd: publishing its farewell first (gracefully), or
// not (a crash).
func (w *dhtNetwork) leave(ctx context.Context, nd *dhtRelay, graceful bool) error {
	for i, l := range w.live {
		if l == nd {
			w.live = append(w.live[:i:i], w.live[i+1:]...)
			break
		}
	}
	if !graceful {
		w.crashed = append(w.crashed, nd)
		return nd.d.Close()
	}
	w.farewelled = append(w.farewelled, nd)
	now := time.Now()
	r := dhtRecord(nd, w.regionOf(nd), 2, now)
	r.Leaving = true
	fctx, cancel := context.WithTimeout(ctx, farewellTimeout)
	defer cancel()
	if err := publishRecord(fctx, nd, w.ring.privOf(nd.domain), r); err != nil {
		return fmt.Errorf("farewell: %w", err)
	}
	return nd.d.Close()
}

// regionOf is the region a node announced (startLocal's: by its number).
func (w *dhtNetwork) regionOf(nd *dhtRelay) int {
	for i, a := range w.all {
		if a == nd {
			return i % len(regions)
		}
	}
	return 0
}

// join starts new node i, through a live node, and publishes it.
func (w *dhtNetwork) join(ctx context.Context, i int) error {
	via := w.live[i%len(w.live)]
	nd, err := startDHTRelay(ctx, w.ring, nil, fmt.Sprintf("joiner%04d.example", i), via.d.Addrs()[:1])
	if err != nil {
		return err
	}
	w.all = append(w.all, nd)
	if err := publish(ctx, nd, w.ring.privOf(nd.domain), (len(w.all)-1)%len(regions), 1); err != nil {
		return err
	}
	w.live = append(w.live, nd)
	w.joined++
	return nil
}

// wrong counts the live directories' entries that are not right: another
// live node not listed up, or one that said farewell listed up. It
// describes the first one found.
func (w *dhtNetwork) wrong(now time.Time) (int, string) {
	bad, first := 0, ""
	note := func(m, o *dhtRelay, e discovery.Entry, ok bool) {
		if bad++; first == "" {
			first = fmt.Sprintf("%s's entry of %s: present %v, verified %v, down %v, expires %s",
				m.domain, o.domain, ok, e.Verified, e.Down, e.Record.Expires.Format(time.RFC3339))
		}
	}
	for _, m := range w.live {
		for _, o := range w.live {
			if o != m && !listedUp(m.dir, o.domain, now) {
				e, ok := m.dir.Get(o.domain)
				note(m, o, e, ok)
			}
		}
		for _, d := range w.farewelled {
			if e, ok := m.dir.Get(d.domain); ok && !e.Down {
				note(m, d, e, ok)
			}
		}
	}
	return bad, first
}

// crashedListed counts the crashed nodes some live directory lists up.
func (w *dhtNetwork) crashedListed(now time.Time) int {
	n := 0
	for _, c := range w.crashed {
		for _, m := range w.live {
			if listedUp(m.dir, c.domain, now) {
				n++
				break
			}
		}
	}
	return n
}

// listedUp reports whether dir lists domain: verified, unexpired, not
// down.
func listedUp(dir *discovery.Directory, domain string, now time.Time) bool {
	e, ok := dir.Get(domain)
	return ok && e.Verified && !e.Down && e.Record.Expires.After(now)
}
