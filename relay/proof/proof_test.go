package proof

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const aliceVM = "https://server.example/users/alice#ed25519-key"

const note = `{
  "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v2"],
  "id": "https://server.example/activities/1",
  "type": "Create",
  "actor": "https://server.example/users/alice",
  "object": {"type": "Note", "content": "Grüße <b>&amp;</b> \u2028 😂", "n": [1.0, -0, 1e21, 5e-324]}
}`

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func mustSign(t testing.TB, doc string, priv ed25519.PrivateKey, vm string) []byte {
	t.Helper()
	out, err := Sign([]byte(doc), priv, vm, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// edit decodes a document, lets f change it, and encodes it again.
func edit(t *testing.T, doc []byte, f func(d map[string]any, p map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var d map[string]any
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	p, _ := d["proof"].(map[string]any)
	f(d, p)
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	signed, err := Sign([]byte(note), priv, aliceVM, created)
	if err != nil {
		t.Fatal(err)
	}
	p, err := VerifyKey(signed, pub)
	if err != nil {
		t.Fatal(err)
	}
	want := Proof{TypeDataIntegrityProof, CryptosuiteEdDSAJCS2022, aliceVM, PurposeAssertionMethod, "2024-05-06T06:08:09Z", p.ProofValue}
	if *p != want || !strings.HasPrefix(p.ProofValue, "z") {
		t.Errorf("proof %+v, want %+v", *p, want)
	}
	undated, err := Sign([]byte(`{"type":"Note"}`), priv, aliceVM, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := VerifyKey(undated, pub); err != nil || p.Created != "" {
		t.Errorf("undated proof: %+v, %v", p, err)
	}
}

// TestVerifyRefuses changes a signed document in the ways an attacker or a
// broken peer might, and names the error each must give.
func TestVerifyRefuses(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, _ := newKey(t)
	signed := mustSign(t, note, priv, aliceVM)
	set := func(k string, v any) func(d, p map[string]any) {
		return func(d, p map[string]any) { p[k] = v }
	}
	for _, tc := range []struct {
		name string
		doc  []byte
		key  ed25519.PublicKey
		want error
	}{
		{"tampered body", edit(t, signed, func(d, p map[string]any) { d["actor"] = "https://evil.example/users/mallory" }), pub, ErrBadProof},
		{"tampered nested body", bytes.Replace(signed, []byte("Grüße"), []byte("Grüsse"), 1), pub, ErrBadProof},
		{"body member added", edit(t, signed, func(d, p map[string]any) { d["to"] = "https://www.w3.org/ns/activitystreams#Public" }), pub, ErrBadProof},
		{"context appended", edit(t, signed, func(d, p map[string]any) { d["@context"] = append(d["@context"].([]any), "https://evil.example/ctx") }), pub, ErrBadProof},
		{"created changed", edit(t, signed, set("created", "2001-01-01T00:00:00Z")), pub, ErrBadProof},
		{"verificationMethod changed", edit(t, signed, set("verificationMethod", "https://evil.example/k")), pub, ErrBadProof},
		{"proof member added", edit(t, signed, set("nonce", "1")), pub, ErrBadProof},
		{"proofValue altered", edit(t, signed, func(d, p map[string]any) {
			v := []byte(p["proofValue"].(string))
			v[10] = map[bool]byte{true: '2', false: '3'}[v[10] != '2']
			p["proofValue"] = string(v)
		}), pub, ErrBadProof},
		{"wrong key", signed, otherPub, ErrBadProof},
		{"other purpose", edit(t, signed, set("proofPurpose", "authentication")), pub, ErrBadProof},
		{"other cryptosuite", edit(t, signed, set("cryptosuite", "eddsa-rdfc-2022")), pub, ErrUnsupported},
		{"other type", edit(t, signed, set("type", "Ed25519Signature2020")), pub, ErrUnsupported},
		{"proof chain", edit(t, signed, set("previousProof", "urn:x")), pub, ErrUnsupported},
		{"no proof", []byte(note), pub, ErrNoProof},
		{"empty proof array", edit(t, signed, func(d, p map[string]any) { d["proof"] = []any{} }), pub, ErrNoProof},
		{"proof is null", edit(t, signed, func(d, p map[string]any) { d["proof"] = nil }), pub, ErrMalformed},
		{"proof is a string", edit(t, signed, func(d, p map[string]any) { d["proof"] = "z" }), pub, ErrMalformed},
		{"field not a string", edit(t, signed, set("type", []any{"DataIntegrityProof"})), pub, ErrMalformed},
		{"bad created", edit(t, signed, set("created", "yesterday")), pub, ErrMalformed},
		{"no verificationMethod", edit(t, signed, set("verificationMethod", "")), pub, ErrMalformed},
		{"proofValue not multibase", edit(t, signed, set("proofValue", "3sXax")), pub, ErrMalformed},
		{"proofValue short", edit(t, signed, set("proofValue", "z3sXax")), pub, ErrMalformed},
		{"proofValue absurd", edit(t, signed, set("proofValue", "z"+strings.Repeat("2", maxValueLen))), pub, ErrMalformed},
		{"verificationMethod absurd", edit(t, signed, set("verificationMethod", strings.Repeat("a", maxFieldLen+1))), pub, ErrMalformed},
		{"duplicate body member", bytes.Replace(signed, []byte(`"actor":`), []byte(`"actor":"x","actor":`), 1), pub, ErrMalformed},
		{"duplicate proof member", bytes.Replace(signed, []byte(`"proofPurpose":`), []byte(`"proofPurpose":"x","proofPurpose":`), 1), pub, ErrMalformed},
		{"not an object", []byte(`["proof"]`), pub, ErrMalformed},
		{"too large", append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), MaxDocumentSize)...), `"}`...), pub, ErrMalformed},
		{"short key", signed, pub[:16], ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := VerifyKey(tc.doc, tc.key)
			if !errors.Is(err, tc.want) {
				t.Errorf("VerifyKey = %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

// TestProofContext covers the three ways a proof can stand to the
// document's @context: carrying it (the Recommendation), signed with it but
// not carrying it (Fedify), and signed without it (the 2023 FEP vector).
func TestProofContext(t *testing.T) {
	pub, priv := newKey(t)
	signed := mustSign(t, note, priv, aliceVM)
	if !bytes.Contains(signed, []byte(`"proof":{"@context":`)) {
		t.Errorf("Sign left @context out of the proof: %s", signed)
	}
	// Fedify: proof carries no @context; the configuration it signed did.
	dropped := edit(t, signed, func(d, p map[string]any) { delete(p, "@context") })
	if _, err := VerifyKey(dropped, pub); err != nil {
		t.Errorf("proof signed with the document's @context but not carrying it: %v", err)
	}
	// A proof's own @context must be the document's, not merely a prefix.
	prefix := edit(t, signed, func(d, p map[string]any) { p["@context"] = d["@context"].([]any)[:1] })
	if _, err := VerifyKey(prefix, pub); !errors.Is(err, ErrBadProof) {
		t.Errorf("proof @context a prefix of the document's: %v", err)
	}
	// Without @context in the document, none is copied into the proof.
	plain := mustSign(t, `{"type":"Note"}`, priv, aliceVM)
	if bytes.Contains(plain, []byte("@context")) {
		t.Errorf("Sign invented an @context: %s", plain)
	}
	withCtx := edit(t, plain, func(d, p map[string]any) { p["@context"] = "https://www.w3.org/ns/activitystreams" })
	if _, err := VerifyKey(withCtx, pub); !errors.Is(err, ErrBadProof) {
		t.Errorf("proof @context on a document without one: %v", err)
	}
}

// signWith signs doc with a proof made of fields, bypassing Sign's choices,
// so that a test can check what Verify refuses beyond the signature.
func signWith(t *testing.T, doc string, priv ed25519.PrivateKey, fields map[string]any) []byte {
	t.Helper()
	obj, err := parseDocument([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]any{"type": TypeDataIntegrityProof, "cryptosuite": CryptosuiteEdDSAJCS2022,
		"verificationMethod": aliceVM, "proofPurpose": PurposeAssertionMethod}
	for k, v := range fields {
		p[k] = v
	}
	docHash, err := documentHash(obj)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hashData(p, docHash)
	if err != nil {
		t.Fatal(err)
	}
	p["proofValue"] = "z" + base58Encode(ed25519.Sign(priv, h))
	obj["proof"] = p
	out, err := encodeDocument(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifyRefusesSigned: proofs whose signature is good but which this
// package must not accept.
func TestVerifyRefusesSigned(t *testing.T) {
	pub, priv := newKey(t)
	if _, err := VerifyKey(signWith(t, note, priv, nil), pub); err != nil {
		t.Fatalf("control: %v", err)
	}
	for _, tc := range []struct {
		name   string
		fields map[string]any
		want   error
	}{
		{"authentication purpose", map[string]any{"proofPurpose": "authentication"}, ErrBadProof},
		{"no purpose", map[string]any{"proofPurpose": nil}, ErrMalformed},
		{"other @context", map[string]any{"@context": "https://www.w3.org/ns/activitystreams"}, ErrBadProof},
		{"bad created", map[string]any{"created": "2023-02-30"}, ErrMalformed},
		{"proof chain", map[string]any{"previousProof": "urn:uuid:1"}, ErrUnsupported},
	} {
		if _, err := VerifyKey(signWith(t, note, priv, tc.fields), pub); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestLinkedDataSignatureIgnored(t *testing.T) {
	pub, priv := newKey(t)
	doc := `{"type":"Note","content":"hi","signature":{"type":"RsaSignature2017","signatureValue":"abc"}}`
	signed := mustSign(t, doc, priv, aliceVM)
	resigned := edit(t, signed, func(d, p map[string]any) {
		d["signature"] = map[string]any{"type": "RsaSignature2017", "signatureValue": "new"}
	})
	if _, err := VerifyKey(resigned, pub); err != nil {
		t.Errorf("LD signature replaced after the proof: %v", err)
	}
	stripped := edit(t, signed, func(d, p map[string]any) { delete(d, "signature") })
	if _, err := VerifyKey(stripped, pub); err != nil {
		t.Errorf("LD signature removed: %v", err)
	}
}

func TestSignRefuses(t *testing.T) {
	_, priv := newKey(t)
	for _, tc := range []struct {
		name string
		doc  string
		key  ed25519.PrivateKey
		vm   string
		want error
	}{
		{"short key", note, priv[:32], aliceVM, ErrInvalidKey},
		{"no verificationMethod", note, priv, "", nil},
		{"array", `[1]`, priv, aliceVM, ErrMalformed},
		{"duplicate member", `{"a":1,"a":1}`, priv, aliceVM, ErrMalformed},
		{"already signed", string(mustSign(t, note, priv, aliceVM)), priv, aliceVM, ErrAlreadySigned},
		{"bad existing proof", `{"proof":7}`, priv, aliceVM, ErrMalformed},
	} {
		out, err := Sign([]byte(tc.doc), tc.key, tc.vm, time.Now())
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Sign = %s, %v; want %v", tc.name, out, err, tc.want)
		}
	}
}
