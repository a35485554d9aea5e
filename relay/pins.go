package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// pins caches the pinned key fingerprints by key id; the store holds them.
type pins struct {
	mu sync.Mutex // guards m
	m  map[string]string
}

// loadPins fills the cache from the store.
func (s *Server) loadPins(ctx context.Context) error {
	keys, err := s.store.PinnedKeys(ctx)
	if err != nil {
		return fmt.Errorf("loading pinned keys: %w", err)
	}
	s.pins.mu.Lock()
	defer s.pins.mu.Unlock()
	s.pins.m = make(map[string]string, len(keys))
	for _, k := range keys {
		s.pins.m[k.KeyID] = k.Fingerprint
	}
	return nil
}

// checkPin pins the first key that verifies for a key id, and accepts a
// different one later only as a rotation proven over HTTPS, which is
// recorded and audited for moderators.
func (s *Server) checkPin(ctx context.Context, peer string, key trust.Key) error {
	fp := key.Fingerprint // computed when the key was fetched
	if fp == "" {
		var err error
		if fp, err = trust.Fingerprint(key.Public); err != nil {
			return err
		}
	}
	s.pins.mu.Lock()
	pinned, ok := s.pins.m[key.ID]
	s.pins.mu.Unlock()
	if ok && pinned == fp {
		return nil
	}
	now := time.Now().UTC()
	pk := store.PinnedKey{KeyID: key.ID, Owner: key.Owner, Peer: peer, Fingerprint: fp, FirstSeen: now}
	var audit *store.AuditEntry
	if ok {
		if !trust.RotationProven(key.ID, s.cfg.AllowPrivateNetworks) {
			s.metrics.sigFailures.WithLabelValues("unproven_rotation").Inc()
			return refuse(http.StatusUnauthorized, "signature", "signature: %v", trust.ErrUnprovenRotation)
		}
		old, err := s.pinnedKey(ctx, key.ID)
		if err != nil {
			return err
		}
		pk.FirstSeen, pk.PreviousFingerprint, pk.Rotations, pk.RotatedAt = old.FirstSeen, pinned, old.Rotations+1, now
		details, _ := json.Marshal(pk)
		audit = &store.AuditEntry{At: now, Who: "peer:" + peer, What: "key.rotated", Subject: key.ID,
			Why: "the key changed and the new one was fetched over HTTPS from its origin", Source: "peer", Details: details}
		s.log.Warn("peer key rotated", "peer", peer, "key", key.ID, "rotations", pk.Rotations)
	}
	if err := s.store.PinKey(ctx, pk, audit); err != nil {
		return err
	}
	s.pins.mu.Lock()
	s.pins.m[key.ID] = fp
	s.pins.mu.Unlock()
	return nil
}

func (s *Server) pinnedKey(ctx context.Context, keyID string) (store.PinnedKey, error) {
	keys, err := s.store.PinnedKeys(ctx)
	if err != nil {
		return store.PinnedKey{}, err
	}
	for _, k := range keys {
		if k.KeyID == keyID {
			return k, nil
		}
	}
	return store.PinnedKey{}, store.ErrNotFound
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
