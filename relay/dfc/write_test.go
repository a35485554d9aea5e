package dfc

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/piprate/json-gold/ld"
)

// TestWriteRoundTrip writes the FDC catalog's items as a catalog, expands
// it with a JSON-LD processor (json-gold) to check it says what DFC means,
// and reads it back to the same items.
func TestWriteRoundTrip(t *testing.T) {
	src, err := Read([]byte(fixture(t, "fdc-catalog.json")))
	if err != nil {
		t.Fatal(err)
	}
	var offerings []Offering
	for i, it := range src.Items {
		it.ID = "https://relay.example/bridges/hodmedod/listings/" + strconv.Itoa(i)
		offerings = append(offerings, Offering{ID: it.ID, Actor: "https://relay.example/actors/bridge-hodmedod",
			ActorName: "Hodmedod", Describes: true, Item: it})
	}
	doc, err := Write(offerings)
	if err != nil {
		t.Fatal(err)
	}

	var parsed any
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	expanded, err := ld.NewJsonLdProcessor().Expand(parsed, ld.NewJsonLdOptions(""))
	if err != nil {
		t.Fatalf("json-gold cannot expand the catalog: %v", err)
	}
	types := map[string]int{}
	var prices []string
	for _, n := range expanded {
		node := n.(map[string]any)
		for _, typ := range node["@type"].([]any) {
			types[typ.(string)]++
		}
		if v, ok := node[BusinessNS+"value"].([]any); ok && hasType(node, BusinessNS+"Price") {
			prices = append(prices, v[0].(map[string]any)["@value"].(string))
			unit := node[BusinessNS+"hasUnit"].([]any)[0].(map[string]any)["@id"]
			if unit != MeasuresNS+"PoundSterling" {
				t.Errorf("price unit expands to %v", unit)
			}
		}
	}
	for _, typ := range []string{"CatalogItem", "Offer", "SuppliedProduct", "Price"} {
		if types[BusinessNS+typ] != 6 {
			t.Errorf("%d %s nodes after expansion; want 6 (%v)", types[BusinessNS+typ], typ, types)
		}
	}
	if types[BusinessNS+"Enterprise"] != 1 || len(prices) != 6 {
		t.Errorf("enterprises %d, prices %v", types[BusinessNS+"Enterprise"], prices)
	}

	back, err := Read(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Problems) != 0 || len(back.Enterprises) != 1 || back.Enterprises[0].Name != "Hodmedod" {
		t.Fatalf("problems %v, enterprises %v", back.Problems, back.Enterprises)
	}
	for i := range back.Items {
		back.Items[i].Enterprise = "" // the source names none
	}
	want := itemsOf(offerings)
	if len(back.Items) != len(want) {
		t.Fatalf("read back %d items; want %d", len(back.Items), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(back.Items[i], want[i]) {
			t.Errorf("round trip changed item %d:\n got %#v\nwant %#v", i, back.Items[i], want[i])
		}
	}
}

func hasType(node map[string]any, typ string) bool {
	for _, t := range node["@type"].([]any) {
		if t == typ {
			return true
		}
	}
	return false
}

func itemsOf(os []Offering) []Item {
	var out []Item
	for _, o := range os {
		out = append(out, o.Item)
	}
	return out
}

// TestWriteOthersClaims: an author that may not describe a product (not
// a bridge, not on the product's host) has its description written under
// its listing's IRI, naming the product it claims with rdfs:seeAlso; the
// product's own node is left to who may describe it.
func TestWriteOthersClaims(t *testing.T) {
	mk := func(id, actor, name string, describes bool) Offering {
		return Offering{ID: id, Actor: actor, ActorName: actor, Describes: describes, Item: Item{
			Product: "https://ofn.example/products/1", Name: name, Quantity: Measure{"1", "kilogram"},
			Price: Price{"2", Currency{"Euro", "EUR", "https://www.wikidata.org/wiki/Q4916"}}}}
	}
	doc, err := Write([]Offering{
		mk("https://evil.example/l/1", "https://evil.example/a", "FAKE", false),
		mk("https://relay.example/bridges/b/listings/1", "https://relay.example/actors/bridge-b", "Beans", true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Graph []map[string]any `json:"@graph"`
	}
	json.Unmarshal(doc, &out)
	names := map[string]any{}
	for _, n := range out.Graph {
		if n["@type"] == "dfc-b:SuppliedProduct" {
			names[n["@id"].(string)] = n["dfc-b:name"]
		}
	}
	if names["https://ofn.example/products/1"] != "Beans" || names["https://evil.example/l/1#product"] != "FAKE" || len(names) != 2 {
		t.Fatalf("products %v", names)
	}
}
