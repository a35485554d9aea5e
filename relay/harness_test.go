package relay_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// testRelay is a real relay server on a loopback listener with a real
// SQLite store in a temporary directory.
type testRelay struct {
	*relay.Server
	Addr    string
	URL     string
	DataDir string
	Admin   *admin.Client
	stop    func()
}

func startRelay(t testing.TB, mutate func(*relay.Config)) *testRelay {
	t.Helper()
	return startRelayIn(t, t.TempDir(), "127.0.0.1:0", mutate)
}

// startRelayIn starts a relay on data directory dir listening on addr.
func startRelayIn(t testing.TB, dir, addr string, mutate func(*relay.Config)) *testRelay {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := relay.Defaults()
	cfg.PublicURL = "http://" + ln.Addr().String()
	cfg.DataDir = dir
	cfg.AllowPrivateNetworks = true
	cfg.KeyRefetch = time.Millisecond
	cfg.Delivery.RetryBase = 50 * time.Millisecond
	cfg.Delivery.RetryMax = 200 * time.Millisecond
	cfg.Delivery.CircuitBase = 100 * time.Millisecond
	cfg.Delivery.CircuitMax = 200 * time.Millisecond
	cfg.Delivery.PollInterval = 20 * time.Millisecond
	cfg.Delivery.RequestTimeout = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("RUNRIG_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	srv, err := relay.New(ctx, cfg, st, slog.New(slog.NewTextHandler(logOut, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	r := &testRelay{Server: srv, Addr: ln.Addr().String(), URL: cfg.PublicURL, DataDir: dir}
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); wg.Wait(); st.Close() }) }
	t.Cleanup(r.stop)
	waitFor(t, "relay ready", func() bool {
		resp, err := http.Get(r.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if r.Admin, err = admin.Dial(dir); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *testRelay) Actor() string { return r.URL + "/actor" }
func (r *testRelay) Inbox() string { return r.URL + "/inbox" }

// waitFor polls cond until it holds or 30 seconds pass (generous: the
// suite runs under the race detector beside other packages on 2 cores).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newInstance(t testing.TB, kind relaytest.Kind) *relaytest.Instance {
	t.Helper()
	in, err := relaytest.New(kind, relaytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return in
}

// subscribe makes in follow r and waits until the relay's Accept arrived.
func subscribe(t *testing.T, r *testRelay, in *relaytest.Instance) string {
	t.Helper()
	id, status, err := in.Follow(context.Background(), r.Actor(), r.Inbox())
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("%s Follow: %d %v", in.Kind, status, err)
	}
	waitFor(t, string(in.Kind)+" receives Accept", func() bool {
		for _, a := range in.ReceivedOf("Accept") {
			if a.ObjectID() == id {
				return true
			}
		}
		return false
	})
	return id
}

// publish posts body from in to the relay and expects status.
func publish(t *testing.T, r *testRelay, in *relaytest.Instance, body []byte, want int) string {
	t.Helper()
	status, text, err := in.Post(context.Background(), r.Inbox(), body)
	if err != nil || status != want {
		t.Fatalf("publish from %s: %d %q %v; want %d", in.Kind, status, text, err, want)
	}
	return text
}

// scrape returns the lines of the relay's /metrics.
func scrape(t *testing.T, r *testRelay) []string {
	t.Helper()
	resp, err := http.Get(r.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Split(string(b), "\n")
}

// metric returns the value of the sample whose line starts with prefix.
func metric(t *testing.T, r *testRelay, prefix string) string {
	t.Helper()
	for _, line := range scrape(t, r) {
		if strings.HasPrefix(line, prefix+" ") {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	return ""
}

func objectIDOf(t *testing.T, body []byte) string {
	t.Helper()
	r := relaytest.Received{}
	if err := jsonUnmarshal(body, &r.Doc); err != nil {
		t.Fatal(err)
	}
	return r.ObjectID()
}
