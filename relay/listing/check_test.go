package listing

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testNow is the moment the testdata listings are checked at.
var testNow = time.Date(2025, 10, 8, 10, 0, 0, 0, time.UTC)

func load(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func check(t *testing.T, doc map[string]any) (*Listing, []Problem) {
	t.Helper()
	b, _ := json.Marshal(doc)
	return Check(b, Rules{Now: testNow})
}

func TestValidListings(t *testing.T) {
	tests := []struct {
		file     string
		kind     Kind
		products int
		regions  []string
	}{
		{"offer.json", Offer, 1, []string{"it-bg"}},
		{"request.json", Request, 1, []string{"it-mi", "it-bg"}},
		{"surplus.json", Surplus, 1, nil},
	}
	for _, tt := range tests {
		l, problems := check(t, load(t, tt.file))
		if len(problems) > 0 {
			t.Fatalf("%s: %v", tt.file, problems)
		}
		if l.Kind != tt.kind || len(l.Products) != tt.products || strings.Join(l.Regions, ",") != strings.Join(tt.regions, ",") ||
			l.End.IsZero() || l.Lat == nil || l.ID == "" || l.ActivityID == "" || l.Actor == "" {
			t.Errorf("%s parsed as %+v", tt.file, l)
		}
		b, _ := json.Marshal(load(t, tt.file))
		if !IsListing(b) {
			t.Errorf("%s: IsListing false", tt.file)
		}
	}
	// A bare Proposal, as FMP developers may check it, is a listing too.
	obj := load(t, "offer.json")["object"].(map[string]any)
	if _, problems := check(t, obj); len(problems) > 0 {
		t.Fatalf("bare Proposal: %v", problems)
	}
	if IsListing([]byte(`{"type":"Create","object":{"type":"Note"}}`)) {
		t.Error("a Note is not a listing")
	}
}

// setPath changes the value at a dotted path ("object.publishes.action"); a nil
// value deletes it.
func setPath(doc map[string]any, path string, v any) map[string]any {
	parts := strings.Split(path, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		m = m[p].(map[string]any)
	}
	if v == nil {
		delete(m, parts[len(parts)-1])
	} else {
		m[parts[len(parts)-1]] = v
	}
	return doc
}

func TestEachRule(t *testing.T) {
	q := func(unit, n string) map[string]any { return map[string]any{"hasUnit": unit, "hasNumericalValue": n} }
	tests := []struct {
		name, file, path string
		value            any
		wantPath, reason string
	}{
		{"no object id", "offer.json", "object.id", nil, "$.object.id", ReasonMissing},
		{"no activity id", "offer.json", "id", nil, "$.id", ReasonMissing},
		{"attributedTo differs", "offer.json", "object.attributedTo", "https://coop.example/actors/other", "$.object.attributedTo", ReasonActor},
		{"object on another host", "offer.json", "object.id", "https://elsewhere.example/p/1", "$.object.id", ReasonHost},
		{"activity on another host", "offer.json", "id", "https://elsewhere.example/a/1", "$.id", ReasonHost},
		{"no purpose", "offer.json", "object.purpose", nil, "$.object.purpose", ReasonMissing},
		{"bad purpose", "offer.json", "object.purpose", "barter", "$.object.purpose", ReasonPurpose},
		{"bad action", "offer.json", "object.publishes.action", "produce", "$.object.publishes.action", ReasonAction},
		{"provider not actor", "offer.json", "object.publishes.provider", "https://coop.example/actors/other", "$.object.publishes.provider", ReasonActor},
		{"receiver not actor", "request.json", "object.publishes.receiver", "https://canteens.example/actors/x", "$.object.publishes.receiver", ReasonActor},
		{"no product", "offer.json", "object.publishes.resourceConformsTo", nil, "$.object.publishes.resourceConformsTo", ReasonMissing},
		{"no quantity", "offer.json", "object.publishes.resourceQuantity", nil, "$.object.publishes.resourceQuantity", ReasonMissing},
		{"zero quantity", "offer.json", "object.publishes.resourceQuantity", q("kilogram", "0"), "$.object.publishes.resourceQuantity.hasNumericalValue", ReasonPositive},
		{"negative quantity", "offer.json", "object.publishes.resourceQuantity", q("kilogram", "-3"), "$.object.publishes.resourceQuantity.hasNumericalValue", ReasonDecimal},
		{"exponent", "offer.json", "object.publishes.resourceQuantity", q("kilogram", "1e9"), "$.object.publishes.resourceQuantity.hasNumericalValue", ReasonDecimal},
		{"unknown unit", "offer.json", "object.publishes.resourceQuantity", q("furlong", "3"), "$.object.publishes.resourceQuantity.hasUnit", ReasonUnit},
		{"available below minimum", "offer.json", "object.publishes.availableQuantity", q("kilogram", "5"), "$.object.publishes.availableQuantity", ReasonBelowMinimum},
		{"unknown currency", "offer.json", "object.reciprocal.resourceConformsTo", "https://www.wikidata.org/wiki/Q1", "$.object.reciprocal.resourceConformsTo", ReasonCurrency},
		{"price not positive", "offer.json", "object.reciprocal.resourceQuantity", q("one", "0.00"), "$.object.reciprocal.resourceQuantity.hasNumericalValue", ReasonPositive},
		{"start after end", "offer.json", "object.startTime", "2025-10-16T00:00:00Z", "$.object.startTime", ReasonTimeOrder},
		{"expired", "offer.json", "object.endTime", "2025-10-08T09:00:00Z", "$.object.endTime", ReasonExpired},
		{"beyond horizon", "offer.json", "object.endTime", "2026-03-01T00:00:00Z", "$.object.endTime", ReasonHorizon},
		{"surplus beyond its horizon", "surplus.json", "object.endTime", "2025-10-20T00:00:00Z", "$.object.endTime", ReasonHorizon},
		{"surplus without deadline", "surplus.json", "object.endTime", nil, "$.object.endTime", ReasonMissing},
		{"bad time", "offer.json", "object.endTime", "next Friday", "$.object.endTime", ReasonTime},
		{"latitude", "offer.json", "object.location.latitude", 91.5, "$.object.location.latitude", ReasonCoordinate},
		{"longitude", "offer.json", "object.location.longitude", -180.01, "$.object.location.longitude", ReasonCoordinate},
		{"long name", "offer.json", "object.name", strings.Repeat("x", 201), "$.object.name", ReasonTooLong},
		{"no name", "offer.json", "object.name", nil, "$.object.name", ReasonMissing},
		{"object not a Proposal", "offer.json", "object.type", "Note", "$.object.type", ReasonType},
		{"surplus request", "surplus.json", "object.purpose", "request", "$.object.publishes.resourceClassifiedAs", ReasonPurpose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, problems := check(t, setPath(load(t, tt.file), tt.path, tt.value))
			if l != nil {
				t.Fatalf("accepted: %+v", l)
			}
			for _, p := range problems {
				if p.Path == tt.wantPath && p.Reason == tt.reason && p.Message != "" {
					return
				}
			}
			t.Fatalf("want %s %s, got %v", tt.wantPath, tt.reason, problems)
		})
	}
}

