package discovery

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/mr-tron/base58"
)

// ed25519Multicodec is the multicodec prefix of an Ed25519 public key.
var ed25519Multicodec = []byte{0xed, 0x01}

// ErrMultikey is returned for a publicKeyMultibase that is not an Ed25519
// Multikey.
var ErrMultikey = errors.New("not an Ed25519 Multikey")

// EncodeMultikey encodes an Ed25519 public key as an FEP-521a
// publicKeyMultibase: "z" + base58btc(0xed01 ‖ key).
func EncodeMultikey(pub ed25519.PublicKey) string {
	return "z" + base58.Encode(append(append([]byte{}, ed25519Multicodec...), pub...))
}

// DecodeMultikey decodes an Ed25519 publicKeyMultibase.
func DecodeMultikey(s string) (ed25519.PublicKey, error) {
	if len(s) < 2 || len(s) > 100 || s[0] != 'z' {
		return nil, fmt.Errorf("%w: want base58btc (z…)", ErrMultikey)
	}
	b, err := base58.Decode(s[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMultikey, err)
	}
	if len(b) != 2+ed25519.PublicKeySize || b[0] != ed25519Multicodec[0] || b[1] != ed25519Multicodec[1] {
		return nil, ErrMultikey
	}
	return ed25519.PublicKey(b[2:]), nil
}
