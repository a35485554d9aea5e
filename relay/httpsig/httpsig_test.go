package httpsig

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	fedsig "github.com/go-fed/httpsig"
)

var testKey = mustKey()

func mustKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

const body = `{"type":"Create","id":"https://a.example/1"}`

func newPost(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://relay.example/inbox?x=1", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "relay.example"
	return req
}

// fedSign signs like a fediverse server, with go-fed/httpsig.
func fedSign(t *testing.T, req *http.Request, b []byte, headers []string) {
	t.Helper()
	s, _, err := fedsig.NewSigner([]fedsig.Algorithm{fedsig.RSA_SHA256}, fedsig.DigestSha256, headers, fedsig.Signature, 0)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	req.Header.Set("Host", req.Host)
	if err := s.SignRequest(testKey, "https://a.example/actor#main-key", req, b); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerifiedByIndependentImplementation(t *testing.T) {
	req := newPost(t)
	s := &Signer{KeyID: "https://relay.example/actor#main-key", Key: testKey}
	if err := s.Sign(req, DigestHeader([]byte(body))); err != nil {
		t.Fatal(err)
	}
	v, err := fedsig.NewVerifier(req)
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyId() != s.KeyID {
		t.Fatalf("keyId = %q", v.KeyId())
	}
	if err := v.Verify(&testKey.PublicKey, fedsig.RSA_SHA256); err != nil {
		t.Fatalf("go-fed/httpsig rejects our signature: %v", err)
	}
	if !strings.Contains(req.Header.Get("Signature"), `algorithm="rsa-sha256"`) {
		t.Errorf("algorithm label: %s", req.Header.Get("Signature"))
	}
}

func TestCheckAcceptsIndependentSignature(t *testing.T) {
	for _, hs := range [][]string{
		{fedsig.RequestTarget, "host", "date", "digest"},
		{fedsig.RequestTarget, "host", "date", "digest", "content-type"},
	} {
		req := newPost(t)
		req.Header.Set("Content-Type", "application/activity+json")
		fedSign(t, req, []byte(body), hs)
		s, err := Check(req, []byte(body), time.Now(), DefaultWindow, Target{})
		if err != nil {
			t.Fatalf("Check(%v): %v", hs, err)
		}
		if err := s.Verify(&testKey.PublicKey); err != nil {
			t.Fatalf("Verify(%v): %v", hs, err)
		}
		other := mustKey()
		if err := s.Verify(&other.PublicKey); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify with wrong key = %v", err)
		}
	}
}

func TestHS2019LabelAccepted(t *testing.T) {
	req := newPost(t)
	s := &Signer{KeyID: "k", Key: testKey}
	if err := s.Sign(req, DigestHeader([]byte(body))); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Signature", strings.Replace(req.Header.Get("Signature"), "rsa-sha256", "hs2019", 1))
	sg, err := Check(req, []byte(body), time.Now(), DefaultWindow, Target{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sg.Verify(&testKey.PublicKey); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRefuses(t *testing.T) {
	now := time.Now()
	sign := func(req *http.Request) {
		s := &Signer{KeyID: "k", Key: testKey}
		if err := s.Sign(req, DigestHeader([]byte(body))); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		mutate func(r *http.Request) []byte
		want   error
	}{
		{"no signature", func(r *http.Request) []byte { r.Header.Del("Signature"); return []byte(body) }, ErrMissing},
		{"garbage", func(r *http.Request) []byte { r.Header.Set("Signature", "keyId"); return []byte(body) }, ErrMalformed},
		{"unterminated", func(r *http.Request) []byte { r.Header.Set("Signature", `keyId="k,signature="x`); return []byte(body) }, ErrMalformed},
		{"body changed", func(r *http.Request) []byte { return []byte(body + " ") }, ErrDigestMismatch},
		{"no digest", func(r *http.Request) []byte { r.Header.Del("Digest"); return []byte(body) }, ErrMissingHeader},
		{"digest not signed", func(r *http.Request) []byte {
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), " digest", "", 1))
			return []byte(body)
		}, ErrUnsignedHeader},
		{"host not signed", func(r *http.Request) []byte {
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), " host", "", 1))
			return []byte(body)
		}, ErrUnsignedHeader},
		{"old date", func(r *http.Request) []byte {
			r.Header.Set("Date", now.Add(-14*time.Hour).UTC().Format(http.TimeFormat))
			return []byte(body)
		}, ErrDateWindow},
		{"future date", func(r *http.Request) []byte {
			r.Header.Set("Date", now.Add(2*time.Hour).UTC().Format(http.TimeFormat))
			return []byte(body)
		}, ErrDateWindow},
		{"algorithm", func(r *http.Request) []byte {
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "rsa-sha256", "hmac-sha256", 1))
			return []byte(body)
		}, ErrUnsupportedAlgo},
		{"huge header", func(r *http.Request) []byte {
			r.Header.Set("Signature", strings.Repeat("a", 9000))
			return []byte(body)
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newPost(t)
			sign(req)
			b := tt.mutate(req)
			_, err := Check(req, b, now, DefaultWindow, Target{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			if Reason(err) == "other" {
				t.Errorf("no reason label for %v", err)
			}
		})
	}
}

