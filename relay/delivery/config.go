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

// Bounds of the keep-alive connections held open to subscribers, in all.
// Each is a file descriptor, and the process has a limit (often 20,000 or
// more). What is left of it after the deliveries in flight and the fetch
// client's connections (otherReserve) is shared: three quarters for idle
// delivery connections, within these bounds, the rest for inbound
// connections and the store. Beyond the bound the connection used least
// recently closes and the next delivery there dials; a fan-out cycling
// through more subscribers than the bound dials for nearly every delivery.
const (
	minIdleConns = 64
	maxIdleConns = 65536
	otherReserve = 512
)

// idleConns is how many idle delivery connections a process with the
// open-file limit limit keeps (0: unknown), with maxInFlight deliveries
// open at once besides.
func idleConns(limit uint64, maxInFlight int) int {
	if limit == 0 {
		return 1024
	}
	spare := int64(limit) - int64(maxInFlight) - otherReserve
	return int(min(max(spare*3/4, minIdleConns), maxIdleConns))
}

// Schemes is the per-host memory of how peers take signatures
// (implemented by schemes.Memory).
type Schemes interface {
	// Plan returns the kind to sign with first and the one to retry
	// with if that is refused ("" for none).
	Plan(host string) (first, retry httpsig.Kind)
	// Record records whether host accepted a request signed with kind.
	Record(host string, kind httpsig.Kind, accepted bool)
}

// Config configures a [Dispatcher]. Zero fields take the defaults given.
type Config struct {
	// Signer signs every delivery as the relay actor. Required.
	Signer *httpsig.Signer
	// Egress decides which addresses deliveries may reach.
	Egress policy.Egress
	// UserAgent is sent with every delivery.
	UserAgent string
	// Schemes says how to sign to each peer and learns from its answers;
	// nil signs every delivery with draft-cavage.
	Schemes Schemes

	// PerPeerConcurrency bounds simultaneous requests to one peer.
	// Default 4.
	PerPeerConcurrency int
	// WorkerBacklog is how many deliveries must wait per worker before a
	// peer gets another worker, up to PerPeerConcurrency. Default 8, and
	// at most PerPeerQueue/PerPeerConcurrency, so that every worker can be
	// reached.
	WorkerBacklog int
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
	// each failed probe after it. Default 15s: with ±25% jitter a
	// subscriber is tried again within 30 s of its first failure, as with
	// RetryBase, even when its circuit opens.
	CircuitBase time.Duration
	// CircuitMax caps how long a circuit stays open. Default 30m.
	CircuitMax time.Duration

	// DrainTimeout bounds how long shutdown waits for requests in flight.
	// Default 10s.
	DrainTimeout time.Duration

	// Owner is the replica the dispatcher claims for: the owner of its
	// leases, the only one whose outcomes are recorded. Default "" (a
	// relay of one process).
	Owner string
	// Shard, when set, says which share of the peers this replica
	// delivers to: those whose hash modulo of is index. Default nil
	// (every peer).
	Shard func() (index, of int)
}

// DefaultConfig returns the dispatcher's defaults (without a Signer).
func DefaultConfig() Config {
	return Config{
		PerPeerConcurrency: 4,
		WorkerBacklog:      8,
		PerPeerQueue:       64,
		MaxInFlight:        1024,
		ClaimBatch:         256,
		RequestTimeout:     15 * time.Second,
		Lease:              10 * time.Minute,
		PollInterval:       time.Second,
		RetryBase:          15 * time.Second,
		RetryMax:           6 * time.Hour,
		MaxAttempts:        20,
		CircuitThreshold:   5,
		CircuitBase:        15 * time.Second,
		CircuitMax:         30 * time.Minute,
		DrainTimeout:       10 * time.Second,
	}
}

// setDefaults fills the fields left at zero from [DefaultConfig].
func (c *Config) setDefaults() {
	d := DefaultConfig()
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
	def(&c.PerPeerConcurrency, d.PerPeerConcurrency)
	def(&c.WorkerBacklog, d.WorkerBacklog)
	def(&c.PerPeerQueue, d.PerPeerQueue)
	def(&c.MaxInFlight, d.MaxInFlight)
	def(&c.ClaimBatch, d.ClaimBatch)
	def(&c.MaxAttempts, d.MaxAttempts)
	def(&c.CircuitThreshold, d.CircuitThreshold)
	defD(&c.RequestTimeout, d.RequestTimeout)
	defD(&c.Lease, d.Lease)
	defD(&c.PollInterval, d.PollInterval)
	defD(&c.RetryBase, d.RetryBase)
	defD(&c.RetryMax, d.RetryMax)
	defD(&c.CircuitBase, d.CircuitBase)
	defD(&c.CircuitMax, d.CircuitMax)
	defD(&c.DrainTimeout, d.DrainTimeout)
	// Every worker a peer may have must be reachable with the deliveries
	// held for it: a backlog of WorkerBacklog per worker fits PerPeerQueue.
	if c.WorkerBacklog*c.PerPeerConcurrency > c.PerPeerQueue {
		c.WorkerBacklog = max(1, c.PerPeerQueue/c.PerPeerConcurrency)
	}
}
