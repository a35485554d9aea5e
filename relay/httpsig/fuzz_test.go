package httpsig

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
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
		signed, err := Check(req, body, time.Unix(1_800_000_000, 0), Window{Past: 13 * time.Hour, Future: time.Hour})
		if err != nil {
			return
		}
		if signed.KeyID == "" {
			t.Fatalf("accepted a signature without a key id: %q", sig)
		}
		signed.Verify(&key.PublicKey) // never panics
	})
}
