package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/store"
)

// Limits on what the dispatcher reads back from an inbox.
const (
	maxResponseRead = 64 << 10
	maxErrorText    = 200
	completeBatch   = 256
	// stopRecordAttempts bounds the attempts to record a batch of
	// outcomes once the dispatcher is stopping.
	stopRecordAttempts = 3
	// stopRecordWait is the pause between those attempts.
	stopRecordWait = 100 * time.Millisecond
)

// Queue is the part of the durable delivery queue the dispatcher works
// from: it leases due deliveries and records what became of them.
type Queue interface {
	// Claim leases due deliveries for delivery by this process.
	Claim(ctx context.Context, req store.ClaimRequest) (store.Claimed, error)
	// Complete records the outcomes of claimed deliveries.
	Complete(ctx context.Context, outcomes []store.Outcome) error
}

// Result is one finished attempt, reported to the OnResult hook.
type Result struct {
	Outcome store.Outcome
	// Latency is the attempt's duration (zero when deferred).
	Latency time.Duration
	// Reason labels a failure: "status_5xx", "timeout", "connect", ...
	Reason string
}

// Dispatcher delivers queued activities. Create it with [New] and run it
// with [Dispatcher.Run].
type Dispatcher struct {
	q      Queue
	cfg    Config
	log    *slog.Logger
	client *http.Client

	// OnResult, if set before Run, is called once per recorded outcome.
	OnResult func(Result)
	// OnExpired, if set before Run, is told how many queued deliveries a
	// claim dropped because their message expired.
	OnExpired func(n int)
	// Permit, if set before Run, is asked before every attempt whether
	// the peer may still receive; a refused delivery is dropped (reason
	// "blocked"), so a newly blocked subscriber gets nothing more, at once.
	Permit func(peer string) bool
	// OnKnock, if set before Run, is told of every second knock: a
	// delivery refused (401 or 400) signed one way, retried the other.
	OnKnock func(peer string, retry httpsig.Kind)

	wake    chan struct{}
	results chan Result
	// signing bounds concurrent RSA signing to the number of CPUs, so
	// that a large fan-out leaves the inbox a fair share of the CPU
	// instead of queueing it behind hundreds of runnable signers.
	signing chan struct{}

	// mu guards the following fields.
	mu       sync.Mutex
	peers    map[string]*peer
	inflight map[int64]bool // claimed and not yet recorded
	// cutoffs are set by DropPeer, by peer and slice: deliveries created
	// before the cutoff are not sent, even if a worker already took them.
	cutoffs map[string]time.Time
}

// maxCutoffs bounds DropPeer's cutoffs; the oldest go first.
const maxCutoffs = 10000

func cutoffKey(peer, slice string) string { return peer + "\x00" + slice }

// peer is the in-memory state of one destination peer.
type peer struct {
	queue        []item
	workers      int
	failures     int
	circuitUntil time.Time
	// opened counts the circuit's openings: an attempt that started
	// before the latest one does not count against the peer.
	opened int
}

type item struct {
	d       store.Delivery
	body    []byte
	digests httpsig.Digests
}

