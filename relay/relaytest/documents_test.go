package relaytest

import (
	"encoding/json"
	"io/fs"
	"path"
	"strings"
	"testing"
)

// Every document renders to JSON with every placeholder filled and names
// its software's type where it has one.
func TestDocumentsRender(t *testing.T) {
	all := Vars{}
	for _, k := range []string{"ORIGIN", "HOST", "PUBLIC_KEY_PEM", "RELAY_ACTOR", "ID", "OBJECT_ID", "ACTOR",
		"CONTENT", "PUBLISHED", "FOLLOW_ID", "FOLLOW_ACTOR", "SIGNATURE", "USER"} {
		all[k] = "x\"\n" + k // escaping is checked too
	}
	files, err := fs.Glob(documents, "testdata/*/*.json")
	if err != nil || len(files) < 40 {
		t.Fatalf("documents: %d files, %v", len(files), err)
	}
	for _, f := range files {
		kind, name := path.Base(path.Dir(f)), strings.TrimSuffix(path.Base(f), ".json")
		b, err := Document(Kind(kind), name, all)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := Document(Mastodon, "follow", Vars{"ORIGIN": "o"}); err == nil {
		t.Error("a placeholder without a value was left in")
	}
}

// The GoToSocial stand-in serves what the real one does: its key id has no
// fragment, and at it a minimal actor without inbox.
func TestGoToSocialServesMinimalKeyDocument(t *testing.T) {
	in, err := New(GoToSocial, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if strings.Contains(in.KeyID, "#") || in.KeyID != in.ActorID+"/main-key" {
		t.Fatalf("key id %q for actor %q", in.KeyID, in.ActorID)
	}
	resp, err := in.client.Get(in.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	if doc["id"] != in.ActorID || doc["inbox"] != nil || doc["publicKey"] == nil {
		t.Fatalf("key document = %v", doc)
	}
}
