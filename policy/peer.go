package policy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
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
	}
	return normalize(host, port, "")
}

func normalize(host, port, scheme string) (string, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return "", fmt.Errorf("%w: empty host", ErrBadPeer)
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

// SameHost reports whether two URLs belong to the same peer.
func SameHost(a, b string) bool {
	pa, err1 := PeerOf(a)
	pb, err2 := PeerOf(b)
	return err1 == nil && err2 == nil && pa == pb
}
