package policy

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPeerOf(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"https://coop.example/actor", "coop.example", false},
		{"https://Coop.Example:443/x", "coop.example", false},
		{"http://127.0.0.1:9001/inbox", "127.0.0.1:9001", false},
		{"http://127.0.0.1:80/inbox", "127.0.0.1", false},
		{"https://coop.example:8443/", "coop.example:8443", false},
		{"https://[::1]:9000/", "[::1]:9000", false},
		{"https://münchen.example/actor", "xn--mnchen-3ya.example", false},
		{"https://MÜNCHEN.Example./actor", "xn--mnchen-3ya.example", false},
		{"https://XN--MNCHEN-3YA.example/actor", "xn--mnchen-3ya.example", false},
		{"https://m%C3%BCnchen.example/actor", "xn--mnchen-3ya.example", false},
		{"https://coop_1.example/actor", "coop_1.example", false},
		{"ftp://coop.example/", "", true},
		{"https://user@coop.example/", "", true},
		{"coop.example", "", true},
		{"://", "", true},
	}
	for _, tt := range tests {
		got, err := PeerOf(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadPeer) {
				t.Errorf("PeerOf(%q) error = %v, want ErrBadPeer", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("PeerOf(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePeer(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"coop.example", "coop.example", false},
		{" COOP.example. ", "coop.example", false},
		{"127.0.0.1:9001", "127.0.0.1:9001", false},
		{"https://coop.example/actor", "coop.example", false},
		{"coop.example/path", "", true},
		{"", "", true},
		{"[::1]", "[::1]", false},
		{"[::1]:9000", "[::1]:9000", false},
		{"[:", "", true},     // found by FuzzParsePeer
		{"a:b", "", true},    // a colon outside an IPv6 address
		{"xn--", "", true},   // IDNA gives nothing
		{"0000..", "", true}, // found by FuzzParsePeer: an empty label
		{"coop.example:99999", "", true},
		{"00000000\v.", "", true}, // found by FuzzParsePeer: a control character
	}
	for _, tt := range tests {
		got, err := ParsePeer(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePeer(%q) = %q, %v; want %q (err %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestEgress(t *testing.T) {
	strict, open := Egress{}, Egress{AllowPrivate: true}
	tests := []struct {
		ip           string
		strict, open bool
	}{
		{"93.184.216.34", true, true},
		{"2001:db8::1", true, true},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"10.1.2.3", false, true},
		{"192.168.1.1", false, true},
		{"172.16.0.1", false, true},
		{"169.254.169.254", false, true},
		{"100.64.0.1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"64:ff9b::7f00:1", false, true},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", false, true}, // NAT64 of 169.254.169.254
		{"64:ff9b::5db8:d822", true, true},  // NAT64 of a public address
		{"2002:c0a8:101::1", false, true},   // 6to4 of 192.168.1.1
		{"2002:5db8:d822::1", true, true},   // 6to4 of a public address
		{"::7f00:1", false, true},           // IPv4-compatible 127.0.0.1
		{"::5db8:d822", false, true},        // IPv4-compatible: never routed
		{"0.0.0.0", false, false},
		{"224.0.0.1", false, false},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := strict.Allowed(ip); got != tt.strict {
			t.Errorf("strict.Allowed(%s) = %v", tt.ip, got)
		}
		if got := open.Allowed(ip); got != tt.open {
			t.Errorf("open.Allowed(%s) = %v", tt.ip, got)
		}
	}
	if err := strict.Control("tcp", "127.0.0.1:80", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("Control(loopback) = %v", err)
	}
	if err := open.Control("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("open Control(loopback) = %v", err)
	}
}
