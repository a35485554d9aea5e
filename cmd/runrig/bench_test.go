package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
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
	"github.com/runrig/runrig/relay/rsasign"
)

// deliveriesPerRun is how many signed deliveries one benchmark run makes
// at least (at 10,000 subscribers, five activities' worth).
const deliveriesPerRun = 20000

// publishers is how many activities are published at once.
const publishers = 8

// rsaFanout holds the RSA fan-out rates of this run by subscriber count,
// for the Ed25519 run to compare with.
var rsaFanout sync.Map

// ed25519Rate measures Ed25519 signatures per second with every core busy
// for d.
func ed25519Rate(d time.Duration) float64 {
	_, key, _ := ed25519.GenerateKey(nil)
	var n atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			msg := []byte(`"@method": POST` + "\n" + `"@target-uri": https://example/inbox`)
			for time.Now().Before(stop) {
				ed25519.Sign(key, msg)
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// rawRates are the machine's signing rates on all cores, measured in the
// same run as a fan-out: the physical bounds it is compared with.
type rawRates struct{ goRSA, opensslRSA, ed25519 float64 }

func measureRates(key *rsa.PrivateKey, d time.Duration) (rawRates, error) {
	gk := rsasign.NewGo(key)
	ok, err := rsasign.New(key, rsasign.OpenSSL)
	if err != nil {
		return rawRates{}, fmt.Errorf("the OpenSSL bound needs a cgo build with libcrypto: %w", err)
	}
	return rawRates{goRSA: rsasign.Rate(gk, d), opensslRSA: rsasign.Rate(ok, d), ed25519: ed25519Rate(d)}, nil
}

// BenchmarkFanout measures signed fan-out by the real runrig binary to
// loopback subscribers. Run it with -benchtime 1x (make bench): each run
// makes at least 20,000 deliveries whatever b.N is. The last run's
// subscribers take RFC 9421 with Ed25519, as Runrig relays do.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{20, 500, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) { benchFanout(b, subs, false) })
	}
	b.Run("ed25519/subscribers=500", func(b *testing.B) { benchFanout(b, 500, true) })
}

// fanoutRun is one fan-out's measurements.
type fanoutRun struct {
	nSubs, nActs    int
	want            int64
	publish, wall   time.Duration
	rate            float64
	lat             []time.Duration
	relayCPU, sinks time.Duration
	rss             int64
}

func benchFanout(b *testing.B, nSubs int, ed bool) {
	sinkKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	dir := b.TempDir()
	addr := freeAddr(b)
	url := "http://" + addr
	p := startBenchRelay(b, dir, url, addr)
	p.data = filepath.Join(dir, "data")

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
	var edKey ed25519.PrivateKey
	if ed {
		_, edKey, _ = ed25519.GenerateKey(nil)
	}
	sinks, err := newCrowd(nSubs, sinkKey, edKey, onRecv)
	if err != nil {
		b.Fatal(err)
	}
	defer sinks.close()
	pub, err := relaytest.New(relaytest.Mastodon, relaytest.Config{Key: sinkKey})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	subscribeStart := time.Now()
	if err := sinks.subscribe(url); err != nil {
		b.Fatal(err)
	}
	subscribeAll(b, url, []*relaytest.Instance{pub})
	fmt.Printf("fanout subscribers=%d: %d subscriptions accepted in %v\n", nSubs, nSubs, time.Since(subscribeStart).Round(time.Millisecond))

	nActs := (max(deliveriesPerRun, 5*nSubs) + nSubs - 1) / nSubs
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
	// The bounds are measured just before and just after the fan-out, and
	// averaged, so that both see the same machine load.
	before, err := measureRates(sinkKey, 2*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	r := fanout(b, p, pub, reqs, nSubs, &received, &mu, last)
	p.kill9(b)
	after, _ := measureRates(sinkKey, 2*time.Second)
	raw := rawRates{(before.goRSA + after.goRSA) / 2, (before.opensslRSA + after.opensslRSA) / 2, (before.ed25519 + after.ed25519) / 2}
	reportFanout(b, r, raw, ed)
}

// fanout publishes reqs and waits until every subscriber has every one.
func fanout(b *testing.B, p *proc, pub *relaytest.Instance, reqs []*requestAndObject, nSubs int,
	received *atomic.Int64, mu *sync.Mutex, last map[string]time.Time) fanoutRun {
	// The sinks and the publisher stand in for other people's servers;
	// during the fan-out they run on one P so that the Go scheduler's idle
	// spinning in this process takes as little as possible from the relay.
	procs := runtime.GOMAXPROCS(1)
	b.ResetTimer()
	relayCPU0, selfCPU0 := procCPU(p.cmd.Process.Pid), selfCPU()
	start := time.Now()
	if path := os.Getenv("RUNRIG_BENCH_CPUPROFILE"); path != "" {
		secs, err := strconv.Atoi(os.Getenv("RUNRIG_BENCH_CPUPROFILE_SECONDS"))
		if err != nil || secs <= 0 {
			secs = 2
		}
		go func() {
			if err := profileRelay(p.data, path, time.Duration(secs)*time.Second); err != nil {
				fmt.Println("profile:", err)
			}
		}()
	}
	// Activities arrive from several servers at once, as they do at a
	// relay: publishers at a time.
	accepted := make(map[string]time.Time, len(reqs))
	var amu sync.Mutex
	work := make(chan *requestAndObject)
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for r := range work {
				status, text, err := pub.Do(r.req)
				if err != nil || status != 202 {
					b.Errorf("publish: %d %s %v", status, text, err)
				}
				amu.Lock()
				accepted[r.obj] = time.Now()
				amu.Unlock()
			}
		})
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	run := fanoutRun{nSubs: nSubs, nActs: len(reqs), want: int64(len(reqs) * nSubs), publish: time.Since(start)}
	deadline := time.Now().Add(15 * time.Minute)
	for received.Load() < run.want {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d deliveries arrived", received.Load(), run.want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	runtime.GOMAXPROCS(procs)
	run.relayCPU, run.sinks = procCPU(p.cmd.Process.Pid)-relayCPU0, selfCPU()-selfCPU0
	run.wall = time.Since(start)
	mu.Lock()
	var end time.Time
	for obj, acc := range accepted {
		l := last[obj]
		if l.After(end) {
			end = l
		}
		run.lat = append(run.lat, l.Sub(acc))
	}
	mu.Unlock()
	sort.Slice(run.lat, func(i, j int) bool { return run.lat[i] < run.lat[j] })
	run.rate = float64(run.want) / end.Sub(start).Seconds()
	run.rss = peakRSS(p.cmd.Process.Pid)
	return run
}

