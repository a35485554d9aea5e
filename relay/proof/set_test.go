package proof

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

func TestProofArray(t *testing.T) {
	alicePub, alicePriv := newKey(t)
	bobPub, bobPriv := newKey(t)
	const bobVM = "https://other.example/users/bob#main-key"
	both := mustSign(t, string(mustSign(t, note, alicePriv, aliceVM)), bobPriv, bobVM)
	keys := map[string]ed25519.PublicKey{aliceVM: alicePub, bobVM: bobPub}
	resolve := func(vm string) (ed25519.PublicKey, error) {
		if k, ok := keys[vm]; ok {
			return k, nil
		}
		return nil, errors.New("unknown key")
	}
	proofs, err := Verify(both, resolve)
	if err != nil || len(proofs) != 2 || proofs[0].VerificationMethod != aliceVM || proofs[1].VerificationMethod != bobVM {
		t.Fatalf("Verify(proof set) = %+v, %v", proofs, err)
	}
	// One key for both proofs: Bob's does not verify with Alice's key.
	if _, err := VerifyKey(both, alicePub); !errors.Is(err, ErrBadProof) {
		t.Errorf("VerifyKey(proof set, Alice) = %v, want ErrBadProof", err)
	}
	if _, err := Sign(both, alicePriv, aliceVM, time.Now()); !errors.Is(err, ErrAlreadySigned) {
		t.Errorf("second proof by Alice: %v", err)
	}
	tampered := edit(t, both, func(d, p map[string]any) { d["proof"].([]any)[1].(map[string]any)["created"] = "2001-01-01T00:00:00Z" })
	if _, err := Verify(tampered, resolve); !errors.Is(err, ErrBadProof) {
		t.Errorf("set with one tampered proof: %v", err)
	}
	// Proofs of other suites are skipped; the eddsa-jcs-2022 one decides.
	mixed := edit(t, mustSign(t, note, alicePriv, aliceVM), func(d, p map[string]any) {
		d["proof"] = []any{map[string]any{"type": "DataIntegrityProof", "cryptosuite": "ecdsa-jcs-2019", "proofValue": "zX"}, p}
	})
	if p, err := VerifyKey(mixed, alicePub); err != nil || p.VerificationMethod != aliceVM {
		t.Errorf("mixed set: %+v, %v", p, err)
	}
	many := edit(t, both, func(d, p map[string]any) {
		ps := d["proof"].([]any)
		for len(ps) <= MaxProofs {
			ps = append(ps, ps[0])
		}
		d["proof"] = ps
	})
	if _, err := Verify(many, resolve); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d proofs: %v", MaxProofs+1, err)
	}
}

func TestVerifyResolver(t *testing.T) {
	pub, priv := newKey(t)
	signed := mustSign(t, note, priv, aliceVM)
	errGone := errors.New("actor gone")
	if _, err := Verify(signed, func(string) (ed25519.PublicKey, error) { return nil, errGone }); !errors.Is(err, errGone) {
		t.Errorf("resolver error not wrapped: %v", err)
	}
	if _, err := Verify(signed, nil); err == nil {
		t.Error("nil resolver accepted")
	}
	called := false
	bad := edit(t, signed, func(d, p map[string]any) { p["created"] = "soon" })
	_, err := Verify(bad, func(string) (ed25519.PublicKey, error) { called = true; return pub, nil })
	if called || !errors.Is(err, ErrMalformed) {
		t.Errorf("resolver called for a malformed proof (%v, %v)", called, err)
	}
}

func TestFind(t *testing.T) {
	_, priv := newKey(t)
	if ps, err := Find([]byte(note)); ps != nil || err != nil {
		t.Errorf("no proof: %v, %v", ps, err)
	}
	ps, err := Find(mustSign(t, note, priv, aliceVM))
	if err != nil || len(ps) != 1 || ps[0].VerificationMethod != aliceVM || ps[0].Cryptosuite != CryptosuiteEdDSAJCS2022 {
		t.Errorf("one proof: %+v, %v", ps, err)
	}
	ps, err = Find([]byte(`{"proof":[{"type":"A"},{"type":"B","cryptosuite":"c"}]}`))
	if err != nil || len(ps) != 2 || ps[1].Type != "B" || ps[1].Cryptosuite != "c" {
		t.Errorf("proof array: %+v, %v", ps, err)
	}
	if _, err := Find([]byte(`{"proof":[{"type":1}]}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("numeric type: %v", err)
	}
}
