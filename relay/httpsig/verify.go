package httpsig

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits on what a peer may send in a Signature header.
const (
	maxSignatureHeader = 8 << 10
	maxSignedHeaders   = 32
)

// Params are the parameters of a Signature header.
type Params struct {
	// Scheme is [Cavage] or [RFC9421].
	Scheme string
	// Label is an RFC 9421 signature's label in Signature-Input.
	Label     string
	KeyID     string
	Algorithm string
	Headers   []string
	Signature []byte
	Created   time.Time
	Expires   time.Time

	createdRaw, expiresRaw string
}

// Window bounds the clock skew accepted on Date and (created): a request
// may be at most Past old and at most Future ahead of the verifier's clock.
type Window struct {
	Past   time.Duration
	Future time.Duration
}

// DefaultWindow is Mastodon's: 12 hours plus one hour of skew in the past,
// one hour in the future.
var DefaultWindow = Window{Past: 13 * time.Hour, Future: time.Hour}

// Signed is a request whose signature header, digest and date have been
// checked; only the cryptographic verification remains.
type Signed struct {
	Params
	signingString string
}

// Check parses and checks the signature of req against body without any
// key: which components are covered, the body's digest and the time
// window. t says where the request was sent.
//
// A request with a Signature-Input header is judged by RFC 9421 alone,
// whatever else it carries (a draft-cavage Authorization header, say):
// one request, one judgement. RFC 9421 needs @method, the target URI (or
// @authority with @path), created and, with a body, content-digest.
// draft-cavage needs (request-target), host, date or (created) and, with a
// body, digest.
func Check(req *http.Request, body []byte, now time.Time, w Window, t Target) (*Signed, error) {
	if len(req.Header.Values("Signature-Input")) > 0 {
		if n := headerLen(req, "Signature-Input") + headerLen(req, "Signature"); n > maxSignatureHeader {
			return nil, fmt.Errorf("%w: header too long", ErrMalformed)
		}
		return checkRFC9421(req, body, now, w, t)
	}
	raw := req.Header.Get("Signature")
	if raw == "" {
		if a := req.Header.Get("Authorization"); len(a) > 10 && strings.EqualFold(a[:10], "Signature ") {
			raw = a[10:]
		}
	}
	if raw == "" {
		return nil, ErrMissing
	}
	p, err := ParseParams(raw)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(p.Algorithm) {
	case "", "hs2019", "rsa-sha256":
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgo, p.Algorithm)
	}
	signed := make(map[string]bool, len(p.Headers))
	for _, h := range p.Headers {
		signed[h] = true
	}
	for _, h := range []string{"(request-target)", "host"} {
		if !signed[h] {
			return nil, fmt.Errorf("%w: %s", ErrUnsignedHeader, h)
		}
	}
	if !signed["date"] && !signed["(created)"] {
		return nil, fmt.Errorf("%w: date", ErrUnsignedHeader)
	}
	hasBody := len(body) > 0 || req.Method == http.MethodPost
	if hasBody && !signed["digest"] {
		return nil, fmt.Errorf("%w: digest", ErrUnsignedHeader)
	}
	for _, h := range p.Headers {
		if h[0] != '(' && h != "host" && len(req.Header.Values(h)) == 0 {
			return nil, fmt.Errorf("%w: %s", ErrMissingHeader, h)
		}
	}
	if signed["(created)"] && p.createdRaw == "" {
		return nil, fmt.Errorf("%w: (created) signed without created parameter", ErrMalformed)
	}
	if err := checkTime(req, p, signed, now, w); err != nil {
		return nil, err
	}
	if hasBody {
		if err := checkDigest(req.Header.Values("Digest"), body); err != nil {
			return nil, err
		}
	}
	host := req.Host
	if host == "" {
		host = req.Header.Get("Host")
	}
	p.Scheme = Cavage
	return &Signed{Params: *p, signingString: signingString(req, p.Headers, host, p)}, nil
}

func headerLen(req *http.Request, name string) int {
	n := 0
	for _, v := range req.Header.Values(name) {
		n += len(v)
	}
	return n
}

