package store

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PeerText makes text a peer caused (an error from its TLS certificate,
// its response) fit to keep and show: valid UTF-8, control characters
// (NUL among them, which PostgreSQL's text refuses) replaced by U+FFFD,
// and at most max bytes, cut between characters. max <= 0 keeps it whole.
func PeerText(s string, max int) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if max <= 0 || len(clean) <= max {
		return clean
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(clean[cut]) {
		cut--
	}
	return clean[:cut]
}
