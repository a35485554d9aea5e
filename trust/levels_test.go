package trust

import (
	"testing"
	"time"
)

func TestLimiterScalesWithTrust(t *testing.T) {
	l := NewLimiter(RateConfig{PerSecond: 2, Burst: 4})
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	count := func(peer string, level Level) int {
		n := 0
		for {
			ok, wait := l.Allow(peer, level)
			if !ok {
				if wait <= 0 {
					t.Fatalf("refused without a wait")
				}
				return n
			}
			n++
		}
	}
	tests := []struct {
		level Level
		burst int
	}{{Trusted, 20}, {Normal, 4}, {Limited, 1}, {Untrusted, 1}}
	for _, tt := range tests {
		if got := count("peer-"+string(tt.level), tt.level); got != tt.burst {
			t.Errorf("%s burst = %d, want %d", tt.level, got, tt.burst)
		}
	}
	// Tokens come back at the level's rate: normal 2/s.
	now = now.Add(time.Second)
	if got := count("peer-normal", Normal); got != 2 {
		t.Errorf("after 1s normal got %d, want 2", got)
	}
	_, wait := l.Allow("peer-untrusted", Untrusted)
	if wait < 9*time.Second || wait > 11*time.Second {
		t.Errorf("untrusted wait = %v, want ~10s (0.1/s)", wait)
	}
}

func TestParseLevel(t *testing.T) {
	for _, s := range []string{"", "trusted", "normal", "limited", "untrusted"} {
		if _, err := ParseLevel(s); err != nil {
			t.Errorf("ParseLevel(%q) = %v", s, err)
		}
	}
	if _, err := ParseLevel("best-friend"); err == nil {
		t.Error("unknown level accepted")
	}
}
