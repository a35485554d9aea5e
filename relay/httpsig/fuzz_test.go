package httpsig

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Signature headers, digests and dates from any peer: checking never
// panics, and a request that passes names a key and signs the headers the
// relay requires.
func FuzzCheck(f *testing.F) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	s := &Signer{KeyID: "https://a.example/actor#main-key", Key: key}
	body := []byte(`{"type":"Create"}`)
	req, _ := http.NewRequest(http.MethodPost, "https://relay.example/inbox", bytes.NewReader(body))
	req.Header.Set("Date", time.Unix(1_800_000_000, 0).UTC().Format(http.TimeFormat))
	if err := s.Sign(req, DigestHeader(body)); err != nil {
		f.Fatal(err)
	}
	f.Add(req.Header.Get("Signature"), req.Header.Get("Digest"), req.Header.Get("Date"), body)
	f.Add(`keyId="k",algorithm="hs2019",headers="(request-target) host date digest",signature="AAAA"`, "SHA-256=x", "", []byte("{}"))
	f.Add(`keyId="k",headers="(created) (expires)",created=1,expires=99999999999,signature=""`, "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, sig, digest, date string, body []byte) {
		req, err := http.NewRequest(http.MethodPost, "https://relay.example/inbox", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Signature", sig)
		req.Header.Set("Digest", digest)
		req.Header.Set("Date", date)
		signed, err := Check(req, body, time.Unix(1_800_000_000, 0), Window{Past: 13 * time.Hour, Future: time.Hour}, Target{})
		if err != nil {
			return
		}
		if signed.KeyID == "" {
			t.Fatalf("accepted a signature without a key id: %q", sig)
		}
		signed.Verify(&key.PublicKey) // never panics
	})
}

// RFC 9421 Signature-Input, Signature and Content-Digest from any peer:
// checking never panics, and a request that passes names a key and covers
// the method, the target and the digest.
func FuzzCheckRFC9421(f *testing.F) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	s := &Signer{KeyID: "https://a.example/actor#main-key", Key: key, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	body := []byte(`{"type":"Create"}`)
	req, _ := http.NewRequest(http.MethodPost, "https://relay.example/inbox", bytes.NewReader(body))
	if err := s.SignKind(req, KindRFC9421, DigestsOf(body), ""); err != nil {
		f.Fatal(err)
	}
	f.Add(req.Header.Get("Signature-Input"), req.Header.Get("Signature"), req.Header.Get("Content-Digest"), body)
	f.Add(`a=("@method";req "x");created=-1, b=?0;x`, `a=:AA==:, b=(1 2)`, `sha-512=:AA==:, sha-256=?1`, []byte(nil))
	f.Fuzz(func(t *testing.T, input, sig, digest string, body []byte) {
		req, err := http.NewRequest(http.MethodPost, "https://relay.example/inbox", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Signature-Input", input)
		req.Header.Set("Signature", sig)
		req.Header.Set("Content-Digest", digest)
		signed, err := Check(req, body, time.Unix(1_800_000_000, 0), DefaultWindow, Target{Scheme: "https"})
		if err != nil {
			return
		}
		if signed.KeyID == "" || !strings.Contains(signed.signingString, `"@method": POST`) ||
			!strings.Contains(signed.signingString, `"content-digest": `) {
			t.Fatalf("accepted %q without a key id, the method or the digest", input)
		}
		signed.Verify(&key.PublicKey) // never panics
	})
}
