package proof

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/mr-tron/base58"

	"github.com/runrig/runrig/discovery"
)

// ErrInvalidKey is wrapped by every error about a key or its encoding.
var ErrInvalidKey = errors.New("invalid Ed25519 key")

// Multicodec prefixes (unsigned varints) of FEP-521a Multikeys.
const (
	ed25519PrivCodec0, ed25519PrivCodec1 = 0x80, 0x26 // ed25519-priv
	maxMultikeyLen                       = 64         // "z" + base58 of 34 bytes is 48
	maxKeyFileSize                       = 64 << 10
)

// base58Encode and base58Decode use the Bitcoin alphabet (base58-btc).
func base58Encode(b []byte) string { return base58.Encode(b) }

func base58Decode(s string) ([]byte, error) { return base58.Decode(s) }

// decodeMultibase58 decodes a base58-btc multibase string ('z' prefix) of
// at most maxLen characters into exactly want bytes.
func decodeMultibase58(s string, maxLen, want int) ([]byte, error) {
	if len(s) > maxLen {
		return nil, fmt.Errorf("%d characters, more than %d", len(s), maxLen)
	}
	if !strings.HasPrefix(s, "z") {
		return nil, errors.New("not base58-btc multibase (no 'z' prefix)")
	}
	b, err := base58Decode(s[1:])
	if err != nil {
		return nil, err
	}
	if len(b) != want {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), want)
	}
	return b, nil
}

// EncodeMultikey returns pub as a FEP-521a publicKeyMultibase ("z6Mk…"),
// the encoding discovery announcements use too ([discovery.EncodeMultikey]).
// It returns "" if pub is not 32 bytes.
func EncodeMultikey(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return ""
	}
	return discovery.EncodeMultikey(pub)
}

// DecodeMultikey parses a publicKeyMultibase ([discovery.DecodeMultikey]).
// Errors wrap [ErrInvalidKey].
func DecodeMultikey(s string) (ed25519.PublicKey, error) {
	pub, err := discovery.DecodeMultikey(s)
	if err != nil {
		return nil, fmt.Errorf("%w: public Multikey: %w", ErrInvalidKey, err)
	}
	return pub, nil
}

// EncodePrivateMultikey returns the private key as a secretKeyMultibase
// ("z3u2…"): base58-btc of the ed25519-priv multicodec prefix 0x80 0x26 and
// the 32-byte seed. It returns "" if key is not 64 bytes.
func EncodePrivateMultikey(key ed25519.PrivateKey) string {
	if len(key) != ed25519.PrivateKeySize {
		return ""
	}
	return "z" + base58Encode(append([]byte{ed25519PrivCodec0, ed25519PrivCodec1}, key.Seed()...))
}

// DecodePrivateMultikey parses a secretKeyMultibase written by
// [EncodePrivateMultikey]. Errors wrap [ErrInvalidKey].
func DecodePrivateMultikey(s string) (ed25519.PrivateKey, error) {
	b, err := decodeMultibase58(s, maxMultikeyLen, 2+ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("%w: private Multikey: %w", ErrInvalidKey, err)
	}
	if b[0] != ed25519PrivCodec0 || b[1] != ed25519PrivCodec1 {
		return nil, fmt.Errorf("%w: private Multikey is not ed25519-priv (prefix %#x %#x)", ErrInvalidKey, b[0], b[1])
	}
	return ed25519.NewKeyFromSeed(b[2:]), nil
}

// ParsePrivateKey reads an Ed25519 private key file: either one PEM block
// "PRIVATE KEY" holding PKCS#8, as `openssl genpkey -algorithm ed25519`
// writes, or a private Multikey ("z3u2…") on one line. Surrounding
// whitespace is ignored; anything else in the file is an error. Errors
// wrap [ErrInvalidKey].
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: key file is %d bytes, more than %d", ErrInvalidKey, len(data), maxKeyFileSize)
	}
	data = bytes.TrimSpace(data)
	if !bytes.HasPrefix(data, []byte("-----BEGIN")) {
		return DecodePrivateMultikey(string(data))
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: unreadable PEM", ErrInvalidKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", ErrInvalidKey)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", ErrInvalidKey, block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: PKCS#8: %w", ErrInvalidKey, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#8 key is %T, not Ed25519", ErrInvalidKey, k)
	}
	return key, nil
}