// reportFanout prints a fan-out's figures against the bounds of the same run.
func reportFanout(b *testing.B, r fanoutRun, raw rawRates, ed bool) {
	bound, signer := raw.opensslRSA, "RSA-2048 through OpenSSL"
	if ed {
		bound, signer = raw.ed25519, "Ed25519"
	} else {
		rsaFanout.Store(r.nSubs, r.rate)
	}
	b.ReportMetric(r.rate, "deliveries/s")
	b.ReportMetric(r.rate/bound, "ratio")
	b.ReportMetric(float64(r.rss)/(1<<20), "peak-RSS-MiB")
	cores := float64(runtime.NumCPU())
	fmt.Printf("fanout %ssubscribers=%d: %d activities, %d deliveries\n", map[bool]string{true: "ed25519 ", false: ""}[ed], r.nSubs, r.nActs, r.want)
	fmt.Printf("  accepted            %8.0f activities/s\n", float64(r.nActs)/r.publish.Seconds())
	fmt.Printf("  signed deliveries   %8.0f /s\n", r.rate)
	fmt.Printf("  raw signing rates, all %d cores: Go RSA-2048 %.0f/s, OpenSSL RSA-2048 %.0f/s (%.2fx Go), Ed25519 %.0f/s\n",
		runtime.GOMAXPROCS(0), raw.goRSA, raw.opensslRSA, raw.opensslRSA/raw.goRSA, raw.ed25519)
	fmt.Printf("  delivery/bound      %8.2f of %s", r.rate/bound, signer)
	switch {
	case ed:
		if rsa, ok := rsaFanout.Load(500); ok {
			fmt.Printf("; %.1fx the RSA fan-out at 500 subscribers of this run (target >= 5x)", r.rate/rsa.(float64))
		}
	case r.nSubs <= 20:
		fmt.Print(" (target >= 0.6)")
	case r.nSubs <= 500:
		fmt.Print(" (target >= 0.5)")
	}
	fmt.Println()
	fmt.Printf("  accept -> last delivery  p50 %v  p99 %v\n", pct(r.lat, 0.50), pct(r.lat, 0.99))
	fmt.Printf("  CPU over %v: relay %.1fs (%.0f%% of the machine, %.0f us per delivery), sinks and publisher %.1fs (%.0f%%)\n",
		r.wall.Round(time.Millisecond), r.relayCPU.Seconds(), 100*r.relayCPU.Seconds()/r.wall.Seconds()/cores,
		float64(r.relayCPU.Microseconds())/float64(r.want), r.sinks.Seconds(), 100*r.sinks.Seconds()/r.wall.Seconds()/cores)
	target := "< 150 at 500 subscribers"
	if r.nSubs > 500 {
		target = "< 1024 at 10,000 subscribers"
	}
	fmt.Printf("  relay peak RSS      %8.1f MiB (target %s)\n", float64(r.rss)/(1<<20), target)
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
	rk, err := rsasign.New(key, "") // what the relay signs with: OpenSSL where it loads
	if err != nil {
		b.Fatal(err)
	}
	signer := &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: key, RSA: rk}
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
	fmt.Printf("listing validation: %v per listing, %v per signed delivery (RSA through %s): %.1f%% (target < 5%%)\n",
		check.Round(time.Microsecond/10), deliver.Round(time.Microsecond), rk.Backend(), 100*ratio)
}
