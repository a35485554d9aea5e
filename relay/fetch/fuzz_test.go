package fetch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/runrig/runrig/policy"
)

// seedDocuments adds the real servers' documents of relaytest/testdata
// (placeholders left in: they are JSON) to a fuzz corpus.
func seedDocuments(f *testing.F, add func(doc []byte)) {
	files, _ := filepath.Glob(filepath.Join("..", "relaytest", "testdata", "*", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			add(b)
		}
	}
}

// Actor and key documents from any peer: parsing never panics, and what
// is accepted is on the host it was fetched from.
func FuzzActorAndKeyDocuments(f *testing.F) {
	seedDocuments(f, func(b []byte) { f.Add(b, "https://{{HOST}}/users/{{HOST}}/main-key") })
	f.Add([]byte(`{"id":"https://a.example/u","inbox":"https://a.example/i","publicKey":[{"id":"https://a.example/u#k"}]}`), "https://a.example/u#k")
	f.Fuzz(func(t *testing.T, body []byte, keyID string) {
		docURL, _, _ := strings.Cut(keyID, "#")
		if a, err := ParseActor(body, docURL); err == nil {
			if !policy.SameHost(a.ID, docURL) || !policy.SameHost(a.Inbox, a.ID) {
				t.Fatalf("accepted actor %+v fetched from %s", a, docURL)
			}
		}
		if k, err := ParseKey(body, keyID); err == nil {
			if k.ID != keyID || !policy.SameHost(k.Owner, keyID) {
				t.Fatalf("accepted key %s owned by %s for %s", k.ID, k.Owner, keyID)
			}
		}
	})
}

// NodeInfo from any peer: never panics, links stay on the peer's host,
// and the software name is printable and bounded.
func FuzzNodeInfo(f *testing.F) {
	seedDocuments(f, func(b []byte) { f.Add(b) })
	f.Add([]byte(`{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.0","href":"https://a.example/nodeinfo/2.0"}]}`))
	f.Add([]byte(`{"software":{"name":"mastodon\u001b[31m","version":"4.3.2\u202e"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if href, err := NodeInfoLink(body, "https://a.example"); err == nil && !policy.SameHost(href, "https://a.example") {
			t.Fatalf("link %s off the peer's host", href)
		}
		s, err := SoftwareOf(body)
		if err != nil {
			return
		}
		if len(s) > maxSoftware || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			t.Fatalf("software %q", s)
		}
	})
}
