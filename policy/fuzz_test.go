package policy

import (
	"testing"
)

// Names from any source have one spelling: normalizing is idempotent and
// never panics.
func FuzzParsePeer(f *testing.F) {
	for _, s := range []string{"coop.example", "Coop.Example.", "münchen.example", "xn--mnchen-3ya.example",
		"127.0.0.1:9001", "[::1]:80", "https://a.example:443/x", "a_b.example", "xn--", "-.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeer(s)
		if err != nil {
			return
		}
		again, err := ParsePeer(p)
		if err != nil || again != p {
			t.Fatalf("ParsePeer(%q) = %q, but ParsePeer(%q) = %q, %v", s, p, p, again, err)
		}
	})
}

// Mastodon CSV and plain lists from any source: parsing never panics, and
// every entry it returns is a normalized domain.
func FuzzParseList(f *testing.F) {
	f.Add([]byte("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nspam.example,suspend,true,false,spam,false\n"), "suspend")
	f.Add([]byte("münchen.example\n# comment\n*.bad.example\n"), "reject")
	f.Add([]byte("#domain\nok.example\n"), "accept")
	f.Fuzz(func(t *testing.T, data []byte, action string) {
		entries, err := ParseList(data, Action(action))
		if err != nil {
			return
		}
		for _, e := range entries {
			if p, err := ParsePeer(e.Domain); err != nil || p != e.Domain {
				t.Fatalf("entry %q is not a normalized domain (%q, %v)", e.Domain, p, err)
			}
		}
	})
}
