package relay_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/proof"
	"github.com/runrig/runrig/relay/relaytest"
)

// A listing a platform signed with an FEP-8b32 proof is relayed with the
// proof intact, once it verified against the Multikey the platform's
// actor publishes; a proof that does not hold, or one made with a key of
// another server, is refused with 401 and the reason.
func TestListingProofs(t *testing.T) {
	r := startRelay(t, nil)
	_, edKey, _ := ed25519.GenerateKey(nil)
	fmp, err := relaytest.New(relaytest.Mastodon, relaytest.Config{Ed25519: edKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fmp.Close)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	other, err := relaytest.New(relaytest.Mastodon, relaytest.Config{Ed25519: otherKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	sub := newInstance(t, relaytest.Mastodon)
	subscribe(t, r, fmp)
	subscribe(t, r, sub)
	// The platform's actor says it takes RFC 9421 with Ed25519 (FEP-844e):
	// the relay's Accept was signed so, and an independent library
	// verified it with the relay's published Multikey.
	if a := fmp.ReceivedOf("Accept")[0]; a.SignedBy != r.Actor()+"#ed25519-key" || a.VerifyErr != "" {
		t.Errorf("Accept to an Ed25519 platform signed by %q: %s", a.SignedBy, a.VerifyErr)
	}
	if a := sub.ReceivedOf("Accept")[0]; a.SignedBy != r.Actor()+"#main-key" || a.VerifyErr != "" {
		t.Errorf("Accept to a draft-cavage server signed by %q: %s", a.SignedBy, a.VerifyErr)
	}
	end := time.Now().Add(48 * time.Hour)
	sign := func(doc []byte, key ed25519.PrivateKey, vm string) []byte {
		b, err := proof.Sign(doc, key, vm, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	signed := sign(fmp.Listing("offer", end, nil), edKey, fmp.ActorID+"#ed25519-key")
	publish(t, r, fmp, signed, http.StatusAccepted)
	waitFor(t, "the signed listing relayed", func() bool { return len(sub.ReceivedOf("Create")) == 1 })
	if got := sub.ReceivedOf("Create")[0].Body; !bytes.Equal(got, signed) {
		t.Errorf("relayed listing differs from what was signed:\n%s", got)
	}
	if v := metric(t, r, "runrig_proofs_verified_total"); v != "1" {
		t.Errorf("proofs verified = %q", v)
	}

	tampered := bytes.Replace(sign(fmp.Listing("offer", end, nil), edKey, fmp.ActorID+"#ed25519-key"),
		[]byte(`"name":"`), []byte(`"name":"Cheap! `), 1)
	foreign := sign(fmp.Listing("offer", end, nil), otherKey, other.ActorID+"#ed25519-key")
	escaped := bytes.ReplaceAll(tampered, []byte(`"proof`), []byte(`"\u0070roof`)) // every key that names a proof
	for name, body := range map[string][]byte{"tampered": tampered, "another server's key": foreign, "tampered, key escaped": escaped} {
		status, text, err := fmp.Post(context.Background(), r.Inbox(), body)
		if err != nil || status != http.StatusUnauthorized || !strings.Contains(text, "proof") {
			t.Errorf("%s: %d %q %v, want 401 naming the proof", name, status, text, err)
		}
	}
	if v := metric(t, r, `runrig_signature_failures_total{reason="proof_bad"}`); v != "2" {
		t.Errorf("bad proofs counted = %q", v)
	}
}
