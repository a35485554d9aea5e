package simulation

import (
	"bytes"
	"context"
	"encoding/csv"
	"sync"
	"testing"
	"time"
)

// shortChurn shortens the scenarios to a test's time: 5 s of churn,
// reconnection and lookups every second, a cut held 2 s once seen. The
// limit only bounds a failure, and is well above memberlist's longest
// suspicion at 30 members (lan: 6 × 4 × log10 N probe intervals, 35 s),
// which a member waits when no other confirms its suspicion of a crashed
// member (a newcomer, once the others declared it dead).
var shortChurn = ChurnOptions{Spread: 5 * time.Second, ReconnectInterval: time.Second, LookupEvery: time.Second,
	Hold: 2 * time.Second, Limit: 2 * time.Minute}

// churnSize is the relays of each scenario: as many as CI holds, the four
// scenarios side by side under the race detector.
const churnSize = 30

// Each scenario, at 30 relays, ends with every live directory right:
// the new relays listed, the departed ones down, the healed halves whole;
// and the results make churn.csv. Without reconnection (an interval of
// an hour) a healed region stays apart: the scenario can fail, and says
// so. The scenarios run side by side (they share nothing but the
// process).
func TestChurnScenarios(t *testing.T) {
	var (
		mu     sync.Mutex
		points []ChurnPoint
	)
	apart := shortChurn
	apart.ReconnectInterval, apart.Limit = time.Hour, 5*time.Second
	tests := []struct {
		name  string
		run   func(context.Context, int, ChurnOptions) (ChurnPoint, error)
		n     int
		opts  ChurnOptions
		heals bool
	}{
		{"gossip churn", RunGossipChurn, churnSize, shortChurn, true},
		{"gossip partition", RunGossipPartition, churnSize, shortChurn, true},
		{"gossip partition without reconnection", RunGossipPartition, 6, apart, false},
		{"dht churn", RunDHTChurn, churnSize, shortChurn, true},
	}
	t.Run("scenarios", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				p, err := tc.run(ctx, tc.n, tc.opts)
				t.Logf("%+v: %v", p, err)
				if !tc.heals {
					if err == nil || p.Held == 0 || p.StillWrong == 0 || p.Reconnects != 0 {
						t.Fatalf("healed without reconnection, or failed before the heal: %+v: %v", p, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				checkChurnPoint(t, p)
				mu.Lock()
				points = append(points, p)
				mu.Unlock()
			})
		}
	})
	var b bytes.Buffer
	if err := WriteChurnCSV(&b, points); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 1+len(points) || len(rows[0]) != 14 {
		t.Fatalf("churn.csv: %d rows, %v:\n%s", len(rows), err, b.String())
	}
}

func checkChurnPoint(t *testing.T, p ChurnPoint) {
	t.Helper()
	switch {
	case p.UntilCorrect <= 0:
		t.Fatalf("no time measured: %+v", p)
	case p.Scenario == "churn" && (p.Left != churnSize/5 || p.Joined != churnSize/5):
		t.Fatalf("left %d, joined %d; want %d and %d", p.Left, p.Joined, churnSize/5, churnSize/5)
	case p.Layer == "dht" && (p.StillWrong != p.Left/2 || p.Rounds < 1):
		t.Fatalf("crashed relays listed up: %d (want %d, until their records expire), after %d rounds", p.StillWrong, p.Left/2, p.Rounds)
	case p.Scenario == "partition" && (p.Detect <= 0 || p.Held < p.Detect+shortChurn.Hold || p.Reconnects == 0):
		t.Fatalf("partition: %+v", p)
	}
}
