//go:build !cgo

package rsasign

import (
	"crypto/rsa"
	"fmt"
)

// whyNot is why the OpenSSL backend is missing from this binary.
const whyNot = "built without cgo (CGO_ENABLED=0)"

// Available reports whether the [OpenSSL] backend can be used in this
// binary: never without cgo, and why says so.
func Available() (ok bool, why string) {
	return false, whyNot
}

// NewOpenSSL fails without cgo: [ErrNoKey] for a nil or invalid k, else an
// error matching [ErrUnavailable].
func NewOpenSSL(k *rsa.PrivateKey) (Key, error) {
	if err := checkKey(k); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s", ErrUnavailable, whyNot)
}
