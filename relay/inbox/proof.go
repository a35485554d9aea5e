package inbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/proof"
)

// checkProofs verifies the FEP-8b32 object integrity proofs an activity
// carries, on the activity itself and on its embedded object (a listing a
// platform signed, say). Each eddsa-jcs-2022 proof must verify with its
// verificationMethod's Ed25519 key, fetched (and cached) like any
// signing key, and that key must be the actor's or another key of the
// actor's server: a proof by someone else vouches for nothing here. A
// failing proof is refused (401) with the reason; proofs of other
// cryptosuites are left alone. Proofs are kept, as the whole activity is
// forwarded byte for byte.
func (p *Pipeline) checkProofs(ctx context.Context, in *Activity) error {
	// Most activities carry no proof: they are not parsed again. A key
	// spelled with escapes ("\u0070roof") is parsed like any other.
	if !bytes.Contains(in.Raw, []byte("proof")) && !bytes.Contains(in.Raw, []byte(`\u`)) {
		return nil
	}
	docs := [][]byte{in.Raw}
	var env struct {
		Object json.RawMessage `json:"object"`
	}
	if json.Unmarshal(in.Raw, &env) == nil && bytes.HasPrefix(bytes.TrimSpace(env.Object), []byte("{")) {
		docs = append(docs, env.Object)
	}
	for _, doc := range docs {
		proofs, err := proof.Find(doc)
		if err != nil {
			return p.proofRefusal(err)
		}
		if len(proofs) == 0 {
			continue
		}
		_, err = proof.Verify(doc, func(vm string) (ed25519.PublicKey, error) { return p.proofKey(ctx, in, vm) })
		if errors.Is(err, proof.ErrUnsupported) {
			continue
		}
		if rf := budgetRefusal(err); rf != nil {
			return rf // the key fetch was refused for the sender's budget: 429, not a bad proof
		}
		if err != nil {
			return p.proofRefusal(err)
		}
		p.cfg.Metrics.ProofVerified()
	}
	return nil
}

// proofKey resolves a proof's verification method to the Ed25519 key of
// the activity's actor's server.
func (p *Pipeline) proofKey(ctx context.Context, in *Activity, vm string) (ed25519.PublicKey, error) {
	if !policy.SameHost(vm, in.Actor) {
		return nil, fmt.Errorf("key %s is not on the actor's host", vm)
	}
	key, _, err := p.cfg.Keys.Get(ctx, vm, in.from)
	if err != nil {
		return nil, fmt.Errorf("fetching key: %w", err)
	}
	pub, ok := key.Public.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key %s is not an Ed25519 key", vm)
	}
	if !policy.SameHost(key.Owner, in.Actor) {
		return nil, fmt.Errorf("key %s is controlled by %s", vm, key.Owner)
	}
	return pub, nil
}

// proofRefusal answers a proof that does not hold.
func (p *Pipeline) proofRefusal(err error) error {
	reason := "proof_invalid"
	if errors.Is(err, proof.ErrBadProof) {
		reason = "proof_bad"
	}
	p.cfg.Metrics.SignatureFailure(reason)
	return Refuse(http.StatusUnauthorized, "proof", "proof: %s", ErrText(err))
}
