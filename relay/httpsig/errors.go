package httpsig

import "errors"

// Reasons a signature is refused. Each is matched with errors.Is; [Reason]
// turns an error into a short label for metrics.
var (
	ErrMissing          = errors.New("no Signature header")
	ErrMalformed        = errors.New("malformed Signature header")
	ErrUnsignedHeader   = errors.New("required header not signed")
	ErrMissingHeader    = errors.New("signed header absent from request")
	ErrDigestMissing    = errors.New("Digest header missing")
	ErrDigestMismatch   = errors.New("Digest does not match body")
	ErrDateWindow       = errors.New("Date outside the accepted window")
	ErrUnsupportedAlgo  = errors.New("unsupported signature algorithm")
	ErrUnsupportedKey   = errors.New("unsupported key type")
	ErrBadSignature     = errors.New("signature does not verify")
	ErrSignatureExpired = errors.New("signature expired")
	// ErrUnsupportedComponent is an RFC 9421 component (or component
	// parameter) this verifier does not compute.
	ErrUnsupportedComponent = errors.New("unsupported covered component")
)

var reasons = []struct {
	err   error
	label string
}{
	{ErrMissing, "missing"},
	{ErrMalformed, "malformed"},
	{ErrUnsignedHeader, "unsigned_header"},
	{ErrMissingHeader, "missing_header"},
	{ErrDigestMissing, "digest_missing"},
	{ErrDigestMismatch, "digest_mismatch"},
	{ErrDateWindow, "date_window"},
	{ErrUnsupportedAlgo, "unsupported_algorithm"},
	{ErrUnsupportedKey, "unsupported_key"},
	{ErrBadSignature, "bad_signature"},
	{ErrSignatureExpired, "expired"},
	{ErrUnsupportedComponent, "unsupported_component"},
}

// Reasons lists every label [Reason] returns.
func Reasons() []string {
	out := []string{"other"}
	for _, r := range reasons {
		out = append(out, r.label)
	}
	return out
}

// Reason returns a short, stable label for a verification error, or "other".
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "other"
}
