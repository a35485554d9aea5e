package trust

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Key is a public key an actor publishes for HTTP signatures.
type Key struct {
	// ID is the key's IRI, the keyId of signatures made with it.
	ID string
	// Owner is the IRI of the actor that owns the key.
	Owner string
	// Public is the parsed key.
	Public crypto.PublicKey
	// FetchedAt is when the key was fetched.
	FetchedAt time.Time
	// Fingerprint is [Fingerprint] of Public, computed once when fetched.
	Fingerprint string
}

// KeyFetcher fetches a key by its id. Implementations check that the key
// and its owner come from the same origin as the key id.
type KeyFetcher interface {
	FetchKey(ctx context.Context, keyID string) (Key, error)
}

// ErrRefetchTooSoon is returned by [Keys.Refresh] when the key was fetched
// less than the refetch interval ago.
var ErrRefetchTooSoon = errors.New("key was refetched recently")

// KeysConfig configures a [Keys] cache.
type KeysConfig struct {
	// TTL is how long a fetched key is used before it is fetched again.
	// Default 24h.
	TTL time.Duration
	// MinRefetch is the shortest interval between two fetches of one key,
	// bounding the fetches a peer can cause with bad signatures. Default 1m.
	MinRefetch time.Duration
	// MaxEntries bounds the cache; when full, the oldest entry is evicted.
	// Default 50000.
	MaxEntries int
	// FailureTTL is how long a failed fetch is remembered: a key id that
	// could not be fetched is not fetched again for that long, however
	// many requests name it. Default 1m.
	FailureTTL time.Duration
	// HostFetches bounds the fetches of keys not cached that one
	// requester (a client address) causes from one host of key ids: Burst
	// at once, then PerSecond. A host minting key ids, or a sender naming
	// made-up key ids on another server, makes this relay fetch no more
	// than that, and spends no one else's share. Default 300 at once,
	// then 5 a second.
	HostFetches RateConfig
	// HostOf names the host of a key id for HostFetches, in one spelling
	// (the relay passes its peer normalisation: IDNA, case, trailing dot,
	// default port). Default: the URL's host in lower case.
	HostOf func(keyID string) string
}

// ErrHostFetchBudget is returned by [Keys.Get] and [Keys.Refresh] when the
// key's host has had its share of fetches; RetryAfter says how long until
// the next one.
var ErrHostFetchBudget = errors.New("too many key fetches from this host")

// BudgetError is an [ErrHostFetchBudget] with the wait until the host may
// be fetched from again.
type BudgetError struct {
	Host       string
	RetryAfter time.Duration
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v (%s); retry in %s", ErrHostFetchBudget, e.Host, e.RetryAfter.Round(time.Second))
}

func (e *BudgetError) Unwrap() error { return ErrHostFetchBudget }

// Keys is a cache of peers' public keys. It is safe for concurrent use.
type Keys struct {
	fetch KeyFetcher
	cfg   KeysConfig
	now   func() time.Time
	hosts *Limiter // fetches per key host

	// mu guards the following fields.
	mu       sync.Mutex
	entries  map[string]Key
	inflight map[string]*call
	failed   map[string]failure // bounded like entries
}

// failure is a fetch that failed, remembered for FailureTTL.
type failure struct {
	err error
	at  time.Time
}

type call struct {
	done chan struct{}
	key  Key
	err  error
}

// NewKeys returns a cache that fetches keys with f.
func NewKeys(f KeyFetcher, cfg KeysConfig) *Keys {
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.MinRefetch <= 0 {
		cfg.MinRefetch = time.Minute
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 50000
	}
	if cfg.FailureTTL <= 0 {
		cfg.FailureTTL = time.Minute
	}
	if cfg.HostFetches.PerSecond <= 0 {
		cfg.HostFetches.PerSecond = 5
	}
	if cfg.HostFetches.Burst <= 0 {
		cfg.HostFetches.Burst = 300
	}
	if cfg.HostOf == nil {
		cfg.HostOf = hostOf
	}
	return &Keys{fetch: f, cfg: cfg, now: time.Now, hosts: NewLimiter(cfg.HostFetches), entries: map[string]Key{},
		inflight: map[string]*call{}, failed: map[string]failure{}}
}