// New returns a Dispatcher working on q.
func New(q Queue, cfg Config, log *slog.Logger) *Dispatcher {
	cfg.setDefaults()
	tr := &http.Transport{
		DialContext:           cfg.Egress.Dialer(net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          idleConns(openFileLimit(), cfg.MaxInFlight),
		MaxIdleConnsPerHost:   cfg.PerPeerConcurrency,
		MaxConnsPerHost:       cfg.PerPeerConcurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: cfg.RequestTimeout,
	}
	return &Dispatcher{
		q:   q,
		cfg: cfg,
		log: log,
		client: &http.Client{Transport: tr, Timeout: cfg.RequestTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		wake:     make(chan struct{}, 1),
		results:  make(chan Result, cfg.MaxInFlight),
		signing:  make(chan struct{}, runtime.GOMAXPROCS(0)),
		peers:    map[string]*peer{},
		inflight: map[int64]bool{},
		cutoffs:  map[string]time.Time{},
	}
}

// Notify tells the dispatcher new work was queued.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// DropPeer forgets the deliveries to peer for slice queued before `before`
// that are held in memory and not yet started, after the store dropped them
// (the peer unsubscribed or was rejected): nothing more is sent for that
// subscription but requests already on the wire. Deliveries queued from
// `before` on, such as the Reject telling the peer, are kept.
func (d *Dispatcher) DropPeer(peer, slice string, before time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.cutoffs) >= maxCutoffs {
		var oldest string
		for k, t := range d.cutoffs {
			if oldest == "" || t.Before(d.cutoffs[oldest]) {
				oldest = k
			}
		}
		delete(d.cutoffs, oldest)
	}
	if key := cutoffKey(peer, slice); before.After(d.cutoffs[key]) {
		d.cutoffs[key] = before
	}
	p := d.peers[peer]
	if p == nil {
		return
	}
	kept := p.queue[:0]
	for _, it := range p.queue {
		if it.d.Slice == slice && it.d.CreatedAt.Before(before) {
			delete(d.inflight, it.d.ID)
			continue
		}
		kept = append(kept, it)
	}
	p.queue = kept
}

// InFlight returns how many deliveries are held in memory.
func (d *Dispatcher) InFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.inflight)
}

// Run delivers until ctx is done, then lets requests in flight finish (up
// to DrainTimeout), returns unstarted work to the queue and records every
// outcome before returning.
func (d *Dispatcher) Run(ctx context.Context) {
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	var workers sync.WaitGroup
	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		d.complete(ctx)
	}()

	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	for ctx.Err() == nil {
		for d.fill(ctx, reqCtx, &workers) {
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-tick.C:
		}
	}

	d.returnQueued()
	drained := make(chan struct{})
	go func() { workers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(d.cfg.DrainTimeout):
		cancelReqs()
		<-drained
	}
	close(d.results)
	<-completerDone
}

// fill claims due work and starts workers; it reports whether a full batch
// was claimed (so there may be more).
func (d *Dispatcher) fill(ctx, reqCtx context.Context, wg *sync.WaitGroup) bool {
	now := time.Now()
	d.mu.Lock()
	room := d.cfg.MaxInFlight - len(d.inflight)
	var exclude []string
	for name, p := range d.peers {
		if len(p.queue) >= d.cfg.PerPeerQueue || now.Before(p.circuitUntil) {
			exclude = append(exclude, name)
		}
	}
	held := len(d.inflight)
	d.mu.Unlock()
	// Claim in worthwhile batches: while plenty is held in memory, wait
	// until a quarter of a batch has room rather than querying the store
	// after every completed delivery.
	if room <= 0 || (held > 0 && room < d.cfg.ClaimBatch/4) {
		return false
	}
	limit := min(room, d.cfg.ClaimBatch)
	req := store.ClaimRequest{Now: now, Lease: d.cfg.Lease, Limit: limit, ExcludePeers: exclude, Owner: d.cfg.Owner}
	if d.cfg.Shard != nil {
		req.Shard, req.Shards = d.cfg.Shard()
	}
	cl, err := d.q.Claim(ctx, req)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("claiming deliveries", "err", err)
		}
		return false
	}
	if cl.Expired > 0 && d.OnExpired != nil {
		d.OnExpired(cl.Expired)
	}
	digests := make(map[int64]httpsig.Digests, len(cl.Bodies))
	for id, b := range cl.Bodies {
		digests[id] = httpsig.DigestsOf(b)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dl := range cl.Deliveries {
		if d.inflight[dl.ID] {
			continue
		}
		d.inflight[dl.ID] = true
		p := d.peers[dl.Peer]
		if p == nil {
			p = &peer{}
			d.peers[dl.Peer] = p
		}
		p.queue = append(p.queue, item{d: dl, body: cl.Bodies[dl.PayloadID], digests: digests[dl.PayloadID]})
		// Another worker (and connection) only for a backlog: a few
		// deliveries go one after another over one connection, which at
		// thousands of subscribers saves a dial per delivery.
		if p.workers == 0 || (p.workers < d.cfg.PerPeerConcurrency && len(p.queue) > d.cfg.WorkerBacklog*p.workers) {
			p.workers++
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.work(reqCtx, dl.Peer, p)
			}()
		}
	}
	return len(cl.Deliveries) == limit
}

