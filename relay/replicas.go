package relay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/replica"
	"github.com/runrig/runrig/relay/store"
)

// Replication's timings.
const (
	// changePoll is how often a replica on a shared store looks for
	// other replicas' moderation, setting and bridge changes in the audit
	// log: the fallback when LISTEN is unavailable (behind a
	// transaction-mode pooler) or its connection dropped.
	changePoll = time.Second
	// watchRetry is the pause before listening again after the listening
	// connection failed.
	watchRetry = time.Second
	// reloadGap is the least time between two reloads a notification
	// asks for: notifications are hints anyone who can connect to the
	// database may send, and a flood of them must not become a flood of
	// reloads.
	reloadGap = 100 * time.Millisecond
	// auditWindow is how far below the newest audit entry seen the poll
	// looks again: ids are taken when an entry is written but committed
	// in any order, so one may appear below the newest seen.
	auditWindow = 64
)

// What a reload reads again, as bits of replication.pending.
const (
	reloadPolicy uint32 = 1 << iota
	reloadApproval
	reloadBridges
	reloadAll = reloadPolicy | reloadApproval | reloadBridges
)

// Singletons: the background work one replica at a time does.
const (
	singletonLists      = "lists"
	singletonPrune      = "prune"
	singletonBridges    = "bridges"
	singletonFederation = "federation"
	singletonDiscovery  = "discovery"
)

// replication joins this process to the other replicas sharing its store
// (PostgreSQL). On SQLite it is a replica of one: it holds every
// singleton at once and hears of no one else's changes.
type replication struct {
	s      *Server
	member *replica.Member
	// shared: other replicas may use the store (it tells of their
	// changes).
	shared bool

	delivered, failed atomic.Int64
	// pending are the reloads notifications asked for (reload bits);
	// kick wakes the reloader.
	pending atomic.Uint32
	kick    chan struct{}

	// auditMu guards the following fields, the change poll's.
	auditMu sync.Mutex
	// lastAudit is the newest audit entry the change poll has seen, and
	// seenAudit the ids it has seen within auditWindow below it.
	lastAudit int64
	seenAudit map[int64]bool
}

func newReplication(s *Server) *replication {
	_, shared := s.store.(store.Watcher)
	r := &replication{s: s, shared: shared, kick: make(chan struct{}, 1), seenAudit: map[int64]bool{}}
	rc := s.cfg.Replicas
	r.member = replica.New(replica.Config{Store: s.store.Replicas(), Log: s.log.With("component", "replicas"),
		Heartbeat: rc.Heartbeat, DeadAfter: rc.DeadAfter, LeaseTTL: rc.LeaseTTL,
		Load: func() replica.Load {
			return replica.Load{InFlight: s.dispatcher.InFlight(), Delivered: r.delivered.Load(), Failed: r.failed.Load()}
		}})
	return r
}

// start beats, and on a shared store listens for and polls for the other
// replicas' changes. A first beat before serving makes the replica known
// at once.
func (r *replication) start(ctx context.Context) error {
	if err := r.member.Beat(ctx); err != nil {
		return err
	}
	r.s.bg.Go(func() { r.member.Run(ctx) })
	if !r.shared {
		return nil
	}
	if newest, err := r.s.store.SearchAudit(ctx, store.AuditFilter{Limit: 1}); err == nil && len(newest) > 0 {
		r.lastAudit = newest[0].ID
	}
	r.s.bg.Go(func() { r.reloader(ctx) })
	r.s.bg.Go(func() { r.watch(ctx) })
	r.s.bg.Go(func() { r.s.every(ctx, changePoll, false, "looking for other replicas' changes", r.poll) })
	return nil
}

// singleton runs f while this replica holds the lease name.
func (r *replication) singleton(ctx context.Context, name string, f func(context.Context)) {
	r.s.bg.Go(func() { r.member.Singleton(ctx, name, f) })
}

