package delivery

import "testing"

// Regression (second review): idle connections leave room under the
// open-file limit for the deliveries in flight, the fetch client, inbound
// connections and the store, yet cover 10,000 subscribers at a limit of
// 20,000.
func TestIdleConnsLeaveRoom(t *testing.T) {
	for _, tc := range []struct {
		limit       uint64
		maxInFlight int
		atLeast     int
	}{
		{1024, 1024, 0}, {2048, 1024, 0}, {4096, 1024, 0}, {20000, 1024, 10000}, {1 << 20, 1024, maxIdleConns},
	} {
		got := idleConns(tc.limit, tc.maxInFlight)
		if tc.limit >= 2048 && uint64(got+tc.maxInFlight+otherReserve) > tc.limit {
			t.Errorf("limit %d: %d idle + %d in flight + %d reserved exceeds it", tc.limit, got, tc.maxInFlight, otherReserve)
		}
		if got < tc.atLeast || got < minIdleConns || got > maxIdleConns {
			t.Errorf("limit %d: %d idle connections, want at least %d within [%d, %d]", tc.limit, got, tc.atLeast, minIdleConns, maxIdleConns)
		}
	}
}

// Regression (second review): every worker a peer may have can be reached
// with the deliveries held for it.
func TestWorkerBacklogReachesEveryWorker(t *testing.T) {
	for _, tc := range []struct{ conc, queue, backlog, want int }{
		{4, 64, 8, 8}, {16, 64, 8, 4}, {64, 64, 8, 1}, {2, 0, 0, 8},
	} {
		c := Config{PerPeerConcurrency: tc.conc, PerPeerQueue: tc.queue, WorkerBacklog: tc.backlog}
		c.setDefaults()
		if c.WorkerBacklog != tc.want || c.WorkerBacklog*c.PerPeerConcurrency > c.PerPeerQueue {
			t.Errorf("concurrency %d, queue %d: backlog %d, want %d", tc.conc, tc.queue, c.WorkerBacklog, tc.want)
		}
	}
}
