package proof

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var vectorTime = time.Date(2023, 2, 24, 23, 36, 38, 0, time.UTC)

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readText(t testing.TB, name string) string {
	return strings.TrimSpace(string(readVector(t, name)))
}

// sameDocument reports whether two JSON texts have the same canonical form.
func sameDocument(t *testing.T, a, b []byte) bool {
	t.Helper()
	return mustCanonical(t, a) == mustCanonical(t, b)
}

// TestW3CVector follows the Recommendation's appendix step by step: the
// canonical document and proof options, their hashes, the signature in hex
// and base58-btc, and the signed credential.
func TestW3CVector(t *testing.T) {
	const dir = "w3c-eddsa-jcs-2022/"
	pub, priv := vectorKeys(t)
	unsigned := readVector(t, dir+"unsigned.json")
	if got, want := mustCanonical(t, unsigned), readText(t, dir+"canonDocJCS.txt"); got != want {
		t.Errorf("canonical document:\n got %s\nwant %s", got, want)
	}
	obj, err := parseDocument(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	docHash, err := documentHash(obj)
	if err != nil || hex.EncodeToString(docHash[:]) != readText(t, dir+"docHashJCS.txt") {
		t.Errorf("document hash %x, %v", docHash, err)
	}
	cfgText := readVector(t, dir+"proofConfigJCS.json")
	if got, want := mustCanonical(t, cfgText), readText(t, dir+"proofCanonJCS.txt"); got != want {
		t.Errorf("canonical proof options:\n got %s\nwant %s", got, want)
	}
	if got := sha256.Sum256([]byte(mustCanonical(t, cfgText))); hex.EncodeToString(got[:]) != readText(t, dir+"proofHashJCS.txt") {
		t.Errorf("proof options hash %x", got)
	}
	cfg, _ := parseDocument(cfgText)
	h, err := hashData(cfg, docHash)
	if err != nil || hex.EncodeToString(h) != readText(t, dir+"combinedHashJCS.txt") {
		t.Errorf("combined hash %x, %v", h, err)
	}
	if sig := hex.EncodeToString(ed25519.Sign(priv, h)); sig != readText(t, dir+"sigHexJCS.txt") {
		t.Errorf("signature %s", sig)
	}

	vm := "did:key:" + vectorPublic + "#" + vectorPublic
	signed, err := Sign(unsigned, priv, vm, vectorTime)
	if err != nil {
		t.Fatal(err)
	}
	proofs, err := Find(signed)
	if err != nil || len(proofs) != 1 || proofs[0].ProofValue != readText(t, dir+"sigBTC58JCS.txt") {
		t.Fatalf("Find(Sign(unsigned)) = %+v, %v", proofs, err)
	}
	if want := readVector(t, dir+"signedJCS.json"); !sameDocument(t, signed, want) {
		t.Errorf("signed credential differs:\n got %s\nwant %s", signed, want)
	}
	p, err := VerifyKey(readVector(t, dir+"signedJCS.json"), pub)
	if err != nil || p.VerificationMethod != vm || p.Created != "2023-02-24T23:36:38Z" {
		t.Errorf("VerifyKey(signedJCS.json) = %+v, %v", p, err)
	}
}

// actorResolver resolves verification methods from an actor's
// assertionMethod Multikeys, as a relay would after fetching the actor.
func actorResolver(t *testing.T, actor []byte) Resolver {
	t.Helper()
	var a struct {
		AssertionMethod []struct{ ID, PublicKeyMultibase string }
	}
	if err := json.Unmarshal(actor, &a); err != nil {
		t.Fatal(err)
	}
	return func(vm string) (ed25519.PublicKey, error) {
		for _, m := range a.AssertionMethod {
			if m.ID == vm {
				return DecodeMultikey(m.PublicKeyMultibase)
			}
		}
		return nil, fmt.Errorf("%s is not an assertionMethod of the actor", vm)
	}
}

func TestFEP8b32Vector(t *testing.T) {
	const vm = "https://server.example/users/alice#ed25519-key"
	_, priv := vectorKeys(t)
	signedWant := readVector(t, "fep-8b32/signed.json")
	signed, err := Sign(readVector(t, "fep-8b32/unsigned.json"), priv, vm, vectorTime)
	if err != nil {
		t.Fatal(err)
	}
	if !sameDocument(t, signed, signedWant) {
		t.Errorf("signed document differs:\n got %s\nwant %s", signed, signedWant)
	}
	resolve := actorResolver(t, readVector(t, "fep-8b32/actor.json"))
	for name, doc := range map[string][]byte{
		"feature file":      signedWant,
		"our signing":       signed,
		"2023 feature file": readVector(t, "fep-8b32/legacy-2023-signed.json"),
	} {
		proofs, err := Verify(doc, resolve)
		if err != nil || len(proofs) != 1 || proofs[0].VerificationMethod != vm {
			t.Errorf("%s: Verify = %+v, %v", name, proofs, err)
		}
	}
}
