package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
)

// multikeyDoc is one assertionMethod entry (FEP-521a).
type multikeyDoc struct {
	ID                 string          `json:"id"`
	Type               json.RawMessage `json:"type"`
	Controller         string          `json:"controller"`
	PublicKeyMultibase string          `json:"publicKeyMultibase"`
}

// AssertionKey fetches the actor that lists keyID in its assertionMethod
// and returns the Ed25519 key. The actor must be on the key's origin and be
// the key's controller. It implements [discovery.KeyResolver].
func (c *Client) AssertionKey(ctx context.Context, keyID string) (discovery.AssertionKey, error) {
	docURL, _, _ := strings.Cut(keyID, "#")
	body, err := c.Get(ctx, docURL)
	if err != nil {
		return discovery.AssertionKey{}, err
	}
	var doc struct {
		ID              string          `json:"id"`
		AssertionMethod json.RawMessage `json:"assertionMethod"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return discovery.AssertionKey{}, fmt.Errorf("%w: %v", ErrNotActor, err)
	}
	if !policy.SameHost(doc.ID, docURL) {
		return discovery.AssertionKey{}, fmt.Errorf("%w: %s fetched from %s", ErrForeignID, doc.ID, docURL)
	}
	k, ok, err := assertionKey(doc.AssertionMethod, doc.ID, keyID)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s in assertionMethod", ErrNoKey, keyID)
	}
	return k, err
}

// assertionKey finds the Ed25519 Multikey keyID in an actor's
// assertionMethod (one entry or an array); the actor must control it.
func assertionKey(raw json.RawMessage, actorID, keyID string) (discovery.AssertionKey, bool, error) {
	var methods []multikeyDoc
	am := bytes.TrimSpace(raw)
	if len(am) > 0 && am[0] == '[' {
		json.Unmarshal(am, &methods)
	} else {
		var one multikeyDoc
		if json.Unmarshal(am, &one) == nil {
			methods = []multikeyDoc{one}
		}
	}
	for _, m := range methods {
		if m.ID != keyID || firstString(m.Type) != "Multikey" {
			continue
		}
		if m.Controller != actorID {
			return discovery.AssertionKey{}, true, fmt.Errorf("%w: %s is controlled by %s", ErrForeignID, keyID, m.Controller)
		}
		pub, err := discovery.DecodeMultikey(m.PublicKeyMultibase)
		if err != nil {
			return discovery.AssertionKey{}, true, fmt.Errorf("%w: %s: %v", ErrNoKey, keyID, err)
		}
		return discovery.AssertionKey{ID: m.ID, Controller: m.Controller, Public: pub}, true, nil
	}
	return discovery.AssertionKey{}, false, nil
}
