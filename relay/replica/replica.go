// Package replica makes several relay processes on one shared database
// behave as one relay. Each process (a replica) beats in the store, so
// that operators see it and the others know it lives; one that stops
// beating is forgotten and its leases released, so its deliveries and
// singletons move to the living. A singleton (list sync, bridges, relay
// federation, discovery) runs on one replica at a time, the one that
// holds its lease in the database.
package replica

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// Defaults of [Config].
const (
	// DefaultHeartbeat is how often a replica beats and renews its leases.
	DefaultHeartbeat = 2 * time.Second
	// DefaultDeadAfter is how long a replica may go unseen before the
	// others forget it and take over its work.
	DefaultDeadAfter = 10 * time.Second
	// DefaultLeaseTTL is how long a singleton lease lasts unrenewed.
	DefaultLeaseTTL = 15 * time.Second
	// maxSkew is how far this machine's clock may differ from the
	// database's before a replica warns.
	maxSkew = time.Second
)

// Config configures a [Member].
type Config struct {
	// Store keeps the replicas and their leases.
	Store store.Replicas
	// Host names this process for operators. Default: hostname and pid.
	Host string
	// Heartbeat is how often it beats, forgets the dead and renews its
	// singleton leases. Default [DefaultHeartbeat].
	Heartbeat time.Duration
	// DeadAfter is how long another replica may go unseen before it is
	// forgotten. It must exceed Heartbeat several times over. Default
	// [DefaultDeadAfter].
	DeadAfter time.Duration
	// LeaseTTL is how long a singleton lease lasts without renewal.
	// Default [DefaultLeaseTTL].
	LeaseTTL time.Duration
	// Load, when set, reports this replica's load at each beat.
	Load func() Load
	// Now is this process's clock. Default time.Now. Beats and leases
	// are timed by the store's clock: Now corrected by how far it was
	// from the store's at the last beat.
	Now func() time.Time
	// Log receives the changes of membership and leadership.
	Log *slog.Logger
}

// Load is what a replica reports of its work at each beat.
type Load struct {
	InFlight          int
	Delivered, Failed int64
}

// Member is this process's membership among the replicas.
type Member struct {
	cfg     Config
	id      string
	started time.Time

	// mu guards the following fields.
	mu   sync.Mutex
	held map[string]bool
	// lastBeat is when this replica last beat; after a gap longer than
	// DeadAfter (the database was unreachable, or the process stood
	// still) it forgets no one until forgetFrom, so that the others, cut
	// off as long, have beaten again.
	lastBeat, forgetFrom time.Time
	// skew is how far the store's clock was ahead of this process's at
	// the last beat; warned is the skew last warned of.
	skew, warned time.Duration
	// shard and shards are this replica's place among the live replicas
	// (by id) as of its last beat: it delivers to the peers whose hash
	// modulo shards is shard.
	shard, shards int
}

// New returns this process's membership, with a fresh id.
func New(cfg Config) *Member {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = DefaultDeadAfter
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Host == "" {
		h, _ := os.Hostname()
		cfg.Host = fmt.Sprintf("%s pid %d", h, os.Getpid())
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b := make([]byte, 6)
	rand.Read(b)
	return &Member{cfg: cfg, id: hex.EncodeToString(b), started: cfg.Now(), held: map[string]bool{}, shards: 1}
}

// Shard returns this replica's share of the peers: those whose hash
// modulo of is index. Replicas learn of each other at their beats, so
// for a heartbeat after one joins or dies two may claim one shard or none
// claims it; leases keep a peer with one replica meanwhile.
func (m *Member) Shard() (index, of int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shard, m.shards
}

// ID is this replica's id: the owner of its delivery and singleton leases.
func (m *Member) ID() string { return m.id }

// Holds reports whether this replica holds the singleton lease name.
func (m *Member) Holds(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held[name]
}

// Beat records this replica as alive now and forgets the replicas that
// stopped beating, releasing their leases.
func (m *Member) Beat(ctx context.Context) error {
	if err := m.readClock(ctx); err != nil {
		return err
	}
	now := m.now()
	r := store.Replica{ID: m.id, Host: m.cfg.Host, StartedAt: m.started.Add(m.skewNow()), SeenAt: now}
	if m.cfg.Load != nil {
		l := m.cfg.Load()
		r.InFlight, r.Delivered, r.Failed = l.InFlight, l.Delivered, l.Failed
	}
	if err := m.cfg.Store.Beat(ctx, r); err != nil {
		return err
	}
	if m.mayForget(m.cfg.Now()) { // gaps in its own beats, by its own clock
		gone, err := m.cfg.Store.Forget(ctx, now.Add(-m.cfg.DeadAfter))
		for _, id := range gone {
			m.cfg.Log.Warn("a replica stopped beating; its deliveries and singletons are released", "replica", id,
				"unseen_for", m.cfg.DeadAfter)
		}
		if err != nil {
			return err
		}
	}
	live, err := m.cfg.Store.List(ctx)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(live))
	for _, r := range live {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shard, m.shards = sort.SearchStrings(ids, m.id), len(ids)
	if m.shard == len(ids) || ids[m.shard] != m.id { // not listed: serve every peer
		m.shard, m.shards = 0, 1
	}
	return nil
}

// readClock measures how far the store's clock is from this process's,
// halving the round trip, and warns when it is off by more than
// maxSkew (once per change of that size).
func (m *Member) readClock(ctx context.Context) error {
	before := m.cfg.Now()
	theirs, err := m.cfg.Store.Clock(ctx)
	if err != nil {
		return err
	}
	after := m.cfg.Now()
	skew := theirs.Sub(before.Add(after.Sub(before) / 2))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.skew = skew
	if d := skew - m.warned; (skew > maxSkew || skew < -maxSkew) && (d > maxSkew || d < -maxSkew) {
		m.warned = skew
		m.cfg.Log.Warn("this machine's clock differs from the database's; replicas time each other by the database's, "+
			"but logs and signatures use this one: synchronise it (NTP)", "database_ahead_by", skew.Round(time.Millisecond))
	}
	return nil
}

// now is the store's time, by this process's clock and the last skew.
func (m *Member) now() time.Time { return m.cfg.Now().Add(m.skewNow()) }

func (m *Member) skewNow() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.skew
}

