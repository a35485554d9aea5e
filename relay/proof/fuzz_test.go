package proof

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary bytes to every entry point that reads a
// document or a key. None may panic; whatever Verify accepts must be a
// document Find reads.
func FuzzVerify(f *testing.F) {
	pub, priv := vectorKeys(f)
	for _, name := range []string{
		"w3c-eddsa-jcs-2022/signedJCS.json",
		"w3c-eddsa-jcs-2022/unsigned.json",
		"fep-8b32/signed.json",
		"fep-8b32/legacy-2023-signed.json",
		"jcs/weird.in.json",
		"jcs/values.in.json",
	} {
		f.Add(readVector(f, name))
	}
	for _, s := range []string{
		`{"proof":[{"type":"DataIntegrityProof","cryptosuite":"eddsa-jcs-2022","proofPurpose":"assertionMethod","verificationMethod":"x","proofValue":"z1"}]}`,
		`{"@context":"a","proof":{"@context":"a","type":"DataIntegrityProof","cryptosuite":"eddsa-jcs-2022"}}`,
		`["\ud800"]`, `{"a":1e400}`, `{"a":"\\u"}`, "\"\\", `{"proof":null}`,
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
		vectorPrivate, vectorPublic,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		found, findErr := Find(doc)
		proofs, err := Verify(doc, func(string) (ed25519.PublicKey, error) { return pub, nil })
		if err == nil && (len(proofs) == 0 || findErr != nil) {
			t.Fatalf("Verify accepted %q with %d proofs; Find: %v", doc, len(proofs), findErr)
		}
		_, _ = VerifyKey(doc, pub[:len(doc)%(ed25519.PublicKeySize+1)])
		signed, err := Sign(doc, priv, "https://fuzz.example/k", time.Unix(0, 0))
		if err == nil && found == nil {
			if _, err := VerifyKey(signed, pub); err != nil {
				t.Fatalf("Sign(%q) does not verify: %v", doc, err)
			}
		}
		_, _ = ParsePrivateKey(doc)
		_, _ = DecodeMultikey(string(doc))
		_, _ = DecodePrivateMultikey(string(doc))
	})
}

func BenchmarkVerify(b *testing.B) {
	pub, _ := vectorKeys(b)
	doc := readVector(b, "fep-8b32/signed.json")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyKey(doc, pub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	_, priv := vectorKeys(b)
	doc := readVector(b, "fep-8b32/unsigned.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(doc, priv, aliceVM, vectorTime); err != nil {
			b.Fatal(err)
		}
	}
}
