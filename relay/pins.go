package relay

import (
	"context"
	"encoding/json"
	"errors"
	"math"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// pinStore keeps trust's pins in the relay's store, auditing rotations.
type pinStore struct{ st store.Store }

func (p pinStore) Pinned(ctx context.Context, keyID string) (trust.PinnedKey, bool, error) {
	k, err := p.st.PinnedKey(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return k, false, nil
	}
	return k, err == nil, err
}

func (p pinStore) Pin(ctx context.Context, k trust.PinnedKey, keepPerPeer int) error {
	return p.st.PinKey(ctx, k, nil, keepPerPeer)
}

func (p pinStore) Rotate(ctx context.Context, k trust.PinnedKey) error {
	details, _ := json.Marshal(k)
	audit := &store.AuditEntry{At: k.RotatedAt, Who: "peer:" + k.Peer, What: "key.rotated", Subject: k.KeyID,
		Why: "the key changed and the new one was fetched over HTTPS from its origin", Source: "peer", Details: details}
	return p.st.PinKey(ctx, k, audit, math.MaxInt32) // a rotation evicts nothing
}
