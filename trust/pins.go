package trust

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/url"
)

// ErrUnprovenRotation is returned when a peer's key changed but the new
// key was not fetched over HTTPS from its own origin.
var ErrUnprovenRotation = errors.New("key changed, and the new key was not fetched over HTTPS")

// Fingerprint is the SHA-256 of a public key's SubjectPublicKeyInfo, hex.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// RotationProven reports whether a changed key may replace the pinned one:
// it was fetched from its key id's own origin (the fetcher checks that),
// over HTTPS, or over plain HTTP only where private networks are allowed
// (local demos and tests, where there is no TLS).
func RotationProven(keyID string, allowPlainHTTP bool) bool {
	u, err := url.Parse(keyID)
	if err != nil {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && allowPlainHTTP)
}
