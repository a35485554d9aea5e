package proof

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

// Resolver returns the Ed25519 public key of a verification method, or an
// error if it cannot, or will not, vouch for it. It is where the caller
// checks that the method belongs to the document's owner (FEP-8b32,
// FEP-521a assertionMethod); a key fetch may be behind it.
type Resolver func(verificationMethod string) (ed25519.PublicKey, error)

// candidate is an eddsa-jcs-2022 proof that passed the checks that need no
// key.
type candidate struct {
	proof Proof
	entry map[string]any
	sig   []byte
}

// Verify checks the eddsa-jcs-2022 proofs on doc and returns them in
// document order. Every eddsa-jcs-2022 proof on the document must verify
// with the key resolve returns for its verificationMethod (a proof set is
// verified whole, as in Data Integrity); proofs of other types or
// cryptosuites are ignored, and if there is no eddsa-jcs-2022 proof at all
// the error wraps ErrUnsupported. Every proof is checked for form before
// resolve is called for any. Verify reads no clock: a caller that wants
// created (or an expires member) bounded checks it itself.
func Verify(doc []byte, resolve Resolver) ([]Proof, error) {
	if resolve == nil {
		return nil, errors.New("Verify needs a Resolver")
	}
	obj, cands, err := candidates(doc)
	if err != nil {
		return nil, err
	}
	docHash, err := documentHash(obj)
	if err != nil {
		return nil, err
	}
	proofs := make([]Proof, 0, len(cands))
	for _, c := range cands {
		pub, err := resolve(c.proof.VerificationMethod)
		if err != nil {
			return nil, fmt.Errorf("resolving %.200q: %w", c.proof.VerificationMethod, err)
		}
		if err := c.verify(obj, pub, docHash); err != nil {
			return nil, err
		}
		proofs = append(proofs, c.proof)
	}
	return proofs, nil
}

// VerifyKey is Verify with one key for every verification method: it suits
// the usual document with a single proof whose key the caller already
// holds. It returns the first eddsa-jcs-2022 proof.
func VerifyKey(doc []byte, pub ed25519.PublicKey) (*Proof, error) {
	proofs, err := Verify(doc, func(string) (ed25519.PublicKey, error) { return pub, nil })
	if err != nil {
		return nil, err
	}
	return &proofs[0], nil
}

// candidates parses doc and returns its eddsa-jcs-2022 proofs, each checked
// for form; there is at least one when the error is nil.
func candidates(doc []byte) (map[string]any, []candidate, error) {
	obj, err := parseDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	entries, err := proofEntries(obj)
	if err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		return nil, nil, ErrNoProof
	}
	var cands []candidate
	var others []string
	for _, m := range entries {
		p, err := proofFields(m)
		if err != nil {
			return nil, nil, err
		}
		if !p.eddsaJCS() {
			others = append(others, fmt.Sprintf("%.64q/%.64q", p.Type, p.Cryptosuite))
			continue
		}
		sig, err := checkProof(obj, m, p)
		if err != nil {
			return nil, nil, err
		}
		cands = append(cands, candidate{p, m, sig})
	}
	if len(cands) == 0 {
		return nil, nil, fmt.Errorf("%w: no eddsa-jcs-2022 proof (found %s)", ErrUnsupported, strings.Join(others, ", "))
	}
	return obj, cands, nil
}

// checkProof checks what needs no key and returns the decoded signature.
func checkProof(obj, m map[string]any, p Proof) ([]byte, error) {
	if p.VerificationMethod == "" {
		return nil, fmt.Errorf("%w: proof has no verificationMethod", ErrMalformed)
	}
	if p.ProofPurpose != PurposeAssertionMethod {
		return nil, fmt.Errorf("%w: proofPurpose is %.64q, want %q", ErrBadProof, p.ProofPurpose, PurposeAssertionMethod)
	}
	if _, ok := m["created"]; ok && !validDateTime(p.Created) {
		return nil, fmt.Errorf("%w: created %.64q is not an XML Schema dateTime", ErrMalformed, p.Created)
	}
	if _, ok := m["previousProof"]; ok {
		return nil, fmt.Errorf("%w: proof chains (previousProof) are not verified", ErrUnsupported)
	}
	if pctx, ok := m["@context"]; ok {
		same, err := sameJSON(pctx, obj["@context"])
		if err != nil {
			return nil, err
		}
		if _, has := obj["@context"]; !has || !same {
			return nil, fmt.Errorf("%w: the proof's @context is not the document's", ErrBadProof)
		}
	}
	sig, err := decodeMultibase58(p.ProofValue, maxEdDSAValue, ed25519.SignatureSize)
	if err != nil {
		return nil, fmt.Errorf("%w: proofValue: %w", ErrMalformed, err)
	}
	return sig, nil
}

// verify checks the signature with pub. A proof that carries @context is
// its own proof configuration (less proofValue). One without is tried with
// the document's @context copied in, as Fedify signs, then as it is, as the
// 2023 FEP-8b32 vector was signed.
func (c candidate) verify(obj map[string]any, pub ed25519.PublicKey, docHash [sha256.Size]byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: key for %.200q is %d bytes", ErrInvalidKey, c.proof.VerificationMethod, len(pub))
	}
	cfg := maps.Clone(c.entry)
	delete(cfg, "proofValue")
	configs := []map[string]any{cfg}
	if ctx, ok := obj["@context"]; ok {
		if _, own := cfg["@context"]; !own {
			withCtx := maps.Clone(cfg)
			withCtx["@context"] = ctx
			configs = []map[string]any{withCtx, cfg}
		}
	}
	for _, pc := range configs {
		h, err := hashData(pc, docHash)
		if err != nil {
			return err
		}
		if ed25519.Verify(pub, h, c.sig) {
			return nil
		}
	}
	return fmt.Errorf("%w: signature by %.200q", ErrBadProof, c.proof.VerificationMethod)
}

// sameJSON reports whether two parsed values have the same canonical form.
func sameJSON(a, b any) (bool, error) {
	ca, err := canonical(a)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	cb, err := canonical(b)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return bytes.Equal(ca, cb), nil
}

// validDateTime accepts an XML Schema dateTime with a time zone (RFC 3339)
// or without one, with or without fractional seconds.
func validDateTime(s string) bool {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}
