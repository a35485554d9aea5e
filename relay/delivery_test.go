package relay_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/relaytest"
)

// A subscriber that is down gets everything once it is back, and the
// others are not held up meanwhile.
func TestSubscriberDownAndBack(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	pub, up, down := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	for _, in := range []*relaytest.Instance{pub, up, down} {
		subscribe(t, r, in)
	}
	down.InboxStatus.Store(http.StatusServiceUnavailable)
	const n = 10
	for i := 0; i < n; i++ {
		publish(t, r, pub, pub.Note("", "while down", nil), http.StatusAccepted)
	}
	waitFor(t, "healthy subscriber served", func() bool { return len(up.ReceivedOf("Announce")) == n })
	waitFor(t, "failures recorded", func() bool {
		subs, _ := r.Admin.Subscribers(ctx)
		for _, s := range subs {
			if s.Peer == down.Host() {
				return s.ConsecutiveFailures >= 5 && s.LastError == "HTTP 503" && s.Queued == n
			}
		}
		return false
	})
	down.InboxStatus.Store(http.StatusAccepted)
	waitFor(t, "all delivered after recovery", func() bool { return len(down.ReceivedOf("Announce")) == n })
	waitFor(t, "health reset", func() bool {
		subs, _ := r.Admin.Subscribers(ctx)
		for _, s := range subs {
			if s.Peer == down.Host() {
				return s.ConsecutiveFailures == 0 && !s.LastSuccess.IsZero() && s.Queued == 0
			}
		}
		return false
	})
	seen := map[string]int{}
	for _, a := range down.ReceivedOf("Announce") {
		seen[a.ObjectID()]++
	}
	if len(seen) != n {
		t.Errorf("distinct objects = %d, want %d", len(seen), n)
	}
}

// After its last attempt a delivery is dead, visible, and can be retried.
func TestDeadLetterAndRetry(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { c.Delivery.MaxAttempts = 2 })
	ctx := context.Background()
	pub, gone := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, pub)
	subscribe(t, r, gone)
	gone.InboxStatus.Store(http.StatusInternalServerError)
	publish(t, r, pub, pub.Note("", "doomed", nil), http.StatusAccepted)
	waitFor(t, "dead letter", func() bool {
		d, _ := r.Admin.Deliveries(ctx, "dead", "", 0)
		return d.Counts["dead"] == 1 && len(d.Deliveries) == 1 && d.Deliveries[0].Attempts == 2 &&
			d.Deliveries[0].Peer == gone.Host() && d.Deliveries[0].LastError == "HTTP 500"
	})
	time.Sleep(300 * time.Millisecond) // longer than any retry delay in the test relay
	if n := len(gone.Received()) - 1; n != 0 {
		t.Fatalf("dead delivery was still attempted")
	}
	gone.InboxStatus.Store(http.StatusAccepted)
	res, err := r.Admin.Retry(ctx, nil)
	if err != nil || res.Requeued != 1 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	waitFor(t, "delivered after retry", func() bool { return len(gone.ReceivedOf("Announce")) == 1 })
	if v := metric(t, r, `runrig_deliveries_total{result="dead"}`); v != "1" {
		t.Errorf("dead metric = %q", v)
	}
}

// A subscriber that takes long to answer does not delay the others: they
// receive everything while it is still working through its first requests.
func TestSlowSubscriberDoesNotDelayOthers(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { c.Delivery.PerPeerConcurrency = 2 })
	pub, slow := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	fast := []*relaytest.Instance{newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Misskey), newInstance(t, relaytest.Pleroma)}
	subscribe(t, r, pub)
	subscribe(t, r, slow)
	for _, in := range fast {
		subscribe(t, r, in)
	}
	slow.Hold()
	defer slow.Release()
	const n = 20
	for i := 0; i < n; i++ {
		publish(t, r, pub, pub.Note("", "busy day", nil), http.StatusAccepted)
	}
	for _, in := range fast {
		waitFor(t, string(in.Kind)+" served while the slow one hangs", func() bool { return len(in.ReceivedOf("Announce")) == n })
	}
	if got := len(slow.ReceivedOf("Announce")); got != 0 {
		t.Fatalf("held subscriber recorded %d", got)
	}
	slow.Release()
	waitFor(t, "slow subscriber catches up", func() bool { return len(slow.ReceivedOf("Announce")) == n })
}

// A graceful shutdown with deliveries stuck at a subscriber returns within
// its bound and keeps them queued; the next start delivers them.
func TestShutdownKeepsUnfinishedWork(t *testing.T) {
	dir := t.TempDir()
	shorter := func(c *relay.Config) {
		c.ShutdownTimeout = 5 * time.Second
		c.Delivery.DrainTimeout = 200 * time.Millisecond
	}
	r := startRelayIn(t, dir, "127.0.0.1:0", shorter)
	pub, held := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, pub)
	subscribe(t, r, held)
	held.Hold()
	for i := 0; i < 5; i++ {
		publish(t, r, pub, pub.Note("", "before shutdown", nil), http.StatusAccepted)
	}
	time.Sleep(100 * time.Millisecond) // deliveries are in flight, held
	start := time.Now()
	r.stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	held.Release()
	if n := len(held.ReceivedOf("Announce")); n != 0 {
		t.Fatalf("held deliveries recorded after their requests were cancelled: %d", n)
	}
	startRelayIn(t, dir, r.Addr, shorter)
	waitFor(t, "delivered after restart", func() bool { return len(held.ReceivedOf("Announce")) == 5 })
}

// With a shutdown delay, the relay keeps answering during the delay, with
// /readyz at 503, before it stops.
func TestReadyzDuringShutdownDelay(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { c.ShutdownDelay = time.Second })
	done := make(chan struct{})
	go func() { r.stop(); close(done) }()
	saw503 := false
	for !saw503 {
		select {
		case <-done:
			t.Fatal("the relay stopped without answering 503 on /readyz first")
		default:
		}
		if resp, err := http.Get(r.URL + "/readyz"); err == nil {
			saw503 = resp.StatusCode == http.StatusServiceUnavailable
			resp.Body.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, err := http.Get(r.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("not serving during the delay: %v", err)
	}
	<-done
}
