package trust

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/url"
	"sync"
	"time"
)

// ErrUnprovenRotation is returned when a peer's key changed but the new
// key was not fetched over HTTPS from its own origin.
var ErrUnprovenRotation = errors.New("key changed, and the new key was not fetched over HTTPS")

// Fingerprint is the SHA-256 of a public key's SubjectPublicKeyInfo, hex.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// RotationProven reports whether a changed key may replace the pinned one:
// it was fetched from its key id's own origin (the fetcher checks that),
// over HTTPS, or over plain HTTP only where private networks are allowed
// (local demos and tests, where there is no TLS).
func RotationProven(keyID string, allowPlainHTTP bool) bool {
	u, err := url.Parse(keyID)
	if err != nil {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && allowPlainHTTP)
}

// PinnedKey is the key a peer signs with, as first verified.
type PinnedKey struct {
	KeyID       string `json:"key_id"`
	Owner       string `json:"owner"`
	Peer        string `json:"peer"`
	Fingerprint string `json:"fingerprint"`
	// PreviousFingerprint is the key before the last rotation.
	PreviousFingerprint string    `json:"previous_fingerprint,omitempty"`
	Rotations           int       `json:"rotations"`
	FirstSeen           time.Time `json:"first_seen"`
	RotatedAt           time.Time `json:"rotated_at,omitzero"`
}

// PinStore keeps the pinned keys for [Pins].
type PinStore interface {
	// Pinned returns the pin of a key id; ok is false when there is none.
	Pinned(ctx context.Context, keyID string) (k PinnedKey, ok bool, err error)
	// Pin records a first pin; it never replaces one. A peer keeps at most
	// keepPerPeer pins: a new one beyond that makes the peer's pins first
	// seen longest ago go (except those a key rule names).
	Pin(ctx context.Context, k PinnedKey, keepPerPeer int) error
	// Rotate records a proven rotation of a pin, and audits it.
	Rotate(ctx context.Context, k PinnedKey) error
}

// PinsConfig configures [Pins]. Zero fields take the defaults given.
type PinsConfig struct {
	// MaxPerPeer bounds the keys pinned for one peer. A big instance signs
	// with a key per user, hence the room; a host minting key ids gains
	// nothing past it. Default 10000.
	MaxPerPeer int
	// MaxCached bounds the pins held in memory; the store holds them all.
	// Default 50000.
	MaxCached int
	// AllowPlainHTTP accepts rotations fetched over plain HTTP (local
	// demos and tests). Default false.
	AllowPlainHTTP bool
	// OnRotated, when set, is told of every rotation recorded.
	OnRotated func(k PinnedKey)
}

// Pins pins the first key that verifies for a key id (trust on first
// use), and accepts a different one later only as a rotation proven over
// HTTPS. It is safe for concurrent use.
type Pins struct {
	store PinStore
	cfg   PinsConfig
	now   func() time.Time

	// mu guards cache.
	mu    sync.Mutex
	cache map[string]string // key id → fingerprint
}

// NewPins returns pins kept in st.
func NewPins(st PinStore, cfg PinsConfig) *Pins {
	if cfg.MaxPerPeer <= 0 {
		cfg.MaxPerPeer = 10000
	}
	if cfg.MaxCached <= 0 {
		cfg.MaxCached = 50000
	}
	return &Pins{store: st, cfg: cfg, now: time.Now, cache: map[string]string{}}
}

// Check compares a verified key with the one pinned for its key id. A key
// id never pinned reports newPin: the caller pins it with [Pins.Record]
// once it accepted what the key signed, so that strangers' requests pin
// nothing. A different key is accepted only as a rotation proven over
// HTTPS, which is recorded; otherwise Check returns ErrUnprovenRotation.
func (p *Pins) Check(ctx context.Context, peer string, key Key) (newPin bool, err error) {
	fp, err := key.fingerprint()
	if err != nil {
		return false, err
	}
	pinned, ok, err := p.Fingerprint(ctx, key.ID)
	if err != nil || !ok {
		return !ok && err == nil, err
	}
	if pinned == fp {
		return false, nil
	}
	if !RotationProven(key.ID, p.cfg.AllowPlainHTTP) {
		return false, ErrUnprovenRotation
	}
	old, ok, err := p.store.Pinned(ctx, key.ID)
	if err != nil || !ok {
		return false, errors.Join(err, errors.New("pin vanished during a rotation"))
	}
	k := PinnedKey{KeyID: key.ID, Owner: key.Owner, Peer: peer, Fingerprint: fp, FirstSeen: old.FirstSeen,
		PreviousFingerprint: pinned, Rotations: old.Rotations + 1, RotatedAt: p.now().UTC()}
	if err := p.store.Rotate(ctx, k); err != nil {
		return false, err
	}
	p.remember(key.ID, fp)
	if p.cfg.OnRotated != nil {
		p.cfg.OnRotated(k)
	}
	return false, nil
}

// Record pins the first key that verified for a key id.
func (p *Pins) Record(ctx context.Context, peer string, key Key) error {
	fp, err := key.fingerprint()
	if err != nil {
		return err
	}
	k := PinnedKey{KeyID: key.ID, Owner: key.Owner, Peer: peer, Fingerprint: fp, FirstSeen: p.now().UTC()}
	if err := p.store.Pin(ctx, k, p.cfg.MaxPerPeer); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.cache, key.ID) // a pin made meanwhile stays: read it again
	p.mu.Unlock()
	return nil
}

// Fingerprint returns the fingerprint pinned for a key id.
func (p *Pins) Fingerprint(ctx context.Context, keyID string) (string, bool, error) {
	p.mu.Lock()
	fp, ok := p.cache[keyID]
	p.mu.Unlock()
	if ok {
		return fp, true, nil
	}
	k, ok, err := p.store.Pinned(ctx, keyID)
	if err != nil || !ok {
		return "", false, err
	}
	p.remember(keyID, k.Fingerprint)
	return k.Fingerprint, true, nil
}

// remember caches a pin, forgetting another when the cache is full.
func (p *Pins) remember(keyID, fp string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.cache[keyID]; !ok && len(p.cache) >= p.cfg.MaxCached {
		for id := range p.cache {
			delete(p.cache, id) // any one: the store still holds it
			break
		}
	}
	p.cache[keyID] = fp
}

// fingerprint is the key's fingerprint, computed when it was fetched.
func (k Key) fingerprint() (string, error) {
	if k.Fingerprint != "" {
		return k.Fingerprint, nil
	}
	return Fingerprint(k.Public)
}
