package relaytest

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// documents holds, per software, the documents real servers serve and
// send to a relay, as templates; testdata/SOURCES.md says where each comes
// from (a live capture or that software's own source and fixtures).
//
//go:embed testdata/*/*.json
var documents embed.FS

// Vars are the values of a template's placeholders ({{ORIGIN}}, {{ID}},
// ...), without the braces. Values are JSON-escaped into the strings that
// hold them.
type Vars map[string]string

var placeholder = regexp.MustCompile(`\{\{[A-Z_]+\}\}`)

// Document renders kind's document name (e.g. "follow", "instance-actor")
// with vars. Every placeholder in it must have a value.
func Document(kind Kind, name string, vars Vars) ([]byte, error) {
	tmpl, err := documents.ReadFile("testdata/" + string(kind) + "/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("relaytest: no %s document %q: %w", kind, name, err)
	}
	var missing []string
	out := placeholder.ReplaceAllStringFunc(string(tmpl), func(p string) string {
		v, ok := vars[strings.Trim(p, "{}")]
		if !ok {
			missing = append(missing, p)
			return p
		}
		b, _ := json.Marshal(v)
		return string(b[1 : len(b)-1])
	})
	if missing != nil {
		return nil, fmt.Errorf("relaytest: %s %s: no value for %v", kind, name, missing)
	}
	if !json.Valid([]byte(out)) {
		return nil, fmt.Errorf("relaytest: %s %s: rendered document is not JSON", kind, name)
	}
	return []byte(out), nil
}

// mustDocument is Document for templates the package itself names; a
// failure is a bug in testdata.
func mustDocument(kind Kind, name string, vars Vars) []byte {
	b, err := Document(kind, name, vars)
	if err != nil {
		panic(err)
	}
	return b
}

// decode parses a rendered document into a map.
func decode(b []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}
