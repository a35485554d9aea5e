package web

import "testing"

func TestLocalOnly(t *testing.T) {
	for _, c := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:8080", true},
		{"http://192.168.1.20", true},
		{"http://10.0.0.5:8080", true},
		{"http://localhost:8080", true},
		{"http://relay.localhost", true},
		{"http://relay", true},
		{"http://pi.local", true},
		{"https://relay.example", false},
		{"https://relay.example.", false},
		{"https://203.0.113.7", false},
		{"http://100.64.0.9", true}, // carrier-grade NAT, as the egress guard has it
	} {
		if got := LocalOnly(c.url); got != c.want {
			t.Errorf("LocalOnly(%q) = %v, want %v", c.url, got, c.want)
		}
	}
}

func TestContactLink(t *testing.T) {
	for _, c := range []struct{ contact, want string }{
		{"admin@relay.example", "mailto:admin@relay.example"},
		{"@ops@social.example", "https://social.example/@ops"},
		{"https://coop.example/contact", "https://coop.example/contact"},
		{"ring Maria on 0123 456", ""},
		{"javascript:alert(1)", ""},
		{"a@b@c", ""},
	} {
		if got := contactLink(c.contact); got != c.want {
			t.Errorf("contactLink(%q) = %q, want %q", c.contact, got, c.want)
		}
	}
}

func TestBreakable(t *testing.T) {
	if got := string(breakable("https://r.example/inbox?x=<b>")); got != "https:/<wbr>/<wbr>r.<wbr>example/<wbr>inbox?<wbr>x=&lt;b&gt;" {
		t.Errorf("breakable = %q", got)
	}
}
