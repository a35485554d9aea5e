package dfc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const fdcContext = `"@context" : "https://www.datafoodconsortium.org"`

// fdcItem is what the FDC fixture's items map to: the six with a positive
// quantity (the two Dulse Flakes weigh "0" kg and are refused).
var fdcItems = map[string]struct {
	name, qty, unit, stock, price string
}{
	"LIB/NABVI/BF": {"Apple Balsamic Vinegar - Retail bottle, 40ml", "0.04", "kilogram", "", "6.25"},
	"LIB/NABVI/C6": {"Apple Balsamic Vinegar - Case, 6 x 40ml", "0.24", "kilogram", "5", "30.20"},
	"NCBB/T4":      {"Baked British Beans - Retail can, 400g (can)", "0.4", "kilogram", "", "2.09"},
	"NCBB/CD":      {"Baked British Beans - Case, 12 x 400g (can)", "4.8", "kilogram", "", "18.85"},
	"OGCH/R3":      {"Chia Seed, Organic - Retail pack, 300g", "0.3", "kilogram", "", "3.99"},
	"OGCH/C8":      {"Chia Seed, Organic - Case, 8 x 300g", "2.4", "kilogram", "", "23.95"},
}

func checkFDC(t *testing.T, c *Catalog) {
	t.Helper()
	if len(c.Items) != len(fdcItems) || len(c.Problems) != 2 || c.Products != 8 {
		t.Fatalf("items %d, problems %v, products %d; want 6, 2, 8", len(c.Items), c.Problems, c.Products)
	}
	for _, it := range c.Items {
		want, ok := fdcItems[it.SKU]
		if !ok {
			t.Fatalf("unexpected item %s (%s)", it.ID, it.SKU)
		}
		got := [5]string{it.Name, it.Quantity.Value, it.Quantity.Unit, it.Stock, it.Price.Value}
		if got != [5]string{want.name, want.qty, want.unit, want.stock, want.price} {
			t.Errorf("%s: got %q, want %+v", it.SKU, got, want)
		}
		if it.Price.Currency.ISO4217 != "GBP" || !strings.HasPrefix(it.Product, "https://env-0105831.") ||
			!strings.HasPrefix(it.Image, "https://cdn.shopify.com/") {
			t.Errorf("%s: currency %s, product %s, image %s", it.SKU, it.Price.Currency.ISO4217, it.Product, it.Image)
		}
		if strings.ContainsAny(it.Description, "<>") || it.Description == "" {
			t.Errorf("%s: description not stripped to text: %.80q", it.SKU, it.Description)
		}
	}
	for _, p := range c.Problems {
		if p.Reason != ReasonPositive || p.Field != "hasQuantity" {
			t.Errorf("problem %v; want the zero quantity refused", p)
		}
	}
}

func TestReadFDCCatalog(t *testing.T) {
	c, err := Read([]byte(fixture(t, "fdc-catalog.json")))
	if err != nil {
		t.Fatal(err)
	}
	checkFDC(t, c)
}

