package delivery

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
)

func TestDropPeerKeepsLaterDeliveries(t *testing.T) {
	d := New(nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cut := time.Unix(1000, 0)
	p := &peer{}
	for i, at := range []time.Time{cut.Add(-time.Second), cut.Add(-time.Millisecond), cut, cut.Add(time.Second), cut.Add(-time.Second)} {
		id := int64(i + 1)
		slice := ""
		if id == 5 {
			slice = "surplus" // another subscription of the same peer
		}
		p.queue = append(p.queue, item{d: store.Delivery{ID: id, CreatedAt: at, Slice: slice}})
		d.inflight[id] = true
	}
	d.peers["a.example"] = p
	d.DropPeer("a.example", "", cut)
	d.DropPeer("unknown.example", "", cut)
	if len(p.queue) != 3 || p.queue[0].d.ID != 3 || p.queue[1].d.ID != 4 || p.queue[2].d.ID != 5 {
		t.Fatalf("kept %+v", p.queue)
	}
	if c := d.cutoffs[cutoffKey("a.example", "")]; !c.Equal(cut) {
		t.Errorf("cutoff = %v, want %v (workers check it before sending)", c, cut)
	}
	if d.inflight[1] || d.inflight[2] || !d.inflight[3] || !d.inflight[4] || !d.inflight[5] {
		t.Fatalf("in flight %v", d.inflight)
	}
}

// A worker that already took a delivery does not send it when the
// subscription ended after it was queued.
func TestWorkerHonoursCutoff(t *testing.T) {
	d := New(nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cut := time.Now()
	d.cutoffs[cutoffKey("a.example", "surplus")] = cut
	p := &peer{workers: 1, queue: []item{{d: store.Delivery{ID: 7, Peer: "a.example", Slice: "surplus", CreatedAt: cut.Add(-time.Second),
		Inbox: "http://a.example/inbox"}}}}
	d.peers["a.example"] = p
	d.work(context.Background(), "a.example", p) // no signer: an attempt would panic
	select {
	case r := <-d.results:
		if r.Outcome.Dropped != "unsubscribed" || r.Outcome.Delivery.ID != 7 {
			t.Fatalf("outcome = %+v", r.Outcome)
		}
	default:
		t.Fatal("no outcome")
	}
}
