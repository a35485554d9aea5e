package httpsig

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// RFC 9421 HTTP Message Signatures, as Mastodon (4.5+), Fedify, Bonfire,
// Hubzilla and WordPress send them: Signature-Input names the covered
// components and the parameters, Signature carries the bytes, and a body
// is bound by Content-Digest (RFC 9530).

// The schemes a request can be signed with.
const (
	// Cavage is draft-cavage-http-signatures-12.
	Cavage = "cavage"
	// RFC9421 is RFC 9421 HTTP Message Signatures.
	RFC9421 = "rfc9421"
)

// RFC 9421 algorithm names this package signs and verifies.
const (
	AlgRSAv15SHA256 = "rsa-v1_5-sha256"
	AlgRSAPSSSHA512 = "rsa-pss-sha512"
	AlgEd25519      = "ed25519"
)

// derived components this package computes (RFC 9421 section 2.2).
var derived = map[string]bool{
	"@method": true, "@target-uri": true, "@authority": true, "@scheme": true,
	"@request-target": true, "@path": true, "@query": true,
}

// Target is what the verifier knows of where a request was sent: the
// scheme of this server's public URL (a TLS-terminating proxy makes the
// request itself look like plain HTTP).
type Target struct {
	Scheme string
}

// checkRFC9421 is [Check] for a request that carries Signature-Input. It
// judges the first signature Signature-Input lists that Signature carries:
// senders that add several (an RSA and an Ed25519 one, say) list their
// preferred first.
func checkRFC9421(req *http.Request, body []byte, now time.Time, w Window, t Target) (*Signed, error) {
	inputs, err := parseDictionary(strings.Join(req.Header.Values("Signature-Input"), ", "))
	if err != nil {
		return nil, fmt.Errorf("%w: Signature-Input: %v", ErrMalformed, err)
	}
	sigs, err := parseDictionary(strings.Join(req.Header.Values("Signature"), ", "))
	if err != nil {
		return nil, fmt.Errorf("%w: Signature: %v", ErrMalformed, err)
	}
	for _, in := range inputs {
		for _, sg := range sigs {
			if sg.key != in.key {
				continue
			}
			if !in.isSet || sg.isSet || sg.item.kind != sfBytes {
				return nil, fmt.Errorf("%w: signature %s is not an inner list and a byte sequence", ErrMalformed, in.key)
			}
			return checkOne(req, body, now, w, t, in, sg.item.bytes)
		}
	}
	return nil, fmt.Errorf("%w: no signature matches Signature-Input", ErrMalformed)
}

// checkOne checks one signature's parameters, coverage, digest and time,
// and builds its signature base.
func checkOne(req *http.Request, body []byte, now time.Time, w Window, t Target, in sfMember, sig []byte) (*Signed, error) {
	p := Params{Scheme: RFC9421, Label: in.key, Signature: sig}
	for _, q := range in.item.params {
		switch q.key {
		case "keyid":
			p.KeyID = q.val.str
		case "alg":
			p.Algorithm = q.val.str
		case "created", "expires":
			if q.val.kind != sfInteger {
				return nil, fmt.Errorf("%w: %s is not an integer", ErrMalformed, q.key)
			}
			if q.key == "created" {
				p.Created = time.Unix(q.val.num, 0)
			} else {
				p.Expires = time.Unix(q.val.num, 0)
			}
		}
	}
	if p.KeyID == "" || len(sig) == 0 {
		return nil, fmt.Errorf("%w: keyid and a signature are required", ErrMalformed)
	}
	switch p.Algorithm {
	case "", AlgRSAv15SHA256, AlgRSAPSSSHA512, AlgEd25519:
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgo, p.Algorithm)
	}
	if p.Created.IsZero() {
		return nil, fmt.Errorf("%w: created", ErrUnsignedHeader)
	}
	covered := map[string]bool{}
	for _, c := range in.list {
		if c.kind != sfString {
			return nil, fmt.Errorf("%w: component is not a string", ErrMalformed)
		}
		if len(c.params) > 0 {
			return nil, fmt.Errorf("%w: component parameters (%s)", ErrUnsupportedComponent, c.str)
		}
		if covered[c.str] {
			return nil, fmt.Errorf("%w: %s covered twice", ErrMalformed, c.str)
		}
		covered[c.str] = true
		p.Headers = append(p.Headers, c.str)
	}
	if err := requireCoverage(covered, req.Method == http.MethodPost || len(body) > 0); err != nil {
		return nil, err
	}
	if err := checkWindow(p, now, w); err != nil {
		return nil, err
	}
	if covered["content-digest"] {
		if err := checkContentDigest(req.Header.Values("Content-Digest"), body); err != nil {
			return nil, err
		}
	}
	base, err := signatureBase(req, t, in)
	if err != nil {
		return nil, err
	}
	return &Signed{Params: p, signingString: base}, nil
}

