package policy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// ErrBadPeer is returned for a URL or name that does not identify a peer.
var ErrBadPeer = errors.New("not a peer URL")

// PeerOf returns the peer a URL belongs to: its authority, host[:port],
// lower-cased, with the scheme's default port removed. Instances that share
// a host but listen on different ports are different peers.
func PeerOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadPeer, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("%w: scheme %q", ErrBadPeer, u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%w: %q has no plain host", ErrBadPeer, rawURL)
	}
	return normalize(u.Hostname(), u.Port(), u.Scheme)
}

// NormalizeIRI gives an http(s) IRI's host the one spelling of [PeerOf]
// (punycode, lower case, no trailing dot, no default port), so that IRIs
// naming one actor or key compare equal. Anything else is returned as it
// is.
func NormalizeIRI(iri string) string {
	u, err := url.Parse(iri)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return iri
	}
	peer, err := normalize(u.Hostname(), u.Port(), u.Scheme)
	if err != nil {
		return iri
	}
	u.Host = peer
	return u.String()
}

// ParsePeer normalizes a peer named by an operator, either as a URL
// ("https://coop.example") or as a bare authority ("coop.example",
// "127.0.0.1:9001").
func ParsePeer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		return PeerOf(s)
	}
	if s == "" || strings.ContainsAny(s, "/?#@ ") {
		return "", fmt.Errorf("%w: %q", ErrBadPeer, s)
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1] // an IPv6 address without a port
	}
	return normalize(host, port, "")
}

// normalize gives a host one spelling: lower case, no trailing dot, and
// internationalized names in their ASCII (punycode) form, so that a block
// on xn--mnchen-3ya.example (as Mastodon exports it) also stops
// münchen.example, and the reverse.
func normalize(host, port, scheme string) (string, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host != "" && net.ParseIP(host) == nil {
		ascii, err := idna.Lookup.ToASCII(host)
		switch {
		case err == nil:
			host = strings.ToLower(ascii)
		case !plainName(host):
			// A name of letters, digits, hyphens, dots and underscores
			// that IDNA's strict rules refuse (an underscore, say) keeps
			// its lower-cased spelling; anything else has no single one.
			return "", fmt.Errorf("%w: host %q: %v", ErrBadPeer, host, err)
		}
	}
	// Brackets belong around an IPv6 address, and colons only inside one;
	// a name has no empty label.
	if host == "" || strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) ||
		strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return "", fmt.Errorf("%w: host %q", ErrBadPeer, host)
	}
	if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535) {
		return "", fmt.Errorf("%w: port %q", ErrBadPeer, port)
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port == "" {
		if strings.Contains(host, ":") {
			return "[" + host + "]", nil
		}
		return host, nil
	}
	return net.JoinHostPort(host, port), nil
}

// plainName reports whether s holds only a-z, 0-9, '-', '_' and '.'.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// SameHost reports whether two URLs belong to the same peer.
func SameHost(a, b string) bool {
	pa, err1 := PeerOf(a)
	pb, err2 := PeerOf(b)
	return err1 == nil && err2 == nil && pa == pb
}
