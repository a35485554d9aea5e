package store

import (
	"testing"
	"unicode/utf8"
)

func TestPeerText(t *testing.T) {
	for _, c := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "connection refused", 200, "connection refused"},
		{"NUL", "valid for a\x00b, not c", 0, "valid for a\uFFFDb, not c"},
		{"invalid UTF-8", "bad \xff\xfe byte", 0, "bad \uFFFD byte"},
		{"newline and tab", "line\nnext\tcol", 0, "line\uFFFDnext\uFFFDcol"},
		{"cut between characters", "ab€", 4, "ab"},
		{"cut at a boundary", "ab€", 5, "ab€"},
		{"whole when no max", "ab€", 0, "ab€"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := PeerText(c.in, c.max)
			if got != c.want || !utf8.ValidString(got) {
				t.Errorf("PeerText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
		})
	}
}
