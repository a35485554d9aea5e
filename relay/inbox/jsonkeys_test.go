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
