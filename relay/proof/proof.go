package proof

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
)

// Bounds on what is read. A document over MaxDocumentSize is refused before
// it is parsed; so is a proof array longer than MaxProofs and a proof field
// longer than its limit.
const (
	MaxDocumentSize = 1 << 20 // 1 MiB
	MaxProofs       = 8
	maxFieldLen     = 2048     // type, cryptosuite, verificationMethod, proofPurpose, created
	maxValueLen     = 16 << 10 // proofValue of any cryptosuite; eddsa-jcs-2022's is at most 89
	maxEdDSAValue   = 128      // "z" + base58 of a 64-byte signature is 87-89
)

// Values of the proof fields this package writes and checks.
const (
	TypeDataIntegrityProof  = "DataIntegrityProof"
	CryptosuiteEdDSAJCS2022 = "eddsa-jcs-2022"
	PurposeAssertionMethod  = "assertionMethod"
)

// Proof is one DataIntegrityProof as found on a document. Fields absent from
// the document are empty. Members not listed here (id, expires, nonce, …)
// are not shown but are covered by the signature all the same.
type Proof struct {
	Type               string // "DataIntegrityProof"
	Cryptosuite        string // "eddsa-jcs-2022"
	VerificationMethod string // URL of the key, e.g. "https://server.example/users/alice#ed25519-key"
	ProofPurpose       string // "assertionMethod"
	Created            string // XML Schema dateTime, e.g. "2023-02-24T23:36:38Z"; may be empty
	ProofValue         string // multibase signature, "z…"
}

// Errors that Find, Verify, VerifyKey and Sign wrap; match them with
// errors.Is. A Resolver's own error is wrapped as it is.
var (
	// ErrNoProof: the document has no "proof" (or an empty proof array).
	ErrNoProof = errors.New("document has no proof")
	// ErrUnsupported: no proof is an eddsa-jcs-2022 DataIntegrityProof, or
	// one uses a feature this package does not verify (previousProof).
	ErrUnsupported = errors.New("unsupported proof")
	// ErrMalformed: the document is not a strict JSON object within the
	// bounds, or a proof is not an object of string fields within them.
	ErrMalformed = errors.New("malformed document or proof")
	// ErrBadProof: an eddsa-jcs-2022 proof does not verify, names another
	// purpose than assertionMethod, or carries an @context that is not
	// the document's.
	ErrBadProof = errors.New("proof does not verify")
	// ErrAlreadySigned: Sign was asked to add a second proof by the same
	// verification method.
	ErrAlreadySigned = errors.New("document already has a proof by this verification method")
)

// Find returns the proofs on doc in document order: the "proof" object, or
// each member of a "proof" array. A document without proof gives nil, nil.
// Find reports proofs of every type and cryptosuite; it checks no signature.
func Find(doc []byte) ([]Proof, error) {
	obj, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	entries, err := proofEntries(obj)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	proofs := make([]Proof, len(entries))
	for i, m := range entries {
		if proofs[i], err = proofFields(m); err != nil {
			return nil, err
		}
	}
	return proofs, nil
}

// parseDocument parses doc strictly and requires a JSON object.
func parseDocument(doc []byte) (map[string]any, error) {
	if len(doc) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: document is %d bytes, more than %d", ErrMalformed, len(doc), MaxDocumentSize)
	}
	v, err := parseJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: document is not a JSON object", ErrMalformed)
	}
	return obj, nil
}

// proofEntries returns the proof objects of a document.
func proofEntries(obj map[string]any) ([]map[string]any, error) {
	raw, ok := obj["proof"]
	if !ok {
		return nil, nil
	}
	switch x := raw.(type) {
	case map[string]any:
		return []map[string]any{x}, nil
	case []any:
		if len(x) > MaxProofs {
			return nil, fmt.Errorf("%w: %d proofs, more than %d", ErrMalformed, len(x), MaxProofs)
		}
		entries := make([]map[string]any, len(x))
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: proof %d is not an object", ErrMalformed, i)
			}
			entries[i] = m
		}
		return entries, nil
	}
	return nil, fmt.Errorf("%w: proof is neither an object nor an array", ErrMalformed)
}

// proofFields reads the string fields of a proof object.
func proofFields(m map[string]any) (Proof, error) {
	var p Proof
	for _, f := range []struct {
		name string
		max  int
		dst  *string
	}{
		{"type", maxFieldLen, &p.Type},
		{"cryptosuite", maxFieldLen, &p.Cryptosuite},
		{"verificationMethod", maxFieldLen, &p.VerificationMethod},
		{"proofPurpose", maxFieldLen, &p.ProofPurpose},
		{"created", maxFieldLen, &p.Created},
		{"proofValue", maxValueLen, &p.ProofValue},
	} {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return Proof{}, fmt.Errorf("%w: proof %s is not a string", ErrMalformed, f.name)
		}
		if len(s) > f.max {
			return Proof{}, fmt.Errorf("%w: proof %s is %d bytes, more than %d", ErrMalformed, f.name, len(s), f.max)
		}
		*f.dst = s
	}
	return p, nil
}

// eddsaJCS reports whether p is a proof this package verifies.
func (p Proof) eddsaJCS() bool {
	return p.Type == TypeDataIntegrityProof && p.Cryptosuite == CryptosuiteEdDSAJCS2022
}

// documentHash is SHA-256 of the canonical unsecured document: obj without
// "proof" and, as FEP-8b32 requires of a received object that has both,
// without a Linked Data "signature".
func documentHash(obj map[string]any) ([sha256.Size]byte, error) {
	unsecured := maps.Clone(obj)
	delete(unsecured, "proof")
	delete(unsecured, "signature")
	c, err := canonical(unsecured)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return sha256.Sum256(c), nil
}

// hashData is what eddsa-jcs-2022 signs: SHA-256 of the canonical proof
// configuration followed by the document hash.
func hashData(proofConfig map[string]any, docHash [sha256.Size]byte) ([]byte, error) {
	c, err := canonical(proofConfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	h := sha256.Sum256(c)
	return append(h[:], docHash[:]...), nil
}
