package trust

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Level is how much moderators trust a peer. It scales the peer's inbound
// rate limit; it never blocks a peer by itself (that is policy's job).
type Level string

// Trust levels.
const (
	Trusted   Level = "trusted"
	Normal    Level = "normal"
	Limited   Level = "limited"
	Untrusted Level = "untrusted"
)

// ParseLevel checks a level name; "" is Normal.
func ParseLevel(s string) (Level, error) {
	switch l := Level(s); l {
	case "":
		return Normal, nil
	case Trusted, Normal, Limited, Untrusted:
		return l, nil
	}
	return "", fmt.Errorf("trust level %q: want trusted, normal, limited or untrusted", s)
}

// rateFactor scales the normal rate for each level.
var rateFactor = map[Level]float64{Trusted: 5, Normal: 1, Limited: 0.2, Untrusted: 0.05}

// RateConfig is the inbound rate a peer of normal trust gets.
type RateConfig struct {
	// PerSecond is the sustained rate of activities per second. Default 20.
	PerSecond float64
	// Burst is how many activities may arrive at once. Default 1000.
	Burst float64
}

// maxBuckets bounds the limiter's memory; full (idle) buckets are dropped
// first when it is reached.
const maxBuckets = 100000

// Limiter limits each peer's inbound activities with a token bucket whose
// rate and burst scale with the peer's trust level. It is safe for
// concurrent use.
type Limiter struct {
	cfg RateConfig
	now func() time.Time

	// mu guards the following fields.
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// DefaultRate is the rate of a peer of normal trust when none is set: 20
// activities a second, 1,000 at once (a server flushing its queue after an
// outage).
func DefaultRate() RateConfig { return RateConfig{PerSecond: 20, Burst: 1000} }

// NewLimiter returns a limiter; zero fields of cfg take [DefaultRate].
func NewLimiter(cfg RateConfig) *Limiter {
	if cfg.PerSecond <= 0 {
		cfg.PerSecond = DefaultRate().PerSecond
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultRate().Burst
	}
	return &Limiter{cfg: cfg, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes one token from peer's bucket. When none is left it returns
// false and how long until one is.
func (l *Limiter) Allow(peer string, level Level) (bool, time.Duration) {
	f, ok := rateFactor[level]
	if !ok {
		f = 1
	}
	rate, burst := l.cfg.PerSecond*f, math.Max(1, l.cfg.Burst*f)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[peer]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.evict(now)
		}
		b = &bucket{tokens: burst, at: now}
		l.buckets[peer] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
	return false, wait
}

// evict drops buckets that have refilled (idle peers); l.mu must be held.
func (l *Limiter) evict(now time.Time) {
	for p, b := range l.buckets {
		if now.Sub(b.at) > time.Minute {
			delete(l.buckets, p)
		}
	}
}