func checkTime(req *http.Request, p *Params, signed map[string]bool, now time.Time, w Window) error {
	if signed["date"] {
		d, err := http.ParseTime(req.Header.Get("Date"))
		if err != nil {
			return fmt.Errorf("%w: unreadable Date", ErrDateWindow)
		}
		if d.Before(now.Add(-w.Past)) || d.After(now.Add(w.Future)) {
			return fmt.Errorf("%w: Date %s", ErrDateWindow, d.UTC().Format(time.RFC3339))
		}
	}
	if !p.Created.IsZero() && (p.Created.Before(now.Add(-w.Past)) || p.Created.After(now.Add(w.Future))) {
		return fmt.Errorf("%w: created %s", ErrDateWindow, p.Created.UTC().Format(time.RFC3339))
	}
	if !p.Expires.IsZero() && now.After(p.Expires) {
		return ErrSignatureExpired
	}
	return nil
}

func checkDigest(values []string, body []byte) error {
	var want []byte
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			alg, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(alg, "SHA-256") {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(val)
			if err != nil {
				return fmt.Errorf("%w: undecodable SHA-256 value", ErrDigestMismatch)
			}
			if want == nil {
				sum := sha256.Sum256(body)
				want = sum[:]
			}
			if subtle.ConstantTimeCompare(got, want) != 1 {
				return ErrDigestMismatch
			}
			return nil
		}
	}
	return ErrDigestMissing
}

// Verify checks the signature with pub: an RSA key (RSASSA-PKCS1-v1_5
// with SHA-256, or RSASSA-PSS with SHA-512 where RFC 9421's alg says so)
// or an Ed25519 key. A stated algorithm must match the key's type.
func (s *Signed) Verify(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch s.Algorithm {
		case AlgRSAPSSSHA512:
			if s.Scheme != RFC9421 {
				break
			}
			h := sha512.Sum512([]byte(s.signingString))
			if rsa.VerifyPSS(k, crypto.SHA512, h[:], s.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
				return ErrBadSignature
			}
			return nil
		case AlgEd25519:
			return fmt.Errorf("%w: algorithm %s with an RSA key", ErrUnsupportedKey, s.Algorithm)
		}
		h := sha256.Sum256([]byte(s.signingString))
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], s.Signature) != nil {
			return ErrBadSignature
		}
		return nil
	case ed25519.PublicKey:
		switch strings.ToLower(s.Algorithm) {
		case "", "hs2019", AlgEd25519:
		default:
			return fmt.Errorf("%w: algorithm %s with an Ed25519 key", ErrUnsupportedKey, s.Algorithm)
		}
		if !ed25519.Verify(k, []byte(s.signingString), s.Signature) {
			return ErrBadSignature
		}
		return nil
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// ParseParams parses the value of a Signature header.
func ParseParams(raw string) (*Params, error) {
	if len(raw) > maxSignatureHeader {
		return nil, fmt.Errorf("%w: header too long", ErrMalformed)
	}
	p := &Params{Headers: []string{"(created)"}}
	rest := strings.TrimSpace(raw)
	seen := map[string]bool{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, fmt.Errorf("%w: parameter without value", ErrMalformed)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		var val string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("%w: unterminated quote", ErrMalformed)
			}
			val, rest = after[1:end+1], after[end+2:]
		} else {
			end := strings.IndexByte(after, ',')
			if end < 0 {
				end = len(after)
			}
			val, rest = after[:end], after[end:]
		}
		rest = strings.TrimSpace(rest)
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("%w: expected comma", ErrMalformed)
			}
			rest = strings.TrimSpace(rest[1:])
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: duplicate %s", ErrMalformed, name)
		}
		seen[name] = true
		if err := p.set(name, val); err != nil {
			return nil, err
		}
	}
	if p.KeyID == "" || len(p.Signature) == 0 {
		return nil, fmt.Errorf("%w: keyId and signature are required", ErrMalformed)
	}
	return p, nil
}

func (p *Params) set(name, val string) error {
	switch name {
	case "keyid":
		p.KeyID = val
	case "algorithm":
		p.Algorithm = val
	case "headers":
		hs := strings.Fields(strings.ToLower(val))
		if len(hs) == 0 || len(hs) > maxSignedHeaders {
			return fmt.Errorf("%w: %d signed headers", ErrMalformed, len(hs))
		}
		p.Headers = hs
	case "signature":
		sig, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			return fmt.Errorf("%w: signature is not base64", ErrMalformed)
		}
		p.Signature = sig
	case "created", "expires":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s is not a number", ErrMalformed, name)
		}
		if name == "created" {
			p.Created, p.createdRaw = time.Unix(n, 0), val
		} else {
			p.Expires, p.expiresRaw = time.Unix(n, 0), val
		}
	}
	return nil
}