func TestSignatureOverOtherTargetFails(t *testing.T) {
	req := newPost(t)
	(&Signer{KeyID: "k", Key: testKey}).Sign(req, DigestHeader([]byte(body)))
	req.URL.Path = "/other"
	s, err := Check(req, []byte(body), time.Now(), DefaultWindow, Target{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(&testKey.PublicKey); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify = %v", err)
	}
}

func FuzzParseParams(f *testing.F) {
	f.Add(`keyId="a",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA"`)
	f.Add(`keyId=a,signature=AA==,created=12`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseParams(s)
		if err == nil && (p.KeyID == "" || len(p.Signature) == 0) {
			t.Fatalf("accepted params without keyId or signature: %q", s)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s := &Signer{KeyID: "k", Key: testKey}
	d := DigestHeader(bytes.Repeat([]byte("x"), 3000))
	req, _ := http.NewRequest(http.MethodPost, "https://relay.example/inbox", nil)
	for b.Loop() {
		s.Sign(req, d)
	}
}

// ring is a KeyRing holding one other actor's signer and claiming the key
// ids under prefix.
type ring struct {
	prefix string
	other  *Signer
}

func (r ring) Signer(keyID string) (*Signer, bool) {
	if !strings.HasPrefix(keyID, r.prefix) {
		return nil, false
	}
	if r.other != nil && keyID == r.other.KeyID {
		return r.other, true
	}
	return nil, true
}

// A key id the ring claims is signed with the ring's key, or not at all:
// never with the relay's own key under another actor's id.
func TestSignerRing(t *testing.T) {
	other := &Signer{KeyID: "https://relay.example/actors/bridge-a#main-key", Key: mustKey()}
	s := &Signer{KeyID: "https://relay.example/actor#main-key", Key: testKey,
		Ring: ring{prefix: "https://relay.example/actors/bridge-", other: other}}
	req := newPost(t)
	if err := s.SignKind(req, KindCavage, DigestsOf([]byte("{}")), other.KeyID); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(req.Header.Get("Signature"), `keyId="`+other.KeyID+`"`) {
		t.Fatalf("signature %q", req.Header.Get("Signature"))
	}
	v, err := fedsig.NewVerifier(req)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verify(&other.Key.PublicKey, fedsig.RSA_SHA256) != nil || v.Verify(&testKey.PublicKey, fedsig.RSA_SHA256) == nil {
		t.Fatal("signed with the wrong key")
	}
	if err := s.SignKind(newPost(t), KindCavage, Digests{}, "https://relay.example/actors/bridge-gone#main-key"); err == nil {
		t.Fatal("a claimed key id without a signer was signed")
	}
}
