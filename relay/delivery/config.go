// Package delivery sends queued activities to subscribers' inboxes: signed
// POSTs over keep-alive connections, at most a few at a time per peer, with
// retries on an exponential backoff with jitter, a per-peer circuit breaker
// and a dead-letter state, so that one dead or slow subscriber never delays
// the others. Work comes from and goes back to a durable store.Queue.
package delivery

import (
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
)

// Config configures a [Dispatcher]. Zero fields take the defaults given.
type Config struct {
	// Signer signs every delivery as the relay actor. Required.
	Signer *httpsig.Signer
	// Egress decides which addresses deliveries may reach.
	Egress policy.Egress
	// UserAgent is sent with every delivery.
	UserAgent string

	// PerPeerConcurrency bounds simultaneous requests to one peer.
	// Default 4.
	PerPeerConcurrency int
	// PerPeerQueue bounds deliveries held in memory for one peer; a peer
	// with a full queue is skipped when claiming more work. Default 64.
	PerPeerQueue int
	// MaxInFlight bounds deliveries held in memory in all. Default 1024.
	MaxInFlight int
	// ClaimBatch is how many deliveries one claim asks for. Default 256.
	ClaimBatch int
	// RequestTimeout bounds one delivery request. Default 15s.
	RequestTimeout time.Duration
	// Lease is how long claimed deliveries stay reserved for this process.
	// Default 10m.
	Lease time.Duration
	// PollInterval is how often the queue is checked for retries that came
	// due when nothing else woke the dispatcher. Default 1s.
	PollInterval time.Duration

	// RetryBase is the delay before the first retry; each further retry
	// doubles it, with ±25% jitter. Default 15s.
	RetryBase time.Duration
	// RetryMax caps the delay between retries. Default 6h.
	RetryMax time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is dead.
	// Default 20 (about four days with the default backoff).
	MaxAttempts int

	// CircuitThreshold is how many consecutive failures open a peer's
	// circuit, pausing all deliveries to it. Default 5.
	CircuitThreshold int
	// CircuitBase is how long a circuit first stays open; it doubles with
	// each further failure. Default 30s.
	CircuitBase time.Duration
	// CircuitMax caps how long a circuit stays open. Default 30m.
	CircuitMax time.Duration

	// DrainTimeout bounds how long shutdown waits for requests in flight.
	// Default 10s.
	DrainTimeout time.Duration
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.PerPeerConcurrency, 4)
	def(&c.PerPeerQueue, 64)
	def(&c.MaxInFlight, 1024)
	def(&c.ClaimBatch, 256)
	def(&c.MaxAttempts, 20)
	def(&c.CircuitThreshold, 5)
	defD(&c.RequestTimeout, 15*time.Second)
	defD(&c.Lease, 10*time.Minute)
	defD(&c.PollInterval, time.Second)
	defD(&c.RetryBase, 15*time.Second)
	defD(&c.RetryMax, 6*time.Hour)
	defD(&c.CircuitBase, 30*time.Second)
	defD(&c.CircuitMax, 30*time.Minute)
	defD(&c.DrainTimeout, 10*time.Second)
}
