package policy

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr is the address a request is counted against: the peer's, or,
// when the peer is a trusted reverse proxy (loopback always is, and those
// in trusted), the client the proxies name in X-Forwarded-For: the last
// address there that is not itself a trusted proxy. It is "" when a
// trusted proxy names nobody (or names it unreadably). IPv6 addresses
// count by their /64, since one host holds a whole /64.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip := peer.Unmap()
	if trustedProxy(ip, trusted) {
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		ip = netip.Addr{}
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return ""
			}
			if a = a.Unmap(); !trustedProxy(a, trusted) {
				ip = a
				break
			}
		}
		if !ip.IsValid() {
			return ""
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// trustedProxy reports whether a is loopback or one of trusted.
func trustedProxy(a netip.Addr, trusted []netip.Prefix) bool {
	if a.IsLoopback() {
		return true
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
