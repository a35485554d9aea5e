package httpsig

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	dsig "github.com/dadrus/httpsig"
)

// rfcRequest is the request of RFC 9421 appendix B.2 (section 2.1's test
// request), with the signature headers given.
func rfcRequest(t *testing.T, headers map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://example.com/foo?param=Value&Pet=dog", strings.NewReader(`{"hello": "world"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "example.com"
	req.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:")
	req.Header.Set("Content-Length", "18")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req
}

func readPEM(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block.Type == "PRIVATE KEY" {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const rfcCreated = 1618884473

// TestRFC9421Vectors checks the signature base and the signatures of RFC
// 9421 appendix B.2.3 (rsa-pss-sha512, full coverage) and B.2.6
// (ed25519), whose signature this package reproduces byte for byte.
func TestRFC9421Vectors(t *testing.T) {
	b26Input := `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	b26Sig := "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
	b26Base := `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	req := rfcRequest(t, nil)
	in, err := parseDictionary(b26Input)
	if err != nil {
		t.Fatal(err)
	}
	base, err := signatureBase(req, Target{Scheme: "http"}, in[0])
	if err != nil {
		t.Fatal(err)
	}
	if base != b26Base {
		t.Fatalf("B.2.6 signature base:\n%s\nwant:\n%s", base, b26Base)
	}
	priv := readPEM(t, "rfc9421-test-key-ed25519.pem").(ed25519.PrivateKey)
	if got := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(base))); got != b26Sig {
		t.Fatalf("B.2.6 signature %s, want %s", got, b26Sig)
	}
	sig, _ := base64.StdEncoding.DecodeString(b26Sig)
	s := &Signed{Params: Params{Scheme: RFC9421, Signature: sig}, signingString: base}
	if err := s.Verify(readPEM(t, "rfc9421-test-key-ed25519.pub.pem")); err != nil {
		t.Fatalf("B.2.6 does not verify: %v", err)
	}

	// B.2.3 passes Check as a whole: it covers @method, @authority with
	// @path, and content-digest (sha-512).
	req = rfcRequest(t, map[string]string{
		"Signature-Input": `sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"`,
		"Signature":       "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
	})
	signed, err := Check(req, []byte(`{"hello": "world"}`), time.Unix(rfcCreated, 0), DefaultWindow, Target{Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	signed.Algorithm = AlgRSAPSSSHA512 // the RFC's verifier knows the key's algorithm out of band
	if err := signed.Verify(readPEM(t, "rfc9421-test-key-rsa-pss.pub.pem")); err != nil {
		t.Fatalf("B.2.3 does not verify: %v", err)
	}
	signed.Algorithm = ""
	if err := signed.Verify(readPEM(t, "rfc9421-test-key-rsa-pss.pub.pem")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("B.2.3 read as PKCS#1 v1.5: %v, want a bad signature", err)
	}
}

// TestRFC9421RoundTrip signs with each kind and checks and verifies the
// result; the wrong key fails.
func TestRFC9421RoundTrip(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(nil)
	s := &Signer{KeyID: "https://a.example/actor#main-key", Key: testKey, Ed25519: edKey}
	for _, tc := range []struct {
		kind   Kind
		scheme string
		keyID  string
		pub    crypto.PublicKey
	}{
		{KindCavage, Cavage, "https://a.example/actor#main-key", &testKey.PublicKey},
		{KindRFC9421, RFC9421, "https://a.example/actor#main-key", &testKey.PublicKey},
		{KindEd25519, RFC9421, "https://a.example/actor#ed25519-key", edKey.Public()},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			req := newPost(t)
			if err := s.SignKind(req, tc.kind, DigestsOf([]byte(body)), ""); err != nil {
				t.Fatal(err)
			}
			signed, err := Check(req, []byte(body), time.Now(), DefaultWindow, Target{Scheme: "https"})
			if err != nil {
				t.Fatal(err)
			}
			if signed.Scheme != tc.scheme || signed.KeyID != tc.keyID {
				t.Fatalf("scheme %s key %s, want %s %s", signed.Scheme, signed.KeyID, tc.scheme, tc.keyID)
			}
			if err := signed.Verify(tc.pub); err != nil {
				t.Fatal(err)
			}
			other, _, _ := ed25519.GenerateKey(nil)
			if err := signed.Verify(other); err == nil {
				t.Fatal("verified with another key")
			}
		})
	}
}

