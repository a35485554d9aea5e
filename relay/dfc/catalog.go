// Package dfc reads and writes Data Food Consortium catalogs: the JSON-LD
// documents Open Food Network, LiteFarm and the Food Data Collaboration's
// shop connectors serve. [Read] turns a catalog into [Item]s, one per
// CatalogItem with its SuppliedProduct, Offer, Price and quantities,
// expanding every prefix through the document's contexts instead of
// matching spellings; [Write] serves listings back as a catalog.
package dfc

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Limits on an item's text, as listings bound them.
const (
	maxName        = 200
	maxDescription = 4000
)

// Catalog is what one DFC document offers.
type Catalog struct {
	// Enterprises are the enterprises (or organizations) it describes.
	Enterprises []Enterprise
	// Items are its catalog items that map to listings, in document order;
	// SoldOut those whose stock is zero.
	Items   []Item
	SoldOut []string
	// Problems are the items that could not be mapped.
	Problems []Problem
	// Products counts the supplied products described, offered or not.
	Products int
}

// Enterprise is a business that supplies products.
type Enterprise struct {
	ID, Name string
}

// Measure is a quantity in an OM 2 unit, e.g. {"0.4", "kilogram"}.
type Measure struct {
	Value string `json:"value"`
	Unit  string `json:"unit"`
}

// Price is an offer's price per item.
type Price struct {
	Value    string   `json:"value"`
	Currency Currency `json:"currency"`
}

// Item is one catalog item mapped: what a listing says of it.
type Item struct {
	// ID is the CatalogItem's IRI (or blank node id); Product the
	// SuppliedProduct's IRI; Enterprise the IRI of the enterprise that
	// manages or supplies it ("" when the catalog does not say).
	ID, Product, Enterprise string
	Name, Description       string
	Image, SKU, ProductType string
	// Quantity is how much one item holds.
	Quantity Measure
	// Stock is how many items are available; "" is unlimited.
	Stock string
	Price Price
}

// Problem is a catalog item that cannot be mapped, and why.
type Problem struct {
	Item    string `json:"item"`
	Field   string `json:"field"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	return p.Item + ": " + p.Field + ": " + p.Message + " (" + p.Reason + ")"
}

// Reasons an item is not mapped.
const (
	ReasonMissing   = "missing"
	ReasonAmbiguous = "ambiguous"
	ReasonDecimal   = "not_decimal"
	ReasonPositive  = "not_positive"
	ReasonUnit      = "unknown_unit"
	ReasonCurrency  = "unknown_currency"
	ReasonIRI       = "not_an_iri"
)

var decimalRE = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,9})?$`)

// Read reads a catalog document.
func Read(doc []byte) (*Catalog, error) {
	v, err := decode(doc)
	if err != nil {
		return nil, err
	}
	g, err := readGraph(v)
	if err != nil {
		return nil, err
	}
	c := &Catalog{Products: len(g.ofType("SuppliedProduct"))}
	items := g.ofType("CatalogItem")
	if len(items) == 0 && c.Products == 0 {
		// An error page, an empty answer or a vocabulary this reader does
		// not know: not a catalog that offers nothing. Taking it for one
		// would withdraw every listing.
		return nil, fmt.Errorf("%w: no DFC CatalogItem or SuppliedProduct in it", ErrDocument)
	}
	g.index("SuppliedProduct", "referencedBy")
	g.index("Offer", "offeredItem")
	managers := map[string]string{} // catalog item or product id → enterprise id
	for _, e := range g.ofType("Enterprise", "Organization") {
		name := clip(oneLine(Text(first(e.texts("name")))), maxName)
		c.Enterprises = append(c.Enterprises, Enterprise{ID: e.id, Name: name})
		for _, p := range append(e.iris("manages"), e.iris("supplies")...) {
			if _, ok := managers[p]; !ok {
				managers[p] = e.id
			}
		}
	}
	seen := map[string]bool{}
	for _, ci := range items {
		it, soldOut, prob := g.item(ci)
		switch {
		case prob != nil:
			prob.Item, prob.Message = printable(prob.Item), printable(prob.Message)
			c.Problems = append(c.Problems, *prob)
		case seen[it.ID]:
		case soldOut:
			c.SoldOut = append(c.SoldOut, it.ID)
		default:
			if by := ci.iris("managedBy"); len(by) == 1 {
				it.Enterprise = by[0]
			}
			if it.Enterprise == "" {
				it.Enterprise = managers[it.ID]
			}
			if it.Enterprise == "" {
				it.Enterprise = managers[it.Product]
			}
			c.Items = append(c.Items, it)
		}
		seen[it.ID] = true
	}
	return c, nil
}

