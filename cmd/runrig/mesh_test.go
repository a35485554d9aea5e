package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/relay/admin"
)

// meshRelay is one `runrig serve` process of a relay mesh.
type meshRelay struct {
	url, data string
	p         *proc
}

func (m meshRelay) peers(t *testing.T) []admin.Peer {
	var peers []admin.Peer
	if err := json.Unmarshal([]byte(runCLI(t, "admin", "--data", m.data, "peers", "--json")), &peers); err != nil {
		t.Fatal(err)
	}
	return peers
}

// startMeshRelay runs a relay that joins the DHT through boot (none for
// the first) and follows the relays it discovers.
func startMeshRelay(t *testing.T, boot string) meshRelay {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	env := append([]string{"RUNRIG_DHT_LISTEN=/ip4/127.0.0.1/tcp/0", "RUNRIG_DHT_BOOTSTRAP=" + boot,
		"RUNRIG_DHT_LOOKUP_INTERVAL=500ms", "RUNRIG_FEDERATE_RELAYS=true", "RUNRIG_FEDERATION_INTERVAL=300ms"}, testEnv...)
	p := startServe(t, dir, url, env, "--listen", addr, "--public-url", url)
	return meshRelay{url: url, data: filepath.Join(dir, "data"), p: p}
}

// Three relay processes find each other in a loopback DHT and follow each
// other (a full mesh). A listing published by a subscriber of A reaches a
// subscriber of C exactly once, though it crosses the mesh along several
// paths, and never goes back to its origin.
func TestRelayMeshDeliversOnce(t *testing.T) {
	a := startMeshRelay(t, "")
	var self discovery.Record
	if _, rec, err := discovery.Parse([]byte(runCLI(t, "admin", "--data", a.data, "self"))); err != nil {
		t.Fatal(err)
	} else {
		self = rec
	}
	if len(self.Addrs) == 0 {
		t.Fatalf("A announces no DHT addresses: %+v", self)
	}
	b := startMeshRelay(t, self.Addrs[0])
	c := startMeshRelay(t, self.Addrs[0])
	relays := []meshRelay{a, b, c}
	for _, r := range relays {
		waitFor(t, "a full mesh from "+r.url, 60*time.Second, func() bool {
			accepted := 0
			for _, p := range r.peers(t) {
				if p.Verified && p.Following == "accepted" {
					accepted++
				}
			}
			return accepted == 2
		})
	}

	fmp, sub := newInstance(t), newInstance(t)
	follow(t, fmp, a.url)
	follow(t, sub, c.url)
	body := fmp.Listing("offer", time.Now().Add(24*time.Hour), nil)
	var create struct {
		Object struct{ ID string } `json:"object"`
	}
	json.Unmarshal(body, &create)
	if status, reason, err := fmp.Post(context.Background(), a.url+"/inbox", body); err != nil || status != 202 {
		t.Fatalf("publish to A: %d %s %v", status, reason, err)
	}
	waitFor(t, "the listing at C's subscriber", 30*time.Second, func() bool {
		return announcedObjects(sub)[create.Object.ID] > 0
	})
	// Both paths have had time to arrive: A→C and A→B→C.
	// B and C each relay it once; the copies they pass on to each other
	// (unless past the hop bound) are dropped as duplicates. Quiet is when
	// both have relayed and no relay has a delivery left: an inbox queues
	// what it passes on before it acknowledges.
	count := func(result string) (n float64) {
		for _, r := range relays {
			n += metric(t, r, `runrig_inbox_activities_total{result="`+result+`",type="Announce"}`)
		}
		return n
	}
	quiet := func() bool {
		for _, r := range relays {
			var q struct{ Deliveries []admin.Delivery }
			if err := json.Unmarshal([]byte(runCLI(t, "admin", "--data", r.data, "deliveries", "--json")), &q); err != nil {
				t.Fatal(err)
			}
			if len(q.Deliveries) > 0 {
				return false
			}
		}
		return true
	}
	defer func() {
		if t.Failed() {
			for _, r := range relays {
				t.Logf("%s: %s | %s | %s", r.url, metricsOf(t, r, "runrig_inbox_"), metricsOf(t, r, "runrig_deliveries_total"), metricsOf(t, r, "runrig_signature_failures"))
			}
		}
	}()
	waitFor(t, "every copy to cross the mesh", 30*time.Second, func() bool {
		return count("relayed") == 2 && quiet()
	})
	if n := count("relayed"); n != 2 {
		t.Errorf("relayed %v times in the mesh, want 2 (once by B, once by C)", n)
	}
	if n := announcedObjects(sub)[create.Object.ID]; n != 1 {
		t.Errorf("C's subscriber received the listing %d times, want once", n)
	}
	if n := announcedObjects(fmp)[create.Object.ID]; n != 0 {
		t.Errorf("the listing went back to its origin %d times", n)
	}
}

// scrape returns the sample lines of a relay's /metrics.
func scrape(t *testing.T, r meshRelay) []string {
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "#") {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

// metric reads one sample from a relay's /metrics (0 when absent).
func metric(t *testing.T, r meshRelay, sample string) float64 {
	for _, line := range scrape(t, r) {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// metricsOf returns the samples of a relay's metrics that start with prefix.
func metricsOf(t *testing.T, r meshRelay, prefix string) string {
	var out []string
	for _, line := range scrape(t, r) {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "; ")
}
