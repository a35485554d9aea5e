package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// Limits of key pinning.
const (
	// maxPinsPerPeer bounds the keys pinned for one peer; a new one beyond
	// it makes the peer's pins first seen longest ago go. A big instance
	// signs with a key per user, hence the room; a host minting key ids
	// gains nothing past it.
	maxPinsPerPeer = 10000
	// maxPinCache bounds the pins held in memory; the store holds them all.
	maxPinCache = 50000
)

// pins caches pinned key fingerprints by key id; the store holds them.
type pins struct {
	mu sync.Mutex // guards m
	m  map[string]string
}

// pinned returns the fingerprint pinned for a key id, from the cache or
// the store.
func (s *Server) pinned(ctx context.Context, keyID string) (string, bool, error) {
	s.pins.mu.Lock()
	fp, ok := s.pins.m[keyID]
	s.pins.mu.Unlock()
	if ok {
		return fp, true, nil
	}
	pk, err := s.store.PinnedKey(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s.cachePin(keyID, pk.Fingerprint)
	return pk.Fingerprint, true, nil
}

// cachePin remembers a pin, forgetting another when the cache is full.
func (s *Server) cachePin(keyID, fp string) {
	s.pins.mu.Lock()
	defer s.pins.mu.Unlock()
	if s.pins.m == nil {
		s.pins.m = map[string]string{}
	}
	if _, ok := s.pins.m[keyID]; !ok && len(s.pins.m) >= maxPinCache {
		for id := range s.pins.m {
			delete(s.pins.m, id) // any one: the store still holds it
			break
		}
	}
	s.pins.m[keyID] = fp
}

// checkPin compares a verified key with the one pinned for its key id. A
// key id never pinned reports newPin: it is pinned (recordPin) only once
// its activity is accepted, so that strangers' requests pin nothing. A
// different key is accepted only as a rotation proven over HTTPS, which
// is recorded and audited for moderators.
func (s *Server) checkPin(ctx context.Context, peer string, key trust.Key) (newPin bool, err error) {
	fp, err := keyFingerprint(key)
	if err != nil {
		return false, err
	}
	pinned, ok, err := s.pinned(ctx, key.ID)
	if err != nil || !ok {
		return !ok && err == nil, err
	}
	if pinned == fp {
		return false, nil
	}
	if !trust.RotationProven(key.ID, s.cfg.AllowPrivateNetworks) {
		s.metrics.sigFailures.WithLabelValues("unproven_rotation").Inc()
		return false, refuse(http.StatusUnauthorized, "signature", "signature: %v", trust.ErrUnprovenRotation)
	}
	old, err := s.store.PinnedKey(ctx, key.ID)
	if err != nil {
		return false, err
	}
	now := time.Now().UTC()
	pk := store.PinnedKey{KeyID: key.ID, Owner: key.Owner, Peer: peer, Fingerprint: fp, FirstSeen: old.FirstSeen,
		PreviousFingerprint: pinned, Rotations: old.Rotations + 1, RotatedAt: now}
	details, _ := json.Marshal(pk)
	audit := &store.AuditEntry{At: now, Who: "peer:" + peer, What: "key.rotated", Subject: key.ID,
		Why: "the key changed and the new one was fetched over HTTPS from its origin", Source: "peer", Details: details}
	s.log.Warn("peer key rotated", "peer", peer, "key", key.ID, "rotations", pk.Rotations)
	if err := s.store.PinKey(ctx, pk, audit, maxPinsPerPeer); err != nil {
		return false, err
	}
	s.cachePin(key.ID, fp)
	return false, nil
}

// recordPin pins the first key that verified for a key id, once its
// activity was accepted.
func (s *Server) recordPin(ctx context.Context, peer string, key trust.Key) error {
	fp, err := keyFingerprint(key)
	if err != nil {
		return err
	}
	pk := store.PinnedKey{KeyID: key.ID, Owner: key.Owner, Peer: peer, Fingerprint: fp, FirstSeen: time.Now().UTC()}
	if err := s.store.PinKey(ctx, pk, nil, maxPinsPerPeer); err != nil {
		return err
	}
	s.cachePin(key.ID, fp)
	return nil
}

// keyFingerprint is the key's fingerprint, computed when it was fetched.
func keyFingerprint(key trust.Key) (string, error) {
	if key.Fingerprint != "" {
		return key.Fingerprint, nil
	}
	return trust.Fingerprint(key.Public)
}

func (s *Server) adminKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.store.PinnedKeys(r.Context())
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	if keys == nil {
		keys = []store.PinnedKey{}
	}
	adminJSON(w, keys)
}