// TestContextForms reads the same catalog under every context form DFC
// platforms serve, and under inline contexts that spell the prefixes
// otherwise: terms are compared expanded, so all read the same, and a
// prefix bound to another vocabulary reads as nothing.
func TestContextForms(t *testing.T) {
	doc := fixture(t, "fdc-catalog.json")
	if !strings.Contains(doc, fdcContext) {
		t.Fatal("fixture changed: no context line")
	}
	with := func(ctx string) string { return strings.Replace(doc, fdcContext, `"@context": `+ctx, 1) }
	renamed := strings.NewReplacer(`"dfc-b:`, `"b:`, `"dfc-m:`, `"m:`).Replace(doc)
	cases := []struct {
		name string
		doc  string
		want int // items; -1: checkFDC
	}{
		{"ofn application/json", with(`"https://w3id.org/dfc/ontology/context/context_1.16.0.json"`), -1},
		{"ofn dfc-v2", doc, -1},
		{"litefarm 2.0.0", with(`"https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context_2.0.0.jsonld"`), -1},
		{"in a list", with(`["https://www.datafoodconsortium.org", {"x": "https://example.org/x#"}]`), -1},
		{"legacy namespaces inline", with(`{"dfc-b": "http://static.datafoodconsortium.org/ontologies/DFC_BusinessOntology.owl#",
			"dfc-m": "http://static.datafoodconsortium.org/data/measures.rdf#", "dfc-b:hasUnit": {"@type": "@id"},
			"dfc-b:hasQuantity": {"@type": "@id"}, "dfc-b:referencedBy": {"@type": "@id"}, "dfc-b:offeredThrough": {"@type": "@id"}}`), -1},
		{"other prefix names", strings.Replace(renamed, fdcContext, `"@context": {"b": "`+BusinessNS+`", "m": "`+MeasuresNS+`",
			"b:hasUnit": {"@type": "@id"}, "b:hasQuantity": {"@type": "@id"}}`, 1), -1},
		// Bound elsewhere, the terms name nothing of DFC: no catalog at all.
		{"prefix bound elsewhere", with(`{"dfc-b": "https://example.org/not-dfc#", "dfc-m": "` + MeasuresNS + `"}`), 0},
		// Prefixes defined through each other resolve whatever the order.
		{"prefixes defined through each other", strings.Replace(renamed, fdcContext, `"@context": {"b": "x:", "x": "z:",
			"z": "`+BusinessNS+`", "m": "`+MeasuresNS+`", "b:hasUnit": {"@type": "@id"}}`, 1), -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Read([]byte(tc.doc))
			if tc.want == 0 {
				if !errors.Is(err, ErrDocument) {
					t.Fatalf("err %v; want the document refused as no catalog", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want < 0 {
				checkFDC(t, c)
			} else if len(c.Items)+len(c.Problems) != tc.want {
				t.Fatalf("read %d items and %d problems; want %d", len(c.Items), len(c.Problems), tc.want)
			}
		})
	}
}

// TestBlankNodeReferences: a blank node is followed whether named by a
// plain string or by {"@id"}.
func TestBlankNodeReferences(t *testing.T) {
	doc := fixture(t, "fdc-catalog.json")
	swapped := strings.NewReplacer(
		`"dfc-b:hasQuantity" : "_:b1097"`, `"dfc-b:hasQuantity" : {"@id": "_:b1097"}`,
		`"dfc-b:hasPrice" : {
            "@id" : "_:b1098"
         }`, `"dfc-b:hasPrice" : "_:b1098"`).Replace(doc)
	if swapped == doc || strings.Count(swapped, `{"@id": "_:b1097"}`) != 1 || strings.Count(swapped, `"dfc-b:hasPrice" : "_:b1098"`) != 1 {
		t.Fatal("fixture changed: references not found")
	}
	c, err := Read([]byte(swapped))
	if err != nil {
		t.Fatal(err)
	}
	checkFDC(t, c)
}

// TestMalformedItems: a bad item is reported with its reason and the rest
// still read; a bad document is refused whole.
func TestMalformedItems(t *testing.T) {
	doc := fixture(t, "fdc-catalog.json")
	cases := []struct {
		name, old, new string
		reason         string // the problem the NCBB/T4 item gets; "" when the document is refused
		err            error
	}{
		{"price not a number", `"dfc-b:value" : "2.09"`, `"dfc-b:value" : "two"`, ReasonDecimal, nil},
		{"unknown currency", `"dfc-b:hasUnit" : "dfc-m:PoundSterling",
         "dfc-b:value" : "2.09"`, `"dfc-b:hasUnit" : "dfc-m:Doubloon",
         "dfc-b:value" : "2.09"`, ReasonCurrency, nil},
		{"unknown unit", `"dfc-b:hasUnit" : "dfc-m:Kilogram",
         "dfc-b:value" : "0.4"`, `"dfc-b:hasUnit" : "dfc-m:Furlong",
         "dfc-b:value" : "0.4"`, ReasonUnit, nil},
		{"no offer", `"dfc-b:offeredThrough" : "https://env-0105831.jcloud-ver-jpe.ik-server.com/api/dfc/Enterprises/test-hodmedod/SuppliedProducts/44519466467635/Offer",`, ``, ReasonMissing, nil},
		{"stock not a number", `"dfc-b:sku" : "NCBB/T4",
         "dfc-b:stockLimitation" : "-1"`, `"dfc-b:sku" : "NCBB/T4",
         "dfc-b:stockLimitation" : "lots"`, ReasonDecimal, nil},
		{"unknown remote context", fdcContext, `"@context": "https://evil.example/context.json"`, "", ErrContext},
		{"not JSON", `"@graph"`, `"@graph" ,`, "", ErrDocument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(doc, tc.old, tc.new, 1)
			if bad == doc {
				t.Fatal("fixture changed: text to edit not found")
			}
			c, err := Read([]byte(bad))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v; want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range c.Problems {
				if strings.HasSuffix(p.Item, "44519466467635/CatalogItem") {
					found = p.Reason == tc.reason
					if !found {
						t.Errorf("problem %v; want reason %s", p, tc.reason)
					}
				}
			}
			if !found || len(c.Items) != 5 {
				t.Fatalf("items %d, problems %v; want 5 items and NCBB/T4 refused (%s)", len(c.Items), c.Problems, tc.reason)
			}
		})
	}
}

func TestDuplicateKeysRefused(t *testing.T) {
	doc := strings.Replace(fixture(t, "fdc-catalog.json"), `"dfc-b:value" : "2.09"`, `"dfc-b:value" : "2.09", "dfc-b:value" : "0.01"`, 1)
	if _, err := Read([]byte(doc)); !errors.Is(err, ErrDocument) || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("err %v; want a duplicate key refused", err)
	}
}

