package relay

import (
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
)

func TestFailingFor(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name string
		st   store.SubscriberStatus
		want time.Duration
	}{
		{"healthy", store.SubscriberStatus{Health: store.PeerHealth{LastSuccess: ago(time.Minute)}}, 0},
		{"failing since its last success", store.SubscriberStatus{Health: store.PeerHealth{LastSuccess: ago(3 * time.Hour),
			LastFailure: ago(time.Minute), ConsecutiveFailures: 40}}, 3 * time.Hour},
		{"never delivered to", store.SubscriberStatus{Subscriber: store.Subscriber{CreatedAt: ago(2 * time.Hour)},
			Health: store.PeerHealth{LastFailure: ago(time.Minute), ConsecutiveFailures: 9}}, 2 * time.Hour},
		{"recovered", store.SubscriberStatus{Health: store.PeerHealth{LastSuccess: ago(time.Second),
			LastFailure: ago(time.Hour), ConsecutiveFailures: 0}}, 0},
	} {
		if got := failingFor(tc.st, now); got != tc.want {
			t.Errorf("%s: failingFor = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// MetricNames lists the metrics dashboards and alerts may use.
func TestMetricNames(t *testing.T) {
	names := map[string]bool{}
	for _, n := range MetricNames() {
		names[n] = true
	}
	for _, want := range []string{"runrig_inbox_activities_total", "runrig_delivery_queue", "runrig_subscribers_failing",
		"runrig_discovery_peers", "runrig_build_info", "runrig_delivery_duration_seconds", "process_resident_memory_bytes"} {
		if !names[want] {
			t.Errorf("MetricNames lacks %s", want)
		}
	}
}
