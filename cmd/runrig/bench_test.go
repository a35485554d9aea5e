package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/relaytest"
)

// deliveriesPerRun is how many signed deliveries one benchmark run makes.
const deliveriesPerRun = 20000

// rawSigningRate measures RSA-2048 PKCS#1 v1.5 SHA-256 signatures per
// second with every core busy for d: the physical bound of a fan-out, since
// each delivery needs its own signature.
func rawSigningRate(key *rsa.PrivateKey, d time.Duration) float64 {
	var n atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := sha256.Sum256([]byte("(request-target): post /inbox\nhost: example\ndate: now\ndigest: x"))
			for time.Now().Before(stop) {
				rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// BenchmarkFanout measures signed fan-out by the real runrig binary to
// loopback subscriber sinks. Run it with -benchtime 1x (make bench): each
// run makes about 20,000 deliveries whatever b.N is.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{20, 500} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, nSubs int) {
	sinkKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	dir := b.TempDir()
	addr := freeAddr(b)
	url := "http://" + addr
	p := startBenchRelay(b, dir, url, addr)

	var (
		mu       sync.Mutex
		last     = map[string]time.Time{}
		received atomic.Int64
	)
	onRecv := func(obj string, at time.Time) {
		mu.Lock()
		if at.After(last[obj]) {
			last[obj] = at
		}
		mu.Unlock()
		received.Add(1)
	}
	sinks := make([]*relaytest.Instance, nSubs)
	for i := range sinks {
		in, err := relaytest.New(relaytest.Mastodon, relaytest.Config{Key: sinkKey, OnReceive: onRecv})
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		sinks[i] = in
	}
	pub, err := relaytest.New(relaytest.Mastodon, relaytest.Config{Key: sinkKey})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	subscribeAll(b, url, append(sinks, pub))

	nActs := (deliveriesPerRun + nSubs - 1) / nSubs
	reqs := make([]*requestAndObject, nActs)
	for i := range reqs {
		note := pub.Note("", "surplus apples, 40 kg, pick up by Friday", nil)
		var doc struct{ Object struct{ ID string } }
		json.Unmarshal(note, &doc)
		req, err := pub.SignedRequest(context.Background(), url+"/inbox", note, relaytest.Signing{})
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = &requestAndObject{req: req, obj: doc.Object.ID}
	}
	runtime.GC()
	// The raw bound is measured just before and just after the fan-out,
	// and averaged, so that both see the same machine load.
	rawBefore := rawSigningRate(sinkKey, 2*time.Second)

	// The sinks and the publisher stand in for other people's servers;
	// during the fan-out they run on one P so that the Go scheduler's idle
	// spinning in this process takes as little as possible from the relay.
	procs := runtime.GOMAXPROCS(1)
	b.ResetTimer()
	relayCPU0, selfCPU0 := procCPU(p.cmd.Process.Pid), selfCPU()
	start := time.Now()
	accepted := make(map[string]time.Time, nActs)
	for _, r := range reqs {
		status, text, err := pub.Do(r.req)
		if err != nil || status != 202 {
			b.Fatalf("publish: %d %s %v", status, text, err)
		}
		accepted[r.obj] = time.Now()
	}
	publishDur := time.Since(start)
	want := int64(nActs * nSubs)
	deadline := time.Now().Add(10 * time.Minute)
	for received.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d deliveries arrived", received.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	runtime.GOMAXPROCS(procs)
	relayCPU, selfCPUUsed := procCPU(p.cmd.Process.Pid)-relayCPU0, selfCPU()-selfCPU0
	wall := time.Since(start)

	mu.Lock()
	var end time.Time
	lat := make([]time.Duration, 0, nActs)
	for obj, acc := range accepted {
		l := last[obj]
		if l.After(end) {
			end = l
		}
		lat = append(lat, l.Sub(acc))
	}
	mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rate := float64(want) / end.Sub(start).Seconds()
	rss := peakRSS(p.cmd.Process.Pid)
	p.kill9(b)
	rawAfter := rawSigningRate(sinkKey, 2*time.Second)
	raw := (rawBefore + rawAfter) / 2

	b.ReportMetric(float64(nActs)/publishDur.Seconds(), "activities/s")
	b.ReportMetric(rate, "deliveries/s")
	b.ReportMetric(raw, "raw-signs/s")
	b.ReportMetric(rate/raw, "ratio")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	fmt.Printf("fanout subscribers=%d: %d activities, %d deliveries\n", nSubs, nActs, want)
	fmt.Printf("  accepted            %8.0f activities/s\n", float64(nActs)/publishDur.Seconds())
	fmt.Printf("  signed deliveries   %8.0f /s\n", rate)
	fmt.Printf("  raw RSA-2048 signs  %8.0f /s (all %d cores; %.0f before, %.0f after the fan-out)\n",
		raw, runtime.GOMAXPROCS(0), rawBefore, rawAfter)
	fmt.Printf("  delivery/raw ratio  %8.2f (target >= 0.80)\n", rate/raw)
	fmt.Printf("  accept -> last delivery  p50 %v  p99 %v\n", pct(lat, 0.50), pct(lat, 0.99))
	fmt.Printf("  CPU over %v: relay %.1fs (%.0f%% of the machine), sinks and publisher %.1fs (%.0f%%)\n",
		wall.Round(time.Millisecond), relayCPU.Seconds(), 100*relayCPU.Seconds()/wall.Seconds()/float64(runtime.NumCPU()),
		selfCPUUsed.Seconds(), 100*selfCPUUsed.Seconds()/wall.Seconds()/float64(runtime.NumCPU()))
	fmt.Printf("  relay peak RSS      %8.1f MiB (target < 150 at 500 subscribers)\n", float64(rss)/(1<<20))
}

type requestAndObject struct {
	req *http.Request
	obj string
}

func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[int(q*float64(len(d)-1))].Round(time.Millisecond)
}

