package httpsig

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Signer signs outgoing requests with the relay's keys: its RSA key under
// draft-cavage or RFC 9421, and its Ed25519 key under RFC 9421. It is safe
// for concurrent use; keys are parsed once, not per request.
type Signer struct {
	// KeyID is the keyId published in the signature, e.g.
	// "https://relay.example/actor#main-key".
	KeyID string
	// Key is the RSA private key.
	Key *rsa.PrivateKey
	// RSA, when set, signs with Key through a faster backend (OpenSSL's
	// libcrypto, see package rsasign); nil signs with crypto/rsa.
	RSA RSASigner
	// Ed25519, when set, signs [KindEd25519] requests.
	Ed25519 ed25519.PrivateKey
	// Now returns the signing time; time.Now when nil.
	Now func() time.Time
	// Ring, when set, holds the signers of other actors on this server
	// with keys of their own (DFC bridges): a key id it knows is signed
	// with that actor's keys.
	Ring KeyRing
}

// KeyRing finds the signer of a key id. ours reports whether the key id
// belongs to the ring at all: one that does but has no signer is an
// error, never signed with another key.
type KeyRing interface {
	Signer(keyID string) (s *Signer, ours bool)
}

// RSASigner signs SHA-256 digests with an RSA key (PKCS#1 v1.5).
type RSASigner interface {
	SignSHA256(digest []byte) ([]byte, error)
}

// Kind is a way of signing a request: a scheme and a key.
type Kind string

// The kinds a [Signer] makes.
const (
	// KindCavage is draft-cavage with the RSA key: what every fediverse
	// server verifies today.
	KindCavage Kind = "cavage"
	// KindRFC9421 is RFC 9421 with the RSA key (rsa-v1_5-sha256), as
	// Mastodon 4.5 verifies it.
	KindRFC9421 Kind = "rfc9421"
	// KindEd25519 is RFC 9421 with the Ed25519 key: relays that accept
	// it verify about 20 times faster than RSA signs.
	KindEd25519 Kind = "rfc9421-ed25519"
)

// Kinds lists every kind, in the order a sender tries them.
func Kinds() []Kind { return []Kind{KindCavage, KindRFC9421, KindEd25519} }

// Ed25519KeyID is the id of an actor's Ed25519 key, given the actor's id
// or the id of its RSA key: the actor's id with the fragment #ed25519-key.
func Ed25519KeyID(rsaKeyID string) string {
	actor, _, _ := strings.Cut(rsaKeyID, "#")
	return actor + "#ed25519-key"
}

// DigestHeader returns the value of the Digest header for body.
func DigestHeader(body []byte) string {
	return DigestsOf(body).Digest
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
	return s.SignKind(req, KindCavage, Digests{Digest: digest}, keyID)
}

// SignKind signs req the way kind says, as keyID's actor ("" means
// s.KeyID; for [KindEd25519] the actor's [Ed25519KeyID]). d are the body's
// digests, zero for a request without a body.
func (s *Signer) SignKind(req *http.Request, kind Kind, d Digests, keyID string) error {
	if keyID == "" {
		keyID = s.KeyID
	}
	if s.Ring != nil && keyID != s.KeyID {
		switch other, ours := s.Ring.Signer(keyID); {
		case ours && other == nil:
			return fmt.Errorf("%w: no signer holds %q", ErrUnsupportedKey, keyID)
		case ours && other != s:
			return other.SignKind(req, kind, d, keyID)
		}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	// A request signed before (the first knock, cloned for the second)
	// keeps none of that signature: a verifier that sees Signature-Input
	// judges by RFC 9421 alone.
	for _, h := range []string{"Signature", "Signature-Input", "Digest", "Content-Digest"} {
		req.Header.Del(h)
	}
	req.Header.Set("Date", t.UTC().Format(http.TimeFormat))
	switch kind {
	case KindCavage:
		return s.signCavage(req, d.Digest, keyID)
	case KindRFC9421:
		return s.signRFC9421(req, d, keyID, AlgRSAv15SHA256, t)
	case KindEd25519:
		if s.Ed25519 == nil {
			return fmt.Errorf("%w: no Ed25519 key to sign with", ErrUnsupportedKey)
		}
		return s.signRFC9421(req, d, Ed25519KeyID(keyID), AlgEd25519, t)
	}
	return fmt.Errorf("%w: %q", ErrUnsupportedAlgo, kind)
}

func (s *Signer) signCavage(req *http.Request, digest, keyID string) error {
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
	sig, err := s.signRSA([]byte(signingString(req, headers, host, nil)))
	if err != nil {
		return err
	}
	req.Header.Set("Signature", `keyId="`+keyID+`",algorithm="rsa-sha256",headers="`+
		strings.Join(headers, " ")+`",signature="`+base64.StdEncoding.EncodeToString(sig)+`"`)
	return nil
}

// signRFC9421 signs with one signature labelled sig1 covering @method,
// @target-uri and, with a body, content-digest; created, keyid and alg
// are its parameters.
func (s *Signer) signRFC9421(req *http.Request, d Digests, keyID, alg string, now time.Time) error {
	comps := []sfItem{{kind: sfString, str: "@method"}, {kind: sfString, str: "@target-uri"}}
	if d.ContentDigest != "" {
		req.Header.Set("Content-Digest", d.ContentDigest)
		comps = append(comps, sfItem{kind: sfString, str: "content-digest"})
	}
	in := sfMember{key: "sig1", isSet: true, list: comps, item: sfItem{params: []sfParam{
		{key: "created", val: sfItem{kind: sfInteger, num: now.Unix()}},
		{key: "keyid", val: sfItem{kind: sfString, str: keyID}},
		{key: "alg", val: sfItem{kind: sfString, str: alg}},
	}}}
	base, err := signatureBase(req, Target{Scheme: req.URL.Scheme}, in)
	if err != nil {
		return err
	}
	var sig []byte
	if alg == AlgEd25519 {
		sig = ed25519.Sign(s.Ed25519, []byte(base))
	} else if sig, err = s.signRSA([]byte(base)); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("sig1=")
	serializeInnerList(&b, in.list, in.item.params)
	req.Header.Set("Signature-Input", b.String())
	req.Header.Set("Signature", "sig1=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}

// signRSA signs msg with RSASSA-PKCS1-v1_5 and SHA-256.
func (s *Signer) signRSA(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	if s.RSA != nil {
		return s.RSA.SignSHA256(h[:])
	}
	return rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA256, h[:])
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
