package inbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseInbound(t *testing.T) {
	tests := []struct {
		name, body string
		embedded   bool
		public     bool
		objectID   string
		err        bool
	}{
		{"create", `{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","to":["https://www.w3.org/ns/activitystreams#Public"],"object":{"id":"https://a.example/n/1","type":"Note"}}`, false, true, "https://a.example/n/1", false},
		{"as:Public in cc", `{"id":"https://a.example/1","type":"Announce","actor":"https://a.example/u","cc":["as:Public"],"object":"https://b.example/n/2"}`, false, true, "https://b.example/n/2", false},
		{"LD signed", `{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","object":"https://a.example/n/9","signature":{"type":"RsaSignature2017"}}`, true, false, "https://a.example/n/9", false},
		{"proof", `{"id":"https://a.example/1","type":"Update","actor":"https://a.example/u","object":"https://a.example/n/9","proof":{"type":"DataIntegrityProof"}}`, true, false, "https://a.example/n/9", false},
		{"null signature", `{"id":"https://a.example/1","type":"Update","actor":"https://a.example/u","object":"https://a.example/n/9","signature":null}`, false, false, "https://a.example/n/9", false},
		{"followers only", `{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","to":["https://a.example/u/followers"],"object":"https://a.example/n/9"}`, false, false, "https://a.example/n/9", false},
		{"no id", `{"type":"Create","actor":"https://a.example/u","object":"https://a.example/n/9"}`, false, false, "", true},
		{"object type", `{"id":"https://a.example/1","type":"Person","actor":"https://a.example/u"}`, false, false, "", true},
		{"foreign id", `{"id":"https://b.example/1","type":"Create","actor":"https://a.example/u"}`, false, false, "", true},
		{"actor not a URL", `{"id":"https://a.example/1","type":"Create","actor":"bob"}`, false, false, "", true},
		{"string", `"hello"`, false, false, "", true},
		{"array", `[{"type":"Create"}]`, false, false, "", true},
		{"truncated", `{"id":"https://a.example/1","type":"Cre`, false, false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Parse([]byte(tt.body))
			if tt.err {
				if err == nil {
					t.Fatalf("accepted %s", tt.body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Embedded != tt.embedded || in.Public != tt.public || in.ObjectID != tt.objectID || in.Peer != "a.example" {
				t.Fatalf("parsed %+v", in)
			}
		})
	}
}

func FuzzParseInbound(f *testing.F) {
	f.Add([]byte(`{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","to":["https://www.w3.org/ns/activitystreams#Public"],"object":{"id":"https://a.example/n/1","type":"Note","tag":[{"type":"Hashtag"}]}}`))
	f.Add([]byte(`{"id":"https://a.example/1","type":"Undo","actor":{"id":"https://a.example/u"},"object":{"type":"Follow","object":"https://www.w3.org/ns/activitystreams#Public"}}`))
	f.Add([]byte(`{"id":"https://a.example/1","type":["Create","x"],"actor":["https://a.example/u"],"object":[1,{"id":2}]}`))
	f.Add([]byte(`{"id":"https://a.example/1","type":"Create","actor":"https://a.example/u","object":"x","Actor":"https://b.example/u"}`))
	files, _ := filepath.Glob(filepath.Join("..", "relaytest", "testdata", "*", "*.json"))
	for _, p := range files { // what real servers send, placeholders left in
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := Parse(b)
		if err == nil && (in.ID == "" || in.Actor == "" || in.Peer == "") {
			t.Fatalf("accepted without id, actor or peer: %q", b)
		}
		if err != nil && !errors.Is(err, ErrNotActivity) && !errors.Is(err, errInvalidJSON) &&
			!errors.Is(err, errDuplicateKey) && !errors.Is(err, errTooDeep) {
			t.Fatalf("unclassified error %v", err)
		}
		if err == nil && checkJSONKeys(b) != nil {
			t.Fatalf("accepted a body whose parses may disagree: %q", b)
		}
	})
}