// mayForget records a beat at now and reports whether this replica may
// forget the others: not for DeadAfter after a gap in its own beats that
// long, when it cannot tell a dead replica from one as cut off as itself.
func (m *Member) mayForget(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.lastBeat.IsZero() && now.Sub(m.lastBeat) > m.cfg.DeadAfter {
		m.forgetFrom = now.Add(m.cfg.DeadAfter)
		m.cfg.Log.Warn("this replica could not beat for a while; it forgets no other replica until they could beat again",
			"gap", now.Sub(m.lastBeat).Round(time.Millisecond), "for", m.cfg.DeadAfter)
	}
	m.lastBeat = now
	return !now.Before(m.forgetFrom)
}

// Run beats every Heartbeat until ctx ends. It does not leave: the
// process leaves once its deliveries in flight are recorded (see
// [Member.Leave]).
func (m *Member) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Heartbeat)
	defer t.Stop()
	for {
		if err := m.Beat(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Log.Error("replica heartbeat", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Leave removes this replica from the store and releases its leases, so
// that the others take its work at once rather than when they notice it
// gone. Call it after the outcomes of its deliveries are recorded: an
// outcome recorded after leaving is another replica's to record, and that
// delivery would be made twice.
func (m *Member) Leave(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.cfg.Store.Leave(ctx, m.id); err != nil {
		m.cfg.Log.Warn("leaving the replicas", "err", err)
	}
}

// Singleton runs run while this replica holds the lease name, until ctx
// ends: it tries to take the lease every Heartbeat, starts run with a
// context that ends when the lease is lost (not renewed in time, or taken
// over after this replica was thought dead), and releases the lease when
// ctx ends.
func (m *Member) Singleton(ctx context.Context, name string, run func(context.Context)) {
	t := time.NewTicker(m.cfg.Heartbeat)
	defer t.Stop()
	var stop context.CancelFunc
	done := make(chan struct{})
	close(done)
	end := func() {
		if stop != nil {
			stop()
			<-done
			stop = nil
		}
		m.setHeld(name, false)
	}
	defer func() {
		end()
		m.cfg.Store.Release(context.WithoutCancel(ctx), name, m.id)
	}()
	for {
		now := m.now()
		ok, err := m.cfg.Store.Acquire(ctx, name, m.id, now, now.Add(m.cfg.LeaseTTL))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.cfg.Log.Error("renewing a singleton lease; stopping it", "singleton", name, "err", err)
			ok = false
		}
		if ok && stop == nil {
			m.cfg.Log.Info("this replica runs a singleton", "singleton", name, "replica", m.id)
			var runCtx context.Context
			runCtx, stop = context.WithCancel(ctx)
			done = make(chan struct{})
			m.setHeld(name, true)
			go func() { defer close(done); run(runCtx) }()
		}
		if !ok && stop != nil {
			m.cfg.Log.Warn("this replica lost a singleton lease", "singleton", name)
			end()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Member) setHeld(name string, held bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held[name] = held
}
