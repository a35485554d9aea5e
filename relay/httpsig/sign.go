package httpsig

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Signer signs outgoing requests with one RSA key. It is safe for
// concurrent use; the key is parsed once, not per request.
type Signer struct {
	// KeyID is the keyId published in the signature, e.g.
	// "https://relay.example/actor#main-key".
	KeyID string
	// Key is the private key.
	Key *rsa.PrivateKey
	// Now returns the signing time; time.Now when nil.
	Now func() time.Time
}

// DigestHeader returns the value of the Digest header for body.
func DigestHeader(body []byte) string {
	sum := sha256.Sum256(body)
	return "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
}

// Sign adds Date, Host, Digest (when digest is non-empty) and Signature
// headers to req. digest is the precomputed [DigestHeader] of the body, or
// "" for requests without a body. Signed headers are (request-target), host,
// date and, with a body, digest.
func (s *Signer) Sign(req *http.Request, digest string) error {
	return s.SignAs(req, digest, "")
}

// SignAs is Sign with another key id for the same key, for actors that
// share it (the relay's slice actors); "" means s.KeyID.
func (s *Signer) SignAs(req *http.Request, digest, keyID string) error {
	if keyID == "" {
		keyID = s.KeyID
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	req.Header.Set("Date", now().UTC().Format(http.TimeFormat))
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	req.Header.Set("Host", host)
	headers := []string{"(request-target)", "host", "date"}
	if digest != "" {
		req.Header.Set("Digest", digest)
		headers = append(headers, "digest")
	}
	str := signingString(req, headers, host, nil)
	h := sha256.Sum256([]byte(str))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA256, h[:])
	if err != nil {
		return err
	}
	req.Header.Set("Signature", `keyId="`+keyID+`",algorithm="rsa-sha256",headers="`+
		strings.Join(headers, " ")+`",signature="`+base64.StdEncoding.EncodeToString(sig)+`"`)
	return nil
}

// signingString builds the string that is signed, per draft-cavage section
// 2.3. host is the value used for the "host" header.
func signingString(req *http.Request, headers []string, host string, p *Params) string {
	var b strings.Builder
	for i, h := range headers {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(h)
		b.WriteString(": ")
		switch h {
		case "(request-target)":
			b.WriteString(strings.ToLower(req.Method))
			b.WriteByte(' ')
			b.WriteString(req.URL.RequestURI())
		case "host":
			b.WriteString(host)
		case "(created)":
			if p != nil {
				b.WriteString(p.createdRaw)
			}
		case "(expires)":
			if p != nil {
				b.WriteString(p.expiresRaw)
			}
		default:
			b.WriteString(strings.Join(req.Header.Values(h), ", "))
		}
	}
	return b.String()
}