// item maps one CatalogItem.
func (g *graph) item(ci *node) (Item, bool, *Problem) {
	it := Item{ID: ci.id}
	fail := func(field, reason, format string, args ...any) (Item, bool, *Problem) {
		return it, false, &Problem{Item: ci.id, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	if !isHTTP(ci.id) {
		return fail("@id", ReasonIRI, "a catalog item needs an http(s) IRI to be listed under")
	}
	products := g.refs(ci, "references")
	for _, p := range g.inverse["referencedBy"][ci.id] { // or the product names the item
		if !containsNode(products, p) {
			products = append(products, p)
		}
	}
	if len(products) != 1 {
		return fail("references", pick(len(products) == 0, ReasonMissing, ReasonAmbiguous),
			"a catalog item references one supplied product; this one references %d", len(products))
	}
	p := products[0]
	if !isHTTP(p.id) {
		return fail("references", ReasonIRI, "the supplied product has no http(s) IRI for listings to name")
	}
	it.Product = p.id
	var prob *Problem
	if it.Name, prob = g.single(ci, p, "name", true); prob != nil {
		return it, false, prob
	}
	it.Name = clip(oneLine(it.Name), maxName)
	desc, _ := g.single(ci, p, "description", false)
	it.Description = clip(Text(desc), maxDescription)
	it.Image, _ = g.single(ci, p, "image", false)
	if !isHTTP(it.Image) {
		it.Image = ""
	}
	it.SKU, _ = g.single(ci, ci, "sku", false)
	if t := p.iris("hasType"); len(t) == 1 && isHTTP(t[0]) {
		it.ProductType = t[0]
	}
	if it.Quantity, prob = g.quantity(ci, p); prob != nil {
		return it, false, prob
	}
	offers := g.refs(ci, "offeredThrough")
	for _, o := range g.inverse["offeredItem"][ci.id] { // or the offer names the item
		if !containsNode(offers, o) {
			offers = append(offers, o)
		}
	}
	sort.Slice(offers, func(i, j int) bool { return offers[i].id < offers[j].id })
	if len(offers) == 0 {
		return fail("offeredThrough", ReasonMissing, "the catalog item has no offer")
	}
	if it.Price, prob = g.price(ci, offers[0]); prob != nil {
		return it, false, prob
	}
	stock, _ := g.single(ci, offers[0], "stockLimitation", false)
	if stock == "" {
		stock, _ = g.single(ci, ci, "stockLimitation", false)
	}
	switch stock = strings.TrimSpace(stock); {
	case stock == "" || stock == "-1":
	case !decimalRE.MatchString(stock):
		return fail("stockLimitation", ReasonDecimal, "stockLimitation %q is not -1 or a decimal", trunc(stock))
	case strings.Trim(stock, "0.") == "":
		return it, true, nil
	default:
		it.Stock = stock
	}
	return it, false, nil
}

// single reads a property that must have at most one text value, from n.
func (g *graph) single(ci, n *node, local string, required bool) (string, *Problem) {
	vs := n.texts(local)
	switch {
	case len(vs) > 1:
		return "", &Problem{Item: ci.id, Field: local, Reason: ReasonAmbiguous, Message: fmt.Sprintf("%s is given %d times", local, len(vs))}
	case len(vs) == 0 && required:
		return "", &Problem{Item: ci.id, Field: local, Reason: ReasonMissing, Message: local + " is required"}
	case len(vs) == 0:
		return "", nil
	}
	return strings.TrimSpace(vs[0]), nil
}

// quantity reads what one item holds (the product's hasQuantity); a
// product without one is sold by the piece.
func (g *graph) quantity(ci, p *node) (Measure, *Problem) {
	qs := g.refs(p, "hasQuantity")
	if len(qs) == 0 {
		return Measure{Value: "1", Unit: "one"}, nil
	}
	if len(qs) > 1 {
		return Measure{}, &Problem{Item: ci.id, Field: "hasQuantity", Reason: ReasonAmbiguous, Message: "the product has more than one quantity"}
	}
	return g.measure(ci, qs[0], "hasQuantity", func(u string) (string, string, bool) { return u, "", true })
}

// price reads an offer's price.
func (g *graph) price(ci, o *node) (Price, *Problem) {
	ps := g.refs(o, "hasPrice")
	if len(ps) != 1 {
		return Price{}, &Problem{Item: ci.id, Field: "hasPrice", Reason: pick(len(ps) == 0, ReasonMissing, ReasonAmbiguous),
			Message: fmt.Sprintf("an offer has one price; this one has %d", len(ps))}
	}
	var cur Currency
	m, prob := g.measure(ci, ps[0], "hasPrice", func(u string) (string, string, bool) {
		c, ok := CurrencyOf(u)
		cur = c
		return c.ISO4217, "", ok
	})
	if prob != nil && prob.Reason == ReasonUnit {
		prob.Reason, prob.Message = ReasonCurrency, strings.Replace(prob.Message, "unit", "currency", 1)
	}
	return Price{Value: m.Value, Currency: cur}, prob
}

// measure reads {value, hasUnit}: a positive decimal in a known unit.
// known maps the unit IRI; for quantities the DFC unit is mapped to OM 2.
func (g *graph) measure(ci, q *node, field string, known func(string) (string, string, bool)) (Measure, *Problem) {
	bad := func(reason, format string, args ...any) (Measure, *Problem) {
		return Measure{}, &Problem{Item: ci.id, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	val, prob := g.single(ci, q, "value", true)
	if prob != nil {
		prob.Field = field + ".value"
		return Measure{}, prob
	}
	units := q.iris("hasUnit")
	if len(units) != 1 {
		return bad(ReasonUnit, "%s needs one unit", field)
	}
	if !decimalRE.MatchString(val) {
		return bad(ReasonDecimal, "%s value %q is not a plain decimal", field, trunc(val))
	}
	if strings.Trim(val, "0.") == "" {
		return bad(ReasonPositive, "%s must be positive, got %s", field, val)
	}
	if field == "hasQuantity" {
		om2, v, ok := om2Of(units[0], val)
		if !ok {
			return bad(ReasonUnit, "unknown unit %s", trunc(units[0]))
		}
		return Measure{Value: v, Unit: om2}, nil
	}
	name, _, ok := known(units[0])
	if !ok {
		return bad(ReasonUnit, "unknown unit %s", trunc(units[0]))
	}
	return Measure{Value: val, Unit: name}, nil
}

// printable is s, bounded, with control characters (terminal escapes)
// shown as U+FFFD: problem reports quote what a catalog said.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, clip(s, 300))
}

func isHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsNode(list []*node, n *node) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// ReadEnterprise reads the name of the enterprise id from its document
// (what OFN serves at the IRI a catalog item is managedBy).
func ReadEnterprise(doc []byte, id string) (Enterprise, error) {
	v, err := decode(doc)
	if err != nil {
		return Enterprise{}, err
	}
	g, err := readGraph(v)
	if err != nil {
		return Enterprise{}, err
	}
	n := g.nodes[id]
	if n == nil || !(n.is("Enterprise") || n.is("Organization")) {
		return Enterprise{}, fmt.Errorf("%w: no Enterprise %s in it", ErrDocument, trunc(id))
	}
	return Enterprise{ID: id, Name: clip(oneLine(Text(first(n.texts("name")))), maxName)}, nil
}
