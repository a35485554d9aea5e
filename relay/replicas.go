package relay

import (
	"context"
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
	// lastAudit is the newest audit entry the change poll has seen.
	lastAudit atomic.Int64
}

func newReplication(s *Server) *replication {
	_, shared := s.store.(store.Watcher)
	r := &replication{s: s, shared: shared}
	r.member = replica.New(replica.Config{Store: s.store.Replicas(), Log: s.log.With("component", "replicas"),
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
		r.lastAudit.Store(newest[0].ID)
	}
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
// memory.
func (r *replication) onEvent(e store.Event) {
	ctx := r.s.bg.Context()
	switch e.Topic {
	case store.TopicQueue:
		r.s.dispatcher.Notify()
	case store.TopicDropped:
		slice, peer, cutoff, err := store.ParseDropped(e.Payload)
		if err != nil {
			r.s.log.Error("a replica's change", "err", err)
			return
		}
		r.s.dispatcher.DropPeer(peer, slice, cutoff)
	case store.TopicPolicy:
		r.logErr("reloading moderation rules", r.s.mod.Reload(ctx))
	case store.TopicSettings:
		r.logErr("reloading the approval mode", r.s.loadApproval(ctx))
	case store.TopicBridges:
		r.logErr("reloading bridges", r.s.svc.bridges.Load(ctx))
	}
}

// poll reloads what other replicas may have changed when the audit log,
// which records every moderation, setting and bridge change, grew.
func (r *replication) poll(ctx context.Context) error {
	entries, err := r.s.store.Audit(ctx, r.lastAudit.Load(), 1000)
	if err != nil || len(entries) == 0 {
		return err
	}
	r.lastAudit.Store(entries[len(entries)-1].ID)
	r.reload(ctx)
	return nil
}

// reload reads again everything replicas keep in memory from the store.
func (r *replication) reload(ctx context.Context) {
	r.logErr("reloading moderation rules", r.s.mod.Reload(ctx))
	r.logErr("reloading the approval mode", r.s.loadApproval(ctx))
	r.logErr("reloading bridges", r.s.svc.bridges.Load(ctx))
	r.s.dispatcher.Notify()
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
