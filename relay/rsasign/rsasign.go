package rsasign

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Backend names, as given to [New] and returned by [Key.Backend].
const (
	Go      = "go"      // Go's crypto/rsa
	OpenSSL = "openssl" // the system's OpenSSL 3 libcrypto, through cgo
)

var (
	// ErrUnavailable means the OpenSSL backend cannot be used: the binary
	// was built without cgo, or libcrypto failed to start or to load the
	// key. The wrapping error says which.
	ErrUnavailable = errors.New("rsasign: openssl backend unavailable")
	// ErrNoKey means no usable private key was given.
	ErrNoKey = errors.New("rsasign: no RSA private key")
	// ErrDigestSize means the digest is not a SHA-256 sum (32 bytes).
	ErrDigestSize = errors.New("rsasign: digest is not 32 bytes")
	// ErrBackend means the backend name is neither "", [Go] nor [OpenSSL].
	ErrBackend = errors.New("rsasign: unknown backend")
)

// Key signs SHA-256 digests with one RSA private key. It is safe for
// concurrent use by many goroutines.
type Key interface {
	// SignSHA256 returns the RSA PKCS#1 v1.5 signature of digest, which
	// must be a SHA-256 sum (32 bytes, else [ErrDigestSize]). The
	// signature is as long as the key's modulus.
	SignSHA256(digest []byte) ([]byte, error)
	// Backend names the implementation: [Go] or [OpenSSL].
	Backend() string
	// Public returns the public half of the key (nil for a [NewGo] key
	// made from nil).
	Public() *rsa.PublicKey
}

// New returns k as a [Key] on the named backend. backend "" picks the
// fastest that works: [OpenSSL] when it is compiled in and loads k, else
// [Go]. [Go] and [OpenSSL] force one; a forced [OpenSSL] that cannot be
// used returns an error matching [ErrUnavailable]. Any RSA key size works;
// k must pass [rsa.PrivateKey.Validate].
func New(k *rsa.PrivateKey, backend string) (Key, error) {
	if err := checkKey(k); err != nil {
		return nil, err
	}
	switch backend {
	case "":
		if key, err := NewOpenSSL(k); err == nil {
			return key, nil
		}
		return NewGo(k), nil
	case Go:
		return NewGo(k), nil
	case OpenSSL:
		return NewOpenSSL(k)
	}
	return nil, fmt.Errorf("%w %q (want %q or %q)", ErrBackend, backend, Go, OpenSSL)
}

// checkKey refuses a nil or inconsistent key before either backend sees it.
func checkKey(k *rsa.PrivateKey) error {
	if k == nil || k.N == nil || len(k.Primes) < 2 {
		return ErrNoKey
	}
	if err := k.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrNoKey, err)
	}
	return nil
}

// goKey is the crypto/rsa backend. key is a precomputed copy, so the
// caller's key is never written to.
type goKey struct {
	key *rsa.PrivateKey
}

// NewGo returns k as a [Key] on Go's crypto/rsa. It copies k and
// precomputes the CRT values once. A nil k gives a key whose SignSHA256
// returns [ErrNoKey].
func NewGo(k *rsa.PrivateKey) Key {
	if k == nil {
		return goKey{}
	}
	c := *k
	c.Precompute()
	return goKey{key: &c}
}

// SignSHA256 implements [Key].
func (g goKey) SignSHA256(digest []byte) ([]byte, error) {
	if g.key == nil {
		return nil, ErrNoKey
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: got %d", ErrDigestSize, len(digest))
	}
	// rand is nil: PKCS#1 v1.5 signing needs no randomness.
	sig, err := rsa.SignPKCS1v15(nil, g.key, crypto.SHA256, digest)
	if err != nil {
		return nil, fmt.Errorf("rsasign: crypto/rsa: %w", err)
	}
	return sig, nil
}

// Backend implements [Key].
func (goKey) Backend() string { return Go }

// Public implements [Key].
func (g goKey) Public() *rsa.PublicKey {
	if g.key == nil {
		return nil
	}
	pub := g.key.PublicKey
	return &pub
}

// Rate measures how many signatures per second k sustains with every core
// busy: GOMAXPROCS goroutines sign one digest over and over for d. It is
// for benchmarks, the bound of a fan-out. Failed signatures are not
// counted (a goroutine stops at its first error); a nil k or d <= 0 gives 0.
func Rate(k Key, d time.Duration) float64 {
	if k == nil || d <= 0 {
		return 0
	}
	digest := sha256.Sum256([]byte("rsasign rate"))
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var n int64
			for time.Now().Before(deadline) {
				if _, err := k.SignSHA256(digest[:]); err != nil {
					break
				}
				n++
			}
			total.Add(n)
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}
