package httpsig

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// Digests are a body's digests in both header forms, computed once per
// body and shared by every delivery of it.
type Digests struct {
	// Digest is draft-cavage's Digest header: "SHA-256=<base64>".
	Digest string
	// ContentDigest is RFC 9530's Content-Digest: "sha-256=:<base64>:".
	ContentDigest string
}

// DigestsOf returns the digests of body.
func DigestsOf(body []byte) Digests {
	sum := sha256.Sum256(body)
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	return Digests{Digest: "SHA-256=" + b64, ContentDigest: "sha-256=:" + b64 + ":"}
}

// checkContentDigest checks RFC 9530 Content-Digest values against body.
// Every sha-256 and sha-512 value present must match, and one must be;
// other algorithms are ignored.
func checkContentDigest(values []string, body []byte) error {
	if len(values) == 0 {
		return fmt.Errorf("%w: Content-Digest", ErrDigestMissing)
	}
	members, err := parseDictionary(strings.Join(values, ", "))
	if err != nil {
		return fmt.Errorf("%w: Content-Digest: %v", ErrMalformed, err)
	}
	checked := 0
	for _, m := range members {
		var want []byte
		switch m.key {
		case "sha-256":
			sum := sha256.Sum256(body)
			want = sum[:]
		case "sha-512":
			sum := sha512.Sum512(body)
			want = sum[:]
		default:
			continue
		}
		if m.isSet || m.item.kind != sfBytes {
			return fmt.Errorf("%w: %s is not a byte sequence", ErrDigestMismatch, m.key)
		}
		if subtle.ConstantTimeCompare(m.item.bytes, want) != 1 {
			return fmt.Errorf("%w: %s", ErrDigestMismatch, m.key)
		}
		checked++
	}
	if checked == 0 {
		return fmt.Errorf("%w: no sha-256 or sha-512 in Content-Digest", ErrDigestMissing)
	}
	return nil
}