func TestSoldOut(t *testing.T) {
	doc := strings.Replace(fixture(t, "fdc-catalog.json"), `"dfc-b:stockLimitation" : "5"`, `"dfc-b:stockLimitation" : "0"`, 1)
	c, err := Read([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SoldOut) != 1 || !strings.HasSuffix(c.SoldOut[0], "44519466271027/CatalogItem") || len(c.Items) != 5 {
		t.Fatalf("sold out %v, items %d", c.SoldOut, len(c.Items))
	}
}

func TestLiteFarmEnterprises(t *testing.T) {
	c, err := Read([]byte(fixture(t, "litefarm_v2.json")))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range c.Enterprises {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ", "); got != "Happy Acres Farm, Willow Creek Dairy, Sunrise Orchard" || c.Products != 3 || len(c.Items) != 0 {
		t.Fatalf("enterprises %q, products %d, items %d", got, c.Products, len(c.Items))
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<p>Apples &amp; pears</p><p>Dorset<br>UK</p>`, "Apples & pears\nDorset\nUK"},
		{`<script>alert(1)</script>Plain <b>bold</b>`, "Plain bold"},
		{`<style>p{}</style><table><tr><td>a</td><td>b</td></tr></table>`, "a b"},
		{`<img src=x onerror=alert(1)>&lt;script&gt;`, "<script>"},
		{"Beans\x1b]0;owned\x07 and\u0085 peas", "Beans]0;owned and peas"},
		{"", ""},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestNotACatalog: what is not a catalog is refused whole, never read as
// a catalog that offers nothing (which would withdraw every listing), and
// documents that would cost the reader too much are refused early.
func TestNotACatalog(t *testing.T) {
	ctx := `"@context": "https://www.datafoodconsortium.org"`
	many := func(n int, node string) string {
		return `{` + ctx + `, "@graph": [` + strings.TrimSuffix(strings.Repeat(node+",", n), ",") + `]}`
	}
	bigContext := `{"@context": {` + strings.TrimSuffix(strings.Repeat(`"t": "https://x.example/",`, 1), ",")
	for i := 0; i < 1001; i++ {
		bigContext += fmt.Sprintf(`, "t%d": "https://x.example/%d"`, i, i)
	}
	bigContext += `}, "@type": "dfc-b:CatalogItem"}`
	cases := map[string]string{
		"empty object":         `{}`,
		"empty list":           `[]`,
		"an error answer":      `{"error": "database maintenance"}`,
		"an empty graph":       `{` + ctx + `, "@graph": []}`,
		"data after it":        `{` + ctx + `, "@graph": []} <html>`,
		"too many values":      `[` + strings.TrimSuffix(strings.Repeat(`{"":0},`, maxValues), ",") + `]`,
		"too many contexts":    many(maxContexts+1, `{"@context": {"x": "https://x.example/"}, "@type": "dfc-b:SuppliedProduct"}`),
		"a context too large":  bigContext,
		"a reserved blank id":  many(1, `{"@id": "`+blankPrefix+`1", "@type": "dfc-b:SuppliedProduct"}`),
		"a reserved reference": many(1, `{"@type": "dfc-b:CatalogItem", "dfc-b:references": {"@id": "`+blankPrefix+`1"}}`),
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if c, err := Read([]byte(doc)); !errors.Is(err, ErrDocument) {
				t.Fatalf("read %+v, %v; want ErrDocument", c, err)
			}
		})
	}
	// Empty contexts on nodes cost nothing and count for nothing.
	if _, err := Read([]byte(many(maxContexts*3, `{"@context": {}, "@type": "dfc-b:SuppliedProduct"}`))); err != nil {
		t.Fatalf("empty node contexts: %v", err)
	}
}

// TestUntrustedText: an enterprise's name is text on one line, bounded;
// problem reports carry no control characters (terminal escapes).
func TestUntrustedText(t *testing.T) {
	doc := `{"@context": "https://www.datafoodconsortium.org", "@graph": [
		{"@id": "https://farm.example/e", "@type": "dfc-b:Enterprise", "dfc-b:name": "<script>x</script>Happy\nAcres\u001b[31m ` + strings.Repeat("a", 300) + `"},
		{"@id": "x:\u001b]0;owned\u0007\u001b[2J", "@type": "dfc-b:CatalogItem"}]}`
	c, err := Read([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	name := c.Enterprises[0].Name
	if !strings.HasPrefix(name, "Happy Acres[31m aaa") || strings.ContainsAny(name, "<>\n\x1b") || len([]rune(name)) > maxName {
		t.Errorf("enterprise name %q", name)
	}
	if len(c.Problems) != 1 || strings.ContainsAny(c.Problems[0].Item, "\x1b\x07") {
		t.Errorf("problems %q", c.Problems)
	}
}

// TestOFNCatalogItems reads the answers OFN's API description gives for
// an enterprise's catalog items, in both forms: its one item has a stock
// of 0 (a JSON number), so it is not offered; with stock it maps to 1 g of
// apple at 19.99 AUD, managed by the enterprise.
func TestOFNCatalogItems(t *testing.T) {
	const item = "http://test.host/api/dfc/enterprises/10000/catalog_items/10001"
	for _, name := range []string{"ofn-catalog-items.json", "ofn-catalog-items-v2.json"} {
		t.Run(name, func(t *testing.T) {
			doc := fixture(t, name)
			c, err := Read([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Items) != 0 || len(c.SoldOut) != 1 || c.SoldOut[0] != item || c.Products != 2 {
				t.Fatalf("items %+v, sold out %v, products %d", c.Items, c.SoldOut, c.Products)
			}
			stocked := strings.ReplaceAll(doc, `"dfc-b:stockLimitation": 0`, `"dfc-b:stockLimitation": 5`)
			if c, err = Read([]byte(stocked)); err != nil || len(c.Items) != 1 {
				t.Fatalf("with stock: %+v %v", c, err)
			}
			it := c.Items[0]
			got := [6]string{it.Name, it.Quantity.Value, it.Quantity.Unit, it.Stock, it.Price.Value, it.Price.Currency.ISO4217}
			if got != [6]string{"Apple - 1g", "1.0", "gram", "5", "19.99", "AUD"} || it.Description != "Red" || it.SKU != "AR" {
				t.Errorf("item %+v", it)
			}
			if strings.Contains(doc, "managedBy") && it.Enterprise != "http://test.host/api/dfc/enterprises/10000" {
				t.Errorf("enterprise %q", it.Enterprise)
			}
		})
	}
}

func TestReadEnterprise(t *testing.T) {
	doc := []byte(fixture(t, "ofn-enterprise.json"))
	e, err := ReadEnterprise(doc, "http://test.host/api/dfc/enterprises/10000")
	if err != nil || e.Name != "Fred's Farm" {
		t.Fatalf("%+v %v", e, err)
	}
	if _, err := ReadEnterprise(doc, "http://test.host/api/dfc/enterprises/1"); !errors.Is(err, ErrDocument) {
		t.Fatalf("another enterprise: %v", err)
	}
}
