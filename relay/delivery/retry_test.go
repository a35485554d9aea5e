package delivery_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/delivery"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// firstRetryBound is how soon a failing subscriber is tried again after
// its first failure, whether or not its circuit opened meanwhile.
const firstRetryBound = 30 * time.Second

// outcomes queues perPeer deliveries to each of peers peers, all served by
// inbox, runs a dispatcher with cfg until each delivery has one outcome
// (attempted or deferred), and returns those outcomes.
func outcomes(t *testing.T, cfg delivery.Config, inbox http.HandlerFunc, peers, perPeer int) []delivery.Result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(inbox)
	defer srv.Close()
	now := time.Now()
	for p := range peers {
		peer := fmt.Sprintf("peer%d.example", p)
		for i := range perPeer {
			msg := store.Message{ActivityID: fmt.Sprintf("a-%d-%d", p, i), Body: []byte(`{}`), At: now,
				Targets: []store.Target{{Peer: peer, Inbox: srv.URL + "/" + peer + "/inbox"}}}
			if err := st.Apply(ctx, store.Change{Messages: []store.Message{msg}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cfg.Signer == nil {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		cfg.Signer = &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: key}
	}
	cfg.Egress = policy.Egress{AllowPrivate: true}
	d := delivery.New(st, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var mu sync.Mutex
	var results []delivery.Result
	done, stopped := make(chan struct{}), make(chan struct{})
	d.OnResult = func(r delivery.Result) {
		mu.Lock()
		defer mu.Unlock()
		if results = append(results, r); len(results) == peers*perPeer {
			close(done)
		}
	}
	go func() { d.Run(ctx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("not every delivery was attempted or deferred")
	}
	cancel()
	<-stopped // every outcome recorded before the store closes
	mu.Lock()
	defer mu.Unlock()
	return results[:peers*perPeer]
}

// failing answers every delivery with 503.
func failing(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusServiceUnavailable)
}

// With the default settings, every delivery to a failing subscriber is
// scheduled again within 30 s of the subscriber's first failure: its own
// retry, and the deferral of the deliveries its circuit pauses. Several
// subscribers are used, each opening its circuit with its own jitter.
func TestFirstRetryWithinBound(t *testing.T) {
	const peers, perPeer = 6, 8
	results := outcomes(t, delivery.Config{}, failing, peers, perPeer)
	// A peer is next tried at its earliest due retry, but not before its
	// circuit closes: the dispatcher claims nothing for it until then.
	type peerView struct{ first, next, circuit time.Time }
	view := map[string]*peerView{}
	opened := 0
	for _, r := range results {
		o := r.Outcome
		if o.Delivered || o.Dead || o.NextAttempt.IsZero() {
			t.Fatalf("unexpected outcome %+v", o)
		}
		v := view[o.Delivery.Peer]
		if v == nil {
			v = &peerView{}
			view[o.Delivery.Peer] = v
		}
		if !o.Deferred && (v.first.IsZero() || o.At.Before(v.first)) {
			v.first = o.At
		}
		if v.next.IsZero() || o.NextAttempt.Before(v.next) {
			v.next = o.NextAttempt
		}
		if o.CircuitUntil.After(v.circuit) {
			v.circuit = o.CircuitUntil
			opened++
		}
	}
	if opened < peers {
		t.Fatalf("circuits opened %d times for %d peers; the test needs each to open", opened, peers)
	}
	for peer, v := range view {
		retry := v.next
		if v.circuit.After(retry) {
			retry = v.circuit
		}
		if late := retry.Sub(v.first); late > firstRetryBound {
			t.Errorf("%s: first retry %v after its first failure (earliest due retry %v, circuit open for %v), want within %v",
				peer, late.Round(time.Millisecond), v.next.Sub(v.first).Round(time.Millisecond),
				v.circuit.Sub(v.first).Round(time.Millisecond), firstRetryBound)
		}
	}
}

// Requests already on the wire when a peer's circuit opens do not open it
// again when they fail, even after it closed: a slow, failing subscriber
// is paused once, not for ever longer.
func TestLateFailuresDoNotReopenCircuit(t *testing.T) {
	const perPeer = 8
	var arrivals atomic.Int32
	slowAfterFive := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if arrivals.Add(1) > 5 {
			time.Sleep(600 * time.Millisecond) // fails after the 100 ms pause ended
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	cfg := delivery.Config{PerPeerConcurrency: perPeer, WorkerBacklog: 1, CircuitThreshold: 5, CircuitBase: 100 * time.Millisecond,
		RetryBase: time.Minute}
	opened, late := 0, 0
	for _, r := range outcomes(t, cfg, slowAfterFive, 1, perPeer) {
		if !r.Outcome.CircuitUntil.IsZero() {
			opened++
		}
		if r.Latency > 500*time.Millisecond {
			late++
		}
	}
	if late == 0 {
		t.Fatal("no request was still on the wire when the circuit opened; the test checks nothing")
	}
	if opened != 1 {
		t.Errorf("circuit opened %d times for 5 fast and %d late failures, want once", opened, late)
	}
}

// A dispatcher stopping while its store is gone (closed under it) still
// returns: recording outcomes is retried a bounded number of times, not
// forever, and the deliveries stay leased for the next start.
func TestStopsWhenOutcomesCannotBeRecorded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	msg := store.Message{ActivityID: "a-1", Body: []byte(`{}`), At: time.Now(),
		Targets: []store.Target{{Peer: "peer.example", Inbox: srv.URL + "/inbox"}}}
	if err := st.Apply(ctx, store.Change{Messages: []store.Message{msg}}); err != nil {
		t.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	d := delivery.New(st, delivery.Config{Signer: &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: key},
		Egress: policy.Egress{AllowPrivate: true}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	<-arrived
	st.Close()
	cancel()
	close(release)
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("the dispatcher did not stop: it retries recording outcomes forever")
	}
}

// A few deliveries to one peer go one after another over one connection:
// at thousands of subscribers a connection per delivery costs a dial each
// (a tenth of the relay's CPU at 10,000 subscribers, measured). Only a
// backlog gets more workers.
func TestFewDeliveriesShareOneConnection(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	count := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}
	outcomes(t, delivery.Config{}, count, 1, 5)
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Errorf("5 deliveries to one peer used %d connections, want 1", len(conns))
	}
}
