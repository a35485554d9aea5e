package relay_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/runrig/runrig/relay/relaytest"
)

// The metrics a relay serves after real traffic follow Prometheus'
// naming conventions (promlint: base units, _total counters, help text)
// and all carry the runrig_ prefix, besides Go's and the process's.
func TestMetricsAreConsistentlyNamed(t *testing.T) {
	r := startRelay(t, nil)
	fmp, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, fmp)
	subscribe(t, r, sub)
	publish(t, r, fmp, fmp.Note("", "potatoes", nil), http.StatusAccepted)
	publish(t, r, fmp, fmp.Listing("surplus", time.Now().Add(24*time.Hour), nil), http.StatusAccepted)
	waitFor(t, "deliveries", func() bool { return len(sub.ReceivedOf("Announce")) == 2 })
	stranger := newInstance(t, relaytest.Mastodon)
	stranger.Post(context.Background(), r.Inbox(), stranger.Note("", "hello", nil)) // 403: not a subscriber

	resp, err := http.Get(r.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	seen := 0
	for _, line := range strings.Split(string(body), "\n") {
		name, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		name = strings.Fields(name)[0]
		seen++
		if !strings.HasPrefix(name, "runrig_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s lacks the runrig_ prefix", name)
		}
	}
	for _, want := range []string{"runrig_inbox_activities_total{", "runrig_deliveries_total{", "runrig_delivery_queue{",
		"runrig_subscribers{", "runrig_discovery_peers{", "runrig_delivery_duration_seconds_bucket{", "runrig_build_info{"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("no %s… sample after traffic", want)
		}
	}
	if seen < 20 {
		t.Errorf("only %d metric families", seen)
	}
}