// work delivers a peer's queued items until its queue is empty.
func (d *Dispatcher) work(ctx context.Context, name string, p *peer) {
	for {
		d.mu.Lock()
		if len(p.queue) == 0 || ctx.Err() != nil {
			p.workers--
			if p.workers == 0 && len(p.queue) == 0 && p.failures == 0 {
				delete(d.peers, name)
			}
			d.mu.Unlock()
			return
		}
		it := p.queue[0]
		p.queue = p.queue[1:]
		open := time.Now().Before(p.circuitUntil)
		until, gen := p.circuitUntil, p.opened
		cutoff := d.cutoffs[cutoffKey(it.d.Peer, it.d.Slice)]
		d.mu.Unlock()

		if it.d.CreatedAt.Before(cutoff) { // the subscription ended after it was taken
			d.results <- Result{Outcome: store.Outcome{Delivery: it.d, At: time.Now(), Dropped: "unsubscribed"}}
			continue
		}

		if now := time.Now(); !it.d.Expires.IsZero() && now.After(it.d.Expires) {
			d.results <- Result{Outcome: store.Outcome{Delivery: it.d, At: now, Dropped: "expired"}}
			continue
		}
		if d.Permit != nil && it.d.Slice != store.FarewellSlice && !d.Permit(it.d.Peer) {
			d.results <- Result{Outcome: store.Outcome{Delivery: it.d, At: time.Now(), Dropped: "blocked"}}
			continue
		}
		if open {
			d.results <- Result{Outcome: store.Outcome{Delivery: it.d, At: time.Now(), Deferred: true,
				NextAttempt: until.Add(jitter(time.Second))}}
			continue
		}
		d.results <- d.attempt(ctx, p, it, gen)
	}
}

// attempt makes one delivery, started when the peer's circuit had opened
// gen times, and decides what follows.
func (d *Dispatcher) attempt(ctx context.Context, p *peer, it item, gen int) Result {
	start := time.Now()
	status, retryAfter, err := d.post(ctx, it)
	now := time.Now()
	res := Result{Latency: now.Sub(start), Outcome: store.Outcome{Delivery: it.d, At: now}}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil && status >= 200 && status < 300 {
		p.failures, p.circuitUntil = 0, time.Time{}
		res.Outcome.Delivered = true
		return res
	}
	res.Reason, res.Outcome.Err = classify(status, err)
	// A request that was already on the wire when the circuit opened
	// neither counts nor prolongs the pause, however late it fails: only
	// requests started since the latest opening do, so the first pause is
	// CircuitBase and each failed probe after it doubles it.
	if gen == p.opened {
		p.failures++
		if p.failures >= d.cfg.CircuitThreshold {
			open := retryDelay(p.failures-d.cfg.CircuitThreshold+1, d.cfg.CircuitBase, d.cfg.CircuitMax)
			p.circuitUntil = now.Add(open)
			p.opened++
			res.Outcome.CircuitUntil = p.circuitUntil
		}
	}
	attempts := it.d.Attempts + 1
	if status == http.StatusGone || attempts >= d.cfg.MaxAttempts {
		res.Outcome.Dead = true
		return res
	}
	delay := retryDelay(attempts, d.cfg.RetryBase, d.cfg.RetryMax)
	if retryAfter > delay {
		delay = min(retryAfter, d.cfg.RetryMax)
	}
	res.Outcome.NextAttempt = now.Add(delay)
	return res
}