func startBenchRelay(b *testing.B, dir, url, addr string) *proc {
	return startServe(b, dir, url, []string{"RUNRIG_ALLOW_PRIVATE_NETWORKS=true", "RUNRIG_LOG_LEVEL=warn",
		"RUNRIG_INBOUND_RATE=1000000", "RUNRIG_INBOUND_BURST=1000000"},
		"--listen", addr, "--public-url", url, "--data", filepath.Join(dir, "data"))
}

func subscribeAll(b *testing.B, url string, ins []*relaytest.Instance) {
	work := make(chan *relaytest.Instance)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range work {
				if _, status, err := in.Follow(context.Background(), url+"/actor", url+"/inbox"); err != nil || status != 202 {
					b.Errorf("Follow: %d %v", status, err)
				}
			}
		}()
	}
	for _, in := range ins {
		work <- in
	}
	close(work)
	wg.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for _, in := range ins {
		for len(in.ReceivedOf("Accept")) == 0 {
			if time.Now().After(deadline) {
				b.Fatal("subscriptions not accepted in time")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// peakRSS reads a process's peak resident set size in bytes.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// procCPU returns the user+system CPU time a process has used.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line, in clock ticks (100/s).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkListingValidation compares the cost of validating one listing
// with the cost of one signed delivery (an RSA-2048 signature and a POST
// over a keep-alive connection to a loopback sink), both measured here, in
// the same run. Target: validation under 5% of a signed delivery.
func BenchmarkListingValidation(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "relay", "listing", "testdata", "offer.json"))
	if err != nil {
		b.Fatal(err)
	}
	rules := listing.Rules{Now: time.Date(2025, 10, 8, 10, 0, 0, 0, time.UTC)}
	perOp := func(n int, f func()) time.Duration {
		f() // warm up
		start := time.Now()
		for range n {
			f()
		}
		return time.Since(start) / time.Duration(n)
	}
	check := perOp(20000, func() {
		if _, p := listing.Check(doc, rules); p != nil {
			b.Fatal(p)
		}
	})

	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	signer := &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: key}
	digest := httpsig.DigestHeader(doc)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	deliver := perOp(1000, func() {
		req, _ := http.NewRequest(http.MethodPost, sink.URL+"/inbox", bytes.NewReader(doc))
		req.Header.Set("Content-Type", "application/activity+json")
		if err := signer.Sign(req, digest); err != nil {
			b.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	ratio := float64(check) / float64(deliver)
	b.ReportMetric(float64(check.Nanoseconds()), "validate-ns")
	b.ReportMetric(float64(deliver.Nanoseconds()), "signed-delivery-ns")
	b.ReportMetric(100*ratio, "validate-%")
	fmt.Printf("listing validation: %v per listing, %v per signed delivery: %.1f%% (target < 5%%)\n",
		check.Round(time.Microsecond/10), deliver.Round(time.Microsecond), 100*ratio)
}
