package inbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckJSONKeys(t *testing.T) {
	for _, tc := range []struct {
		body string
		want error
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, nil},
		{`{"a":1,"a":2}`, errDuplicateKey},
		{`{"b":{"x":1,"x":1}}`, errDuplicateKey},
		{`{"c":[{"y":1,"Y":2}]}`, errDuplicateKey},
		{`{"id":1,"\u0069d":2}`, errDuplicateKey},
		{strings.Repeat(`[`, maxJSONDepth+1) + strings.Repeat(`]`, maxJSONDepth+1), errTooDeep},
		{strings.Repeat(`[`, maxJSONDepth) + strings.Repeat(`]`, maxJSONDepth), nil},
		{`{"a":1} {"a":2}`, errInvalidJSON},
		{`{"a":`, errInvalidJSON},
		// JSON-LD terms differ by case alone (Fedify's and GoToSocial's
		// contexts): inside @context only exact duplicates are refused.
		{`{"@context":["https://www.w3.org/ns/activitystreams",{"QuoteAuthorization":"https://w3id.org/fep/044f#QuoteAuthorization",` +
			`"quoteAuthorization":{"@id":"https://w3id.org/fep/044f#quoteAuthorization","@type":"@id"}}],"id":"x"}`, nil},
		{`{"@context":{"a":1,"a":2}}`, errDuplicateKey},
		{`{"@context":{"a":{"b":1,"b":2}}}`, errDuplicateKey},
		{`{"@context":{"Id":1,"id":2},"ID":1,"id":2}`, errDuplicateKey},
		{`{"object":{"@context":{"X":1,"x":2},"Type":1,"type":2}}`, errDuplicateKey},
	} {
		if err := checkJSONKeys([]byte(tc.body)); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("checkJSONKeys(%.40s) = %v, want %v", tc.body, err, tc.want)
		}
	}
}

// What real servers send passes: their documents name no key twice, not
// even in their JSON-LD contexts, and not in case-insensitive terms.
func TestRealDocumentsHaveUniqueKeys(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "relaytest", "testdata", "*", "*.json"))
	if len(files) < 40 {
		t.Fatalf("only %d real documents found", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkJSONKeys(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
