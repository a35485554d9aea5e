package simulation

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/metrics"
)

// One process holds both ends of every connection between its nodes, and
// its open files are limited (20,000 here): a few hundred DHT nodes do not
// fit in one. Larger networks run in several processes on the same
// machine: this one holds the nodes that measure (lookups, refreshes,
// publications), the others hold the rest and report their traffic.

// Remote is a group of DHT nodes running in another process.
type Remote interface {
	// Sent is the bytes its nodes sent so far, as last reported.
	Sent() float64
	// Heap is the live heap its nodes hold, bytes.
	Heap() float64
	// Close stops them.
	Close() error
}

// Spawn starts count DHT nodes, named from number first on, in another
// process, joining through boot; key hears each node's domain and public
// key, to verify its announcement.
type Spawn func(ctx context.Context, first, count int, boot []string, key func(domain string, pub ed25519.PublicKey)) (Remote, error)

// reportEvery is how often a process of nodes reports its traffic.
const reportEvery = 250 * time.Millisecond

// ServeNodes is the other process's side of Spawn: it starts count nodes
// from number first, joining through boot, publishes their announcements
// and writes to w a "key DOMAIN BASE64" line per node, "ready HEAP" once
// all are published, then "sent BYTES" every reportEvery until ctx ends.
func ServeNodes(ctx context.Context, w io.Writer, first, count int, boot []string) error {
	ring, bw := newKeyring(), metrics.NewBandwidthCounter()
	before := heapInUse()
	nodes := make([]*dhtRelay, 0, count)
	defer func() {
		for _, nd := range nodes {
			nd.d.Close()
		}
	}()
	for i := range count {
		via := boot[i%len(boot)]
		if i > 0 && i%2 == 1 { // half through a node of this process
			via = nodes[(i*7919)%i].d.Addrs()[0]
		}
		domain := fmt.Sprintf("relay%04d.example", first+i)
		nd, err := startDHTRelay(ctx, ring, bw, domain, []string{via})
		if err != nil {
			return err
		}
		nodes = append(nodes, nd)
		pub := ring.privOf(domain).Public().(ed25519.PublicKey)
		fmt.Fprintf(w, "key %s %s\n", domain, base64.StdEncoding.EncodeToString(pub))
	}
	for i, nd := range nodes {
		if err := publish(ctx, nd, ring.privOf(nd.domain), (first+i)%len(regions), 1); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "ready %d\n", heapInUse()-before)
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			fmt.Fprintf(w, "sent %d\n", bw.GetBandwidthTotals().TotalOut)
		}
	}
}

// ReadReports reads a ServeNodes process's output: each node's key, then
// "ready"; ready is closed (or err set) when all are up, and sent and heap
// keep the latest figures. It returns when r ends.
type Reports struct {
	Ready chan struct{}
	Err   error

	sent, heap chan float64
	lastSent   float64
	lastHeap   float64
}

// ReadReports starts reading r, handing each key to key.
func ReadReports(r io.Reader, key func(domain string, pub ed25519.PublicKey)) *Reports {
	rep := &Reports{Ready: make(chan struct{}), sent: make(chan float64, 1), heap: make(chan float64, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		ready := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "key":
				if pub, err := base64.StdEncoding.DecodeString(f[2]); err == nil && len(pub) == ed25519.PublicKeySize {
					key(f[1], ed25519.PublicKey(pub))
				}
			case len(f) == 2 && f[0] == "ready" && !ready:
				v, _ := strconv.ParseFloat(f[1], 64)
				replace(rep.heap, v)
				ready = true
				close(rep.Ready)
			case len(f) == 2 && f[0] == "sent":
				v, _ := strconv.ParseFloat(f[1], 64)
				replace(rep.sent, v)
			}
		}
		if !ready {
			rep.Err = fmt.Errorf("the node process ended before its nodes were up: %v", sc.Err())
			close(rep.Ready)
		}
	}()
	return rep
}

// replace puts v in a one-place channel, dropping what it held.
func replace(ch chan float64, v float64) {
	select {
	case <-ch:
	default:
	}
	ch <- v
}

// Sent is the latest bytes sent reported.
func (r *Reports) Sent() float64 {
	select {
	case v := <-r.sent:
		r.lastSent = v
	default:
	}
	return r.lastSent
}

// Heap is the live heap reported.
func (r *Reports) Heap() float64 {
	select {
	case v := <-r.heap:
		r.lastHeap = v
	default:
	}
	return r.lastHeap
}
