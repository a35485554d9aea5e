package policy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// The address a request counts against, behind no proxy, a local one and
// configured ones.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		remote, xff, want string
	}{
		{"203.0.113.7:1", "", "203.0.113.7"},
		{"203.0.113.7:1", "198.51.100.1", "203.0.113.7"},         // not a proxy: its header is the client's to write
		{"127.0.0.1:1", "", ""},                                  // a local proxy naming nobody
		{"127.0.0.1:1", "spoofed, 198.51.100.1", "198.51.100.1"}, // the last hop the proxy added
		{"10.1.2.3:1", "198.51.100.1, 10.0.0.5", "198.51.100.1"}, // through two trusted proxies
		{"10.1.2.3:1", "1.1.1.1, 198.51.100.1", "198.51.100.1"},  // the client's own claim before it is ignored
		{"10.1.2.3:1", "not an address", ""},
		{"[2001:db8:1:2:3::4]:1", "", "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.9]:1", "", "203.0.113.9"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "http://relay.test/inbox", nil)
		req.RemoteAddr = tt.remote
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := ClientAddr(req, trusted); got != tt.want {
			t.Errorf("ClientAddr(%s, XFF %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
		}
	}
}