// Get returns the key with id keyID, from the cache when it holds a fresh
// copy (cached is then true), otherwise fetched at the cost of requester's
// share of fetches from the key's host.
func (k *Keys) Get(ctx context.Context, keyID, requester string) (key Key, cached bool, err error) {
	k.mu.Lock()
	e, ok := k.entries[keyID]
	k.mu.Unlock()
	if ok && k.now().Sub(e.FetchedAt) < k.cfg.TTL {
		return e, true, nil
	}
	key, err = k.load(ctx, keyID, requester)
	return key, false, err
}

// Refresh fetches keyID again, ignoring the cache, unless it was fetched
// within the minimum refetch interval.
func (k *Keys) Refresh(ctx context.Context, keyID, requester string) (Key, error) {
	k.mu.Lock()
	e, ok := k.entries[keyID]
	k.mu.Unlock()
	if ok && k.now().Sub(e.FetchedAt) < k.cfg.MinRefetch {
		return Key{}, ErrRefetchTooSoon
	}
	return k.load(ctx, keyID, requester)
}

// load fetches keyID, sharing one fetch among concurrent callers, unless
// it failed within FailureTTL.
func (k *Keys) load(ctx context.Context, keyID, requester string) (Key, error) {
	k.mu.Lock()
	if f, ok := k.failed[keyID]; ok && k.now().Sub(f.at) < k.cfg.FailureTTL {
		k.mu.Unlock()
		return Key{}, f.err
	}
	if c, ok := k.inflight[keyID]; ok {
		k.mu.Unlock()
		select {
		case <-c.done:
			return c.key, c.err
		case <-ctx.Done():
			return Key{}, ctx.Err()
		}
	}
	host := k.cfg.HostOf(keyID)
	if ok, wait := k.hosts.Allow(host+" "+requester, Normal); !ok {
		k.mu.Unlock()
		return Key{}, &BudgetError{Host: host, RetryAfter: wait}
	}
	c := &call{done: make(chan struct{})}
	k.inflight[keyID] = c
	k.mu.Unlock()

	// The fetch is shared, so one caller giving up must not cancel it for
	// the others; the fetcher bounds it with its own timeout.
	c.key, c.err = k.fetch.FetchKey(context.WithoutCancel(ctx), keyID)
	if c.err == nil {
		if c.key.ID != keyID {
			c.err = fmt.Errorf("fetched key %q for keyId %q", c.key.ID, keyID)
		} else {
			c.key.FetchedAt = k.now()
			c.key.Fingerprint, _ = Fingerprint(c.key.Public)
		}
	}

	k.mu.Lock()
	delete(k.inflight, keyID)
	if c.err == nil {
		k.put(c.key)
		delete(k.failed, keyID)
	} else {
		k.fail(keyID, c.err)
	}
	k.mu.Unlock()
	close(c.done)
	return c.key, c.err
}

// fail remembers a failed fetch; k.mu must be held. When full it forgets
// the failures that are over, then any one.
func (k *Keys) fail(keyID string, err error) {
	if len(k.failed) >= k.cfg.MaxEntries {
		now := k.now()
		for id, f := range k.failed {
			if now.Sub(f.at) >= k.cfg.FailureTTL {
				delete(k.failed, id)
			}
		}
		for id := range k.failed {
			if len(k.failed) < k.cfg.MaxEntries {
				break
			}
			delete(k.failed, id)
		}
	}
	k.failed[keyID] = failure{err: err, at: k.now()}
}

// put stores key; k.mu must be held.
func (k *Keys) put(key Key) {
	if _, ok := k.entries[key.ID]; !ok && len(k.entries) >= k.cfg.MaxEntries {
		var oldest string
		var at time.Time
		for id, e := range k.entries {
			if oldest == "" || e.FetchedAt.Before(at) {
				oldest, at = id, e.FetchedAt
			}
		}
		delete(k.entries, oldest)
	}
	k.entries[key.ID] = key
}

// hostOf is the host of a key id, in lower case ("" when it has none).
func hostOf(keyID string) string {
	u, err := url.Parse(keyID)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}
