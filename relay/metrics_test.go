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

	"github.com/runrig/runrig/relay"
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

// counterSeries returns the runrig_*_total series of a scrape, by their
// name and labels.
func counterSeries(t *testing.T, r *testRelay) map[string]bool {
	t.Helper()
	series := map[string]bool{}
	for _, line := range scrape(t, r) {
		if !strings.HasPrefix(line, "runrig_") {
			continue
		}
		if s := line[:strings.LastIndexByte(line, ' ')]; strings.Contains(strings.SplitN(s, "{", 2)[0], "_total") {
			series[s] = true
		}
	}
	return series
}

// A fresh relay exports every counter whose label values are known, at 0,
// so that alerts and rate() see it from the start; real traffic then adds
// no series but those of moderation rules (their ids).
func TestCountersStartAtZero(t *testing.T) {
	r := startRelay(t, nil)
	start := counterSeries(t, r)
	for _, name := range relay.MetricNames() {
		if !strings.HasPrefix(name, "runrig_") || !strings.HasSuffix(name, "_total") {
			continue
		}
		found := false
		for s := range start {
			found = found || strings.HasPrefix(s, name+"{") || s == name
		}
		if !found {
			t.Errorf("fresh relay exports no %s series", name)
		}
	}

	ctx := context.Background()
	fmp, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.GoToSocial)
	subscribe(t, r, fmp)
	subscribe(t, r, sub)
	publish(t, r, fmp, fmp.Note("", "potatoes", nil), http.StatusAccepted)
	publish(t, r, fmp, fmp.Listing("surplus", time.Now().Add(24*time.Hour), nil), http.StatusAccepted)
	publish(t, r, fmp, fmp.Listing("surplus", time.Now().Add(-time.Hour), nil), http.StatusUnprocessableEntity)
	waitFor(t, "deliveries", func() bool { return len(sub.ReceivedOf("Announce")) == 2 })
	stranger := newInstance(t, relaytest.Misskey)
	stranger.Post(ctx, r.Inbox(), stranger.Note("", "hello", nil))                                         // 403: not a subscriber
	stranger.PostWith(ctx, r.Inbox(), stranger.Note("", "forged", nil), relaytest.Signing{Unsigned: true}) // 401
	if err := r.Admin.Remove(ctx, sub.Host(), ""); err != nil {
		t.Fatal(err)
	}
	for s := range counterSeries(t, r) {
		if !start[s] {
			t.Errorf("series %s appeared with traffic; export it from the start (metriclabels.go)", s)
		}
	}
}