// watch hears other replicas' changes as they commit, until ctx ends;
// after the listening connection fails, everything is reloaded.
func (r *replication) watch(ctx context.Context) {
	w := r.s.store.(store.Watcher)
	for ctx.Err() == nil {
		err := w.Watch(ctx, r.onEvent)
		if ctx.Err() != nil {
			return
		}
		r.s.log.Warn("listening for other replicas' changes failed; polling meanwhile", "err", err)
		r.reload(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}

// onEvent applies another replica's change to what this one holds in
// memory. An event is a hint: anyone who may connect to the database can
// send one, so it only makes the replica look again at the store.
func (r *replication) onEvent(e store.Event) {
	switch e.Topic {
	case store.TopicQueue:
		r.s.dispatcher.Notify()
	case store.TopicDropped:
		r.dropped(e.Payload)
	case store.TopicPolicy:
		r.reloadSoon(reloadPolicy)
	case store.TopicSettings:
		r.reloadSoon(reloadApproval)
	case store.TopicBridges:
		r.reloadSoon(reloadBridges)
	}
}

// dropped forgets the deliveries held in memory for a subscription
// another replica dropped, if the store agrees it is no longer accepted,
// and never those queued after the event arrived.
func (r *replication) dropped(payload string) {
	slice, peer, cutoff, err := store.ParseDropped(payload)
	if err != nil { // anyone who may connect can send one: logged at most once a minute
		r.s.peerLog.Warn("database", "bad_notification", "a malformed notification of a dropped subscription", "err", err)
		return
	}
	sub, err := r.s.store.Subscriber(r.s.bg.Context(), slice, peer)
	switch {
	case err == nil && sub.State == store.Accepted:
		return // subscribed still (or again): nothing to drop
	case err != nil && !errors.Is(err, store.ErrNotFound):
		r.logErr("checking a dropped subscription", err)
		return
	}
	if now := time.Now(); cutoff.After(now) {
		cutoff = now
	}
	r.s.dispatcher.DropPeer(peer, slice, cutoff)
}

// reloadSoon asks the reloader to read what bits name again.
func (r *replication) reloadSoon(bits uint32) {
	r.pending.Or(bits)
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// reloader reads again what notifications asked for, at most once every
// reloadGap, until ctx ends.
func (r *replication) reloader(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		r.reloadOnly(ctx, r.pending.Swap(0))
		select {
		case <-ctx.Done():
			return
		case <-time.After(reloadGap):
		}
	}
}

// poll reloads what other replicas may have changed when the audit log,
// which records every moderation, setting and bridge change, has entries
// it has not seen.
func (r *replication) poll(ctx context.Context) error {
	r.auditMu.Lock()
	defer r.auditMu.Unlock()
	entries, err := r.s.store.Audit(ctx, max(r.lastAudit-auditWindow, 0), 1000)
	if err != nil {
		return err
	}
	fresh := false
	for _, e := range entries {
		if !r.seenAudit[e.ID] {
			r.seenAudit[e.ID] = true
			fresh = true
		}
		r.lastAudit = max(r.lastAudit, e.ID)
	}
	for id := range r.seenAudit {
		if id < r.lastAudit-auditWindow {
			delete(r.seenAudit, id)
		}
	}
	if fresh {
		r.reload(ctx)
	}
	return nil
}

// reload reads again everything replicas keep in memory from the store.
func (r *replication) reload(ctx context.Context) {
	r.reloadOnly(ctx, reloadAll)
	r.s.dispatcher.Notify()
}

// reloadOnly reads again what bits name.
func (r *replication) reloadOnly(ctx context.Context, bits uint32) {
	if bits&reloadPolicy != 0 {
		r.logErr("reloading moderation rules", r.s.mod.Reload(ctx))
	}
	if bits&reloadApproval != 0 {
		r.logErr("reloading the approval mode", r.s.loadApproval(ctx))
	}
	if bits&reloadBridges != 0 {
		r.logErr("reloading bridges", r.s.svc.bridges.Load(ctx))
	}
}

func (r *replication) logErr(what string, err error) {
	if err != nil && r.s.bg.Context().Err() == nil {
		r.s.log.Error(what, "err", err)
	}
}

// counted records a delivery outcome in the replica's load.
func (r *replication) counted(o store.Outcome) {
	switch {
	case o.Delivered:
		r.delivered.Add(1)
	case o.Dropped == "" && !o.Deferred:
		r.failed.Add(1)
	}
}

// Status lists the replicas and the singletons' leases (the admin API's
// `replicas`).
func (r *replication) Status(ctx context.Context) (admin.Replicas, error) {
	rs, err := r.s.store.Replicas().List(ctx)
	if err != nil {
		return admin.Replicas{}, err
	}
	ls, err := r.s.store.Replicas().Leases(ctx)
	if err != nil {
		return admin.Replicas{}, err
	}
	out := admin.Replicas{This: r.member.ID(), Replicas: []admin.Replica{}, Singletons: []admin.Singleton{}}
	for _, x := range rs {
		out.Replicas = append(out.Replicas, admin.Replica{ID: x.ID, Host: x.Host, StartedAt: x.StartedAt, SeenAt: x.SeenAt,
			InFlight: x.InFlight, Delivered: x.Delivered, Failed: x.Failed})
	}
	for _, l := range ls {
		out.Singletons = append(out.Singletons, admin.Singleton{Name: l.Name, Owner: l.Owner, Until: l.Until})
	}
	return out, nil
}
