package delivery

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	base, max := 15*time.Second, 6*time.Hour
	tests := []struct {
		failures int
		lo, hi   time.Duration
	}{
		{1, 11250 * time.Millisecond, 18750 * time.Millisecond}, // first retry within 30 s
		{2, 22500 * time.Millisecond, 37500 * time.Millisecond},
		{5, 180 * time.Second, 300 * time.Second},
		{30, 4*time.Hour + 30*time.Minute, 7*time.Hour + 30*time.Minute}, // capped, with jitter
	}
	for _, tt := range tests {
		for range 200 {
			d := retryDelay(tt.failures, base, max)
			if d < tt.lo || d > tt.hi {
				t.Fatalf("retryDelay(%d) = %v, want in [%v, %v]", tt.failures, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		reason string
	}{
		{500, "status_5xx"}, {503, "status_5xx"}, {429, "status_429"}, {404, "status_4xx"}, {302, "status_other"},
	}
	for _, tt := range tests {
		if r, text := classify(tt.status, nil); r != tt.reason || text == "" {
			t.Errorf("classify(%d) = %q, %q", tt.status, r, text)
		}
	}
}