func TestUnitsAndCurrenciesNormalised(t *testing.T) {
	doc := load(t, "offer.json")
	setPath(doc, "object.publishes.resourceQuantity", map[string]any{"hasUnit": "om2:kilogram", "hasNumericalValue": 10})
	setPath(doc, "object.reciprocal.resourceConformsTo", "http://www.wikidata.org/entity/Q4916")
	if _, problems := check(t, doc); len(problems) > 0 {
		t.Fatal(problems)
	}
}

func TestNotJSON(t *testing.T) {
	if _, problems := Check([]byte(`[1,2`), Rules{Now: testNow}); len(problems) != 1 || problems[0].Path != "$" {
		t.Fatalf("problems = %v", problems)
	}
}

func FuzzCheck(f *testing.F) {
	for _, n := range []string{"offer.json", "request.json", "surplus.json"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, problems := Check(b, Rules{Now: testNow})
		if (l == nil) == (len(problems) == 0) {
			t.Fatalf("listing %v with problems %v", l, problems)
		}
		for _, p := range problems {
			if !strings.HasPrefix(p.Path, "$") || p.Reason == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	doc, _ := os.ReadFile(filepath.Join("testdata", "offer.json"))
	r := Rules{Now: testNow}
	for b.Loop() {
		if _, p := Check(doc, r); p != nil {
			b.Fatal(p)
		}
	}
}

// docs/vocabulary.md shows the testdata examples, unchanged.
func TestVocabularyDocShowsTestdata(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "vocabulary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"offer.json", "request.json", "surplus.json"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		if !strings.Contains(string(doc), strings.TrimSpace(string(b))) {
			t.Errorf("docs/vocabulary.md does not show testdata/%s as it is", n)
		}
	}
}

// The context document is valid JSON and defines every term the examples use.
func TestContextDefinesTerms(t *testing.T) {
	var ctx struct {
		Context map[string]any `json:"@context"`
	}
	if err := json.Unmarshal([]byte(Context), &ctx); err != nil {
		t.Fatal(err)
	}
	for _, term := range []string{"Proposal", "Intent", "purpose", "publishes", "reciprocal", "action", "provider",
		"receiver", "resourceConformsTo", "resourceClassifiedAs", "resourceQuantity", "availableQuantity",
		"minimumQuantity", "hasUnit", "hasNumericalValue", "Surplus", "region", "unitBased"} {
		if _, ok := ctx.Context[term]; !ok {
			t.Errorf("context lacks %s", term)
		}
	}
	if ctx.Context["runrig"] != Namespace || ctx.Context["Surplus"] != "runrig:Surplus" {
		t.Errorf("namespace terms: %v %v", ctx.Context["runrig"], ctx.Context["Surplus"])
	}
}