// requireCoverage demands what binds a signature to one request: its
// method, where it was sent (the whole target URI, or the authority and
// path) and, with a body, its digest.
func requireCoverage(covered map[string]bool, hasBody bool) error {
	if !covered["@method"] {
		return fmt.Errorf("%w: @method", ErrUnsignedHeader)
	}
	if !covered["@target-uri"] && !(covered["@authority"] && (covered["@path"] || covered["@request-target"])) {
		return fmt.Errorf("%w: @target-uri", ErrUnsignedHeader)
	}
	if hasBody && !covered["content-digest"] {
		return fmt.Errorf("%w: content-digest", ErrUnsignedHeader)
	}
	return nil
}

func checkWindow(p Params, now time.Time, w Window) error {
	if p.Created.Before(now.Add(-w.Past)) || p.Created.After(now.Add(w.Future)) {
		return fmt.Errorf("%w: created %s", ErrDateWindow, p.Created.UTC().Format(time.RFC3339))
	}
	if !p.Expires.IsZero() && now.After(p.Expires) {
		return ErrSignatureExpired
	}
	return nil
}

// signatureBase builds the signature base of RFC 9421 section 2.5.
func signatureBase(req *http.Request, t Target, in sfMember) (string, error) {
	var b strings.Builder
	for _, c := range in.list {
		v, err := componentValue(req, t, c.str)
		if err != nil {
			return "", err
		}
		c.serialize(&b)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	serializeInnerList(&b, in.list, in.item.params)
	return b.String(), nil
}

// componentValue is the value of one covered component.
func componentValue(req *http.Request, t Target, name string) (string, error) {
	if strings.HasPrefix(name, "@") {
		if !derived[name] {
			return "", fmt.Errorf("%w: %s", ErrUnsupportedComponent, name)
		}
		return derivedValue(req, t, name), nil
	}
	if name != strings.ToLower(name) || strings.ContainsAny(name, " \t\r\n:") {
		return "", fmt.Errorf("%w: field name %q", ErrMalformed, name)
	}
	if name == "host" {
		return authority(req), nil
	}
	vals := req.Header.Values(name)
	if len(vals) == 0 {
		return "", fmt.Errorf("%w: %s", ErrMissingHeader, name)
	}
	for i, v := range vals {
		vals[i] = strings.TrimSpace(v)
	}
	return strings.Join(vals, ", "), nil
}

func derivedValue(req *http.Request, t Target, name string) string {
	scheme := strings.ToLower(t.Scheme)
	if scheme == "" {
		scheme = "https"
	}
	switch name {
	case "@method":
		return req.Method
	case "@authority":
		return authority(req)
	case "@scheme":
		return scheme
	case "@target-uri":
		return scheme + "://" + authority(req) + req.URL.RequestURI()
	case "@request-target":
		return req.URL.RequestURI()
	case "@path":
		if p := req.URL.EscapedPath(); p != "" {
			return p
		}
		return "/"
	default: // @query
		return "?" + req.URL.RawQuery
	}
}

// authority is the request's host, lower-cased, as RFC 9421 section
// 2.2.3 normalises it.
func authority(req *http.Request) string {
	h := req.Host
	if h == "" {
		h = req.URL.Host
	}
	return strings.ToLower(h)
}
