package relaytest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RepeatCatalog is a DFC catalog's @graph repeated n times, each copy's
// product IRIs and blank nodes renamed, under the context Open Food
// Network serves: a large catalog made of a real one.
func RepeatCatalog(doc []byte, n int) ([]byte, error) {
	var parsed struct {
		Graph []json.RawMessage `json:"@graph"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		return nil, err
	}
	var nodes []string
	for i := 0; i < n; i++ {
		r := strings.NewReplacer("SuppliedProducts/", fmt.Sprintf("SuppliedProducts/%d-", i), `"_:b`, fmt.Sprintf(`"_:c%d-`, i))
		for _, g := range parsed.Graph {
			nodes = append(nodes, r.Replace(string(g)))
		}
	}
	return []byte(`{"@context": "https://www.datafoodconsortium.org", "@graph": [` + strings.Join(nodes, ",") + `]}`), nil
}