// TestRFC9421Refusals: what a verifier must not accept.
func TestRFC9421Refusals(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(nil)
	now := time.Now()
	signer := &Signer{KeyID: "https://a.example/actor#main-key", Key: testKey, Ed25519: edKey}
	signed := func(t *testing.T, kind Kind) *http.Request {
		req := newPost(t)
		if err := signer.SignKind(req, kind, DigestsOf([]byte(body)), ""); err != nil {
			t.Fatal(err)
		}
		return req
	}
	input := func(req *http.Request, f func(string) string) {
		req.Header.Set("Signature-Input", f(req.Header.Get("Signature-Input")))
	}
	for _, tc := range []struct {
		name   string
		edit   func(*http.Request)
		body   string
		want   error
		verify bool // Check passes; Verify must fail
	}{
		{"body changed", func(*http.Request) {}, body + " ", ErrDigestMismatch, false},
		{"no content-digest header", func(r *http.Request) { r.Header.Del("Content-Digest") }, body, ErrDigestMissing, false},
		{"sha-512 digest that does not match", func(r *http.Request) {
			r.Header.Set("Content-Digest", r.Header.Get("Content-Digest")+", sha-512=:AAAA:")
		}, body, ErrDigestMismatch, false},
		{"content-digest not covered", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, ` "content-digest"`, "", 1) })
		}, body, ErrUnsignedHeader, false},
		{"@method not covered", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, `"@method" `, "", 1) })
		}, body, ErrUnsignedHeader, false},
		{"target not covered", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, ` "@target-uri"`, "", 1) })
		}, body, ErrUnsignedHeader, false},
		{"no created", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, ";created=", ";nonce=", 1) })
		}, body, ErrUnsignedHeader, false},
		{"created too old", func(r *http.Request) {
			input(r, func(s string) string { return replaceCreated(s, now.Add(-14*time.Hour)) })
		}, body, ErrDateWindow, false},
		{"created in the future", func(r *http.Request) {
			input(r, func(s string) string { return replaceCreated(s, now.Add(2*time.Hour)) })
		}, body, ErrDateWindow, false},
		{"expired", func(r *http.Request) {
			input(r, func(s string) string { return s + ";expires=" + itoa(now.Add(-time.Minute).Unix()) })
		}, body, ErrSignatureExpired, false},
		{"unknown algorithm", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, `alg="rsa-v1_5-sha256"`, `alg="hmac-sha256"`, 1) })
		}, body, ErrUnsupportedAlgo, false},
		{"component parameter", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, `"content-digest"`, `"content-digest";sf`, 1) })
		}, body, ErrUnsupportedComponent, false},
		{"unknown derived component", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, `("@method"`, `("@status" "@method"`, 1) })
		}, body, ErrUnsupportedComponent, false},
		{"duplicate label", func(r *http.Request) {
			input(r, func(s string) string { return s + ", " + s })
		}, body, ErrMalformed, false},
		{"label missing from Signature", func(r *http.Request) {
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "sig1=", "sig2=", 1))
		}, body, ErrMalformed, false},
		{"decimal created", func(r *http.Request) {
			input(r, func(s string) string { return strings.Replace(s, ";keyid", ".5;keyid", 1) })
		}, body, ErrMalformed, false},
		{"covered component changed (another host)", func(r *http.Request) { r.Host = "other.example" }, body, ErrBadSignature, true},
		{"signature params changed", func(r *http.Request) {
			input(r, func(s string) string { return s + `;tag="x"` })
		}, body, ErrBadSignature, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := signed(t, KindRFC9421)
			tc.edit(req)
			s, err := Check(req, []byte(tc.body), now, DefaultWindow, Target{Scheme: "https"})
			if tc.verify {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				err = s.Verify(&testKey.PublicKey)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("Ed25519 algorithm with an RSA key", func(t *testing.T) {
		req := signed(t, KindEd25519)
		s, err := Check(req, []byte(body), now, DefaultWindow, Target{Scheme: "https"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(&testKey.PublicKey); !errors.Is(err, ErrUnsupportedKey) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("RFC 9421 judges a request that also carries a cavage signature", func(t *testing.T) {
		req := signed(t, KindRFC9421)
		cav := signed(t, KindCavage)
		req.Header.Set("Authorization", "Signature "+cav.Header.Get("Signature"))
		req.Header.Set("Content-Digest", "sha-256=:AAAA:") // the RFC 9421 one is broken
		if _, err := Check(req, []byte(body), now, DefaultWindow, Target{Scheme: "https"}); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("got %v, want the RFC 9421 signature judged", err)
		}
	})
}

func replaceCreated(s string, t time.Time) string {
	i := strings.Index(s, ";created=")
	j := strings.Index(s[i+1:], ";") + i + 1
	return s[:i] + ";created=" + itoa(t.Unix()) + s[j:]
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRFC9421IndependentImplementation: what this package signs, the
// dadrus/httpsig library verifies, and the other way round, for RSA and
// Ed25519.
func TestRFC9421IndependentImplementation(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(nil)
	s := &Signer{KeyID: "https://a.example/actor#main-key", Key: testKey, Ed25519: edKey}
	keys := map[string]dsig.Key{
		"https://a.example/actor#main-key":    {KeyID: "https://a.example/actor#main-key", Algorithm: dsig.RsaPkcs1v15Sha256, Key: &testKey.PublicKey},
		"https://a.example/actor#ed25519-key": {KeyID: "https://a.example/actor#ed25519-key", Algorithm: dsig.Ed25519, Key: edKey.Public()},
	}
	for _, kind := range []Kind{KindRFC9421, KindEd25519} {
		t.Run("ours verified by dadrus/"+string(kind), func(t *testing.T) {
			req := newPost(t)
			if err := s.SignKind(req, kind, DigestsOf([]byte(body)), ""); err != nil {
				t.Fatal(err)
			}
			v, err := dsig.NewVerifier(resolver(keys), dsig.WithRequiredComponents("@method", "@target-uri", "content-digest"),
				dsig.WithExpiredTimestampRequired(false), dsig.WithValidateAllSignatures())
			if err != nil {
				t.Fatal(err)
			}
			req.Body = io.NopCloser(strings.NewReader(body))
			if err := v.Verify(dsig.MessageFromRequest(req)); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		key  dsig.Key
		pub  crypto.PublicKey
	}{
		{"rsa", dsig.Key{KeyID: "https://b.example/actor#main-key", Algorithm: dsig.RsaPkcs1v15Sha256, Key: testKey}, &testKey.PublicKey},
		{"ed25519", dsig.Key{KeyID: "https://b.example/actor#ed25519-key", Algorithm: dsig.Ed25519, Key: edKey}, edKey.Public()},
	} {
		t.Run("dadrus verified by ours/"+tc.name, func(t *testing.T) {
			ds, err := dsig.NewSigner(tc.key, dsig.WithComponents("@method", "@target-uri", "content-digest"),
				dsig.WithContentDigestAlgorithm(dsig.Sha512), dsig.WithLabel("sig"))
			if err != nil {
				t.Fatal(err)
			}
			req := newPost(t)
			h, err := ds.Sign(dsig.MessageFromRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range h {
				req.Header[k] = v
			}
			signed, err := Check(req, []byte(body), time.Now(), DefaultWindow, Target{Scheme: "https"})
			if err != nil {
				t.Fatal(err)
			}
			if err := signed.Verify(tc.pub); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type resolver map[string]dsig.Key

func (r resolver) ResolveKey(_ context.Context, keyID string) (dsig.Key, error) {
	k, ok := r[keyID]
	if !ok {
		return dsig.Key{}, errors.New("no key " + keyID)
	}
	return k, nil
}
