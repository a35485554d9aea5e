package proof

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"
)

// Sign adds an eddsa-jcs-2022 DataIntegrityProof made with key to doc, a
// JSON object, and returns the signed document. The proof names
// verificationMethod, has proofPurpose assertionMethod, carries created
// (UTC, whole seconds; left out if created is the zero time) and a copy of
// the document's @context if it has one.
//
// A document that already has a proof by verificationMethod is refused
// with ErrAlreadySigned, and one with a proof that Find cannot read with
// ErrMalformed. Proofs by others are kept, and the new one joins them in a
// proof array; as in a Data Integrity proof set, each proof signs the
// document without any proof. Like Verify, Sign leaves a Linked Data
// "signature" out of what it signs.
//
// The result holds the same JSON values as doc, re-encoded: members sorted
// by name, numbers as written, no insignificant whitespace.
func Sign(doc []byte, key ed25519.PrivateKey, verificationMethod string, created time.Time) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes", ErrInvalidKey, len(key))
	}
	if verificationMethod == "" || len(verificationMethod) > maxFieldLen {
		return nil, fmt.Errorf("verificationMethod must be 1 to %d bytes", maxFieldLen)
	}
	obj, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	entries, err := proofEntries(obj)
	if err != nil {
		return nil, err
	}
	if len(entries) >= MaxProofs {
		return nil, fmt.Errorf("%w: already %d proofs", ErrMalformed, len(entries))
	}
	for _, m := range entries {
		p, err := proofFields(m)
		if err != nil {
			return nil, err
		}
		if p.VerificationMethod == verificationMethod {
			return nil, fmt.Errorf("%w: %.200q", ErrAlreadySigned, verificationMethod)
		}
	}
	p := map[string]any{
		"type":               TypeDataIntegrityProof,
		"cryptosuite":        CryptosuiteEdDSAJCS2022,
		"verificationMethod": verificationMethod,
		"proofPurpose":       PurposeAssertionMethod,
	}
	if !created.IsZero() {
		p["created"] = created.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	if ctx, ok := obj["@context"]; ok {
		p["@context"] = ctx
	}
	docHash, err := documentHash(obj)
	if err != nil {
		return nil, err
	}
	h, err := hashData(p, docHash)
	if err != nil {
		return nil, err
	}
	p["proofValue"] = "z" + base58Encode(ed25519.Sign(key, h))
	attach(obj, entries, p)
	return encodeDocument(obj)
}

// attach sets the document's proof to p alone, or appends p to the proofs
// already there.
func attach(obj map[string]any, entries []map[string]any, p map[string]any) {
	if len(entries) == 0 {
		obj["proof"] = p
		return
	}
	all := make([]any, 0, len(entries)+1)
	for _, e := range entries {
		all = append(all, e)
	}
	obj["proof"] = append(all, p)
}

// encodeDocument writes a parsed document back as JSON and refuses a result
// that Verify would refuse for its size.
func encodeDocument(obj map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("encoding the signed document: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(out) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: signed document is %d bytes, more than %d", ErrMalformed, len(out), MaxDocumentSize)
	}
	return out, nil
}