// post delivers it, signed the way the peer is known to take; a 401 or
// 400 to the first kind gets one retry with the other (the double-knock),
// and what the peer answered is remembered.
func (d *Dispatcher) post(ctx context.Context, it item) (status int, retryAfter time.Duration, err error) {
	first, retry := httpsig.KindCavage, httpsig.Kind("")
	if d.cfg.Schemes != nil {
		first, retry = d.cfg.Schemes.Plan(it.d.Peer)
	}
	status, retryAfter, err = d.postSigned(ctx, it, first)
	if err != nil || d.cfg.Schemes == nil {
		return status, retryAfter, err
	}
	refused := status == http.StatusUnauthorized || status == http.StatusBadRequest
	if refused || status/100 == 2 {
		d.cfg.Schemes.Record(it.d.Peer, first, !refused)
	}
	if !refused || retry == "" {
		return status, retryAfter, nil
	}
	if d.OnKnock != nil {
		d.OnKnock(it.d.Peer, retry)
	}
	status, retryAfter, err = d.postSigned(ctx, it, retry)
	if err == nil && (status == http.StatusUnauthorized || status == http.StatusBadRequest || status/100 == 2) {
		d.cfg.Schemes.Record(it.d.Peer, retry, status/100 == 2)
	}
	return status, retryAfter, err
}

// postSigned makes one signed POST of it.
func (d *Dispatcher) postSigned(ctx context.Context, it item, kind httpsig.Kind) (status int, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, it.d.Inbox, bytes.NewReader(it.body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", `application/activity+json`)
	if d.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", d.cfg.UserAgent)
	}
	d.signing <- struct{}{}
	err = d.cfg.Signer.SignKind(req, kind, it.digests, it.d.KeyID)
	<-d.signing
	if err != nil {
		return 0, 0, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

func classify(status int, err error) (reason, text string) {
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			reason = "timeout"
		case errors.Is(err, context.Canceled):
			reason = "canceled"
		default:
			reason = "connect"
		}
		return reason, store.PeerText(err.Error(), maxErrorText)
	}
	switch {
	case status >= 500:
		reason = "status_5xx"
	case status == http.StatusTooManyRequests:
		reason = "status_429"
	case status >= 400:
		reason = "status_4xx"
	default:
		reason = "status_other"
	}
	return reason, fmt.Sprintf("HTTP %d", status)
}

// returnQueued hands unstarted work back to the queue at shutdown.
func (d *Dispatcher) returnQueued() {
	d.mu.Lock()
	var back []item
	for _, p := range d.peers {
		back = append(back, p.queue...)
		p.queue = nil
	}
	d.mu.Unlock()
	now := time.Now()
	for _, it := range back {
		d.results <- Result{Outcome: store.Outcome{Delivery: it.d, At: now, Deferred: true, NextAttempt: now}}
	}
}

// complete records outcomes until results is closed. It never waits to
// fill a batch: an outcome is committed as soon as the previous commit is
// done, together with whatever arrived meanwhile (group commit), which keeps
// the window between a subscriber's acknowledgement and its record short.
// A batch that fails to commit is retried until it commits; once ctx is
// done (the dispatcher is stopping, and the store may be closing) only
// stopRecordAttempts times, after which its deliveries' leases bring them
// back.
func (d *Dispatcher) complete(ctx context.Context) {
	batch := make([]Result, 0, completeBatch)
	for r := range d.results {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < completeBatch {
			select {
			case r, ok := <-d.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		d.record(ctx, batch)
	}
}

func (d *Dispatcher) record(ctx context.Context, batch []Result) {
	outs := make([]store.Outcome, len(batch))
	for i, r := range batch {
		outs[i] = r.Outcome
	}
	for attempt, wait := 1, 50*time.Millisecond; ; attempt, wait = attempt+1, min(wait*2, 5*time.Second) {
		err := d.q.Complete(context.WithoutCancel(ctx), outs)
		if err == nil {
			break
		}
		if ctx.Err() != nil && attempt >= stopRecordAttempts {
			// Not lost: each delivery is still leased in the store and
			// is claimed again when its lease ends.
			d.log.Error("delivery outcomes not recorded while stopping; their deliveries run again when their leases end",
				"err", err, "count", len(outs))
			return
		}
		d.log.Error("recording delivery outcomes; will retry", "err", err, "count", len(outs))
		if ctx.Err() != nil {
			time.Sleep(stopRecordWait) // stopping: a few quick attempts
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	d.mu.Lock()
	for _, o := range outs {
		delete(d.inflight, o.Delivery.ID)
	}
	d.mu.Unlock()
	if d.OnResult != nil {
		for _, r := range batch {
			d.OnResult(r)
		}
	}
	d.Notify()
}
