package policy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress is returned when a connection would reach an address
// the egress policy does not allow.
var ErrForbiddenAddress = errors.New("destination address not allowed")

// Egress decides which IP addresses the relay may connect to when it fetches
// keys, actors and objects or delivers activities. The zero value refuses
// loopback, private, link-local, multicast and unspecified addresses, so a
// peer cannot point the relay at services on its own network.
type Egress struct {
	// AllowPrivate permits loopback and private-range destinations. Needed
	// for tests and local demos where every instance runs on 127.0.0.1.
	AllowPrivate bool
}

// Allowed reports whether ip may be contacted.
func (e Egress) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsLinkLocalMulticast() {
		return false
	}
	if e.AllowPrivate {
		return true
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return e.Allowed(v4) // NAT64 and 6to4 reach the IPv4 address they carry
	}
	if ipv4Compatible.Contains(ip) {
		return false // deprecated, never routed: only a way around the checks
	}
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || isSharedOrReserved(ip))
}

var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	ipv4Compatible = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 returns the IPv4 address a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address leads to.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case !ip.Is6():
		return netip.Addr{}, false
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved
	netip.MustParsePrefix("0.0.0.0/8"),     // "this" network
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

func isSharedOrReserved(ip netip.Addr) bool {
	for _, p := range reserved {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function enforcing the policy on the
// address actually dialled, after name resolution, so DNS answers cannot
// smuggle a private address past it.
func (e Egress) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if !e.Allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// Dialer returns a dialer that enforces the policy.
func (e Egress) Dialer(base net.Dialer) *net.Dialer {
	d := base
	d.Control = e.Control
	return &d
}
