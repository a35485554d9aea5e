package dfc

import (
	"encoding/json"
	"html"
	"math/big"
	"strings"
	"time"
)

// Public is the ActivityStreams public collection.
const Public = "https://www.w3.org/ns/activitystreams#Public"

// ListingOf says how an item is listed: by whom, under which IRI, as what.
type ListingOf struct {
	// Context is the listing's @context: ActivityStreams and the relay's /ns.
	Context []string
	// Actor is the bridge's actor; ID the listing's IRI.
	Actor, ID string
	// Surplus lists the item as surplus (classified with SurplusIRI).
	Surplus    bool
	SurplusIRI string
	// Region, when set, is the region code the listing is for.
	Region string
	// Published is when it was first listed; Updated when last changed
	// (zero for the first version); End when it lapses unless renewed.
	Published, Updated, End time.Time
}

// Proposal is an item as an FEP-0837 Proposal: an offer whose primary
// intent conforms to the SuppliedProduct (and its product type), holds
// the item's quantity and the stock available, and whose reciprocal intent
// is the price in the currency, named by its ISO 4217 code's IRI and its
// Wikidata item.
func Proposal(it Item, l ListingOf) map[string]any {
	primary := map[string]any{
		"id": l.ID + "#primary", "type": "Intent", "action": "transfer", "provider": l.Actor,
		"resourceConformsTo": conforms(it),
		"resourceQuantity":   quantity(it.Quantity.Unit, it.Quantity.Value),
	}
	if it.Stock != "" {
		if avail, ok := times(it.Stock, it.Quantity.Value); ok {
			primary["availableQuantity"] = quantity(it.Quantity.Unit, avail)
		}
	}
	if l.Surplus {
		primary["resourceClassifiedAs"] = l.SurplusIRI
	}
	p := map[string]any{
		"@context": l.Context, "id": l.ID, "type": "Proposal", "purpose": "offer", "unitBased": true,
		"attributedTo": l.Actor, "name": it.Name, "to": []string{Public},
		"published": l.Published.UTC().Format(time.RFC3339), "endTime": l.End.UTC().Format(time.RFC3339),
		"publishes": primary,
		"reciprocal": map[string]any{
			"id": l.ID + "#reciprocal", "type": "Intent", "action": "transfer", "receiver": l.Actor,
			"resourceConformsTo": []string{it.Price.Currency.IRI(), it.Price.Currency.Wikidata},
			"resourceQuantity":   quantity("one", it.Price.Value),
		},
	}
	if !l.Updated.IsZero() {
		p["updated"] = l.Updated.UTC().Format(time.RFC3339)
	}
	if it.Description != "" {
		p["content"] = paragraphs(it.Description)
	}
	if it.Image != "" {
		p["image"] = map[string]any{"type": "Image", "url": it.Image}
	}
	if l.Region != "" {
		p["region"] = []string{l.Region}
	}
	return p
}

func conforms(it Item) any {
	if it.ProductType != "" {
		return []string{it.Product, it.ProductType}
	}
	return it.Product
}

func quantity(unit, v string) map[string]any {
	return map[string]any{"hasUnit": unit, "hasNumericalValue": v}
}

// paragraphs is text as HTML paragraphs, every character escaped.
func paragraphs(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		b.WriteString("<p>" + html.EscapeString(l) + "</p>")
	}
	return b.String()
}

// times multiplies two decimals.
func times(a, b string) (string, bool) {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return "", false
	}
	return decimal(x.Mul(x, y)), true
}

// Offering is a listing as a catalog entry: what [Write] serves.
type Offering struct {
	// ID is the listing's IRI; Actor its author and ActorName the author's
	// name.
	ID, Actor, ActorName string
	// Describes: the author may describe the product under its own IRI
	// (a bridge of this relay, which read it from the product's catalog,
	// or an author on the product's host). Other authors' descriptions
	// are their own claims, written under the listing's IRI.
	Describes bool
	Item
}

// proposalDoc is the part of a listing Offerings are read from.
type proposalDoc struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Content   string `json:"content"`
	Summary   string `json:"summary"`
	Publishes struct {
		ConformsTo json.RawMessage `json:"resourceConformsTo"`
		Quantity   *measureDoc     `json:"resourceQuantity"`
		Available  *measureDoc     `json:"availableQuantity"`
	} `json:"publishes"`
	Reciprocal *struct {
		ConformsTo json.RawMessage `json:"resourceConformsTo"`
		Quantity   *measureDoc     `json:"resourceQuantity"`
	} `json:"reciprocal"`
	Image json.RawMessage `json:"image"`
}

type measureDoc struct {
	Unit  string          `json:"hasUnit"`
	Value json.RawMessage `json:"hasNumericalValue"`
}

func (m *measureDoc) value() string {
	var s string
	if json.Unmarshal(m.Value, &s) == nil {
		return s
	}
	return string(m.Value)
}

// OfferingOf reads a listing (a Create or Update carrying a Proposal, as
// the relay indexed it, already checked) as a catalog entry. ok is false
// for a listing the catalog cannot express: no product IRI, or a unit or
// currency without a DFC measure.
func OfferingOf(activity []byte, actorName string) (Offering, bool) {
	var env struct {
		Actor  string          `json:"actor"`
		Object json.RawMessage `json:"object"`
	}
	var p proposalDoc
	if json.Unmarshal(activity, &env) != nil || json.Unmarshal(env.Object, &p) != nil || p.Publishes.Quantity == nil {
		return Offering{}, false
	}
	o := Offering{ID: p.ID, Actor: env.Actor, ActorName: actorName}
	o.Name = clip(oneLine(Text(p.Name)), maxName)
	o.Description = Text(p.Content)
	if o.Description == "" {
		o.Description = Text(p.Summary)
	}
	for _, iri := range iriList(p.Publishes.ConformsTo) {
		switch {
		case strings.HasPrefix(iri, ProductTypesNS) && o.ProductType == "":
			o.ProductType = iri
		case isHTTP(iri) && o.Product == "":
			o.Product = iri
		}
	}
	q := p.Publishes.Quantity
	if _, ok := DFCUnit(q.Unit); !ok || o.Product == "" {
		return Offering{}, false
	}
	o.Quantity = Measure{Value: q.value(), Unit: strings.ToLower(q.Unit)}
	if a := p.Publishes.Available; a != nil && strings.EqualFold(a.Unit, q.Unit) {
		o.Stock = divide(a.value(), o.Quantity.Value)
	}
	if r := p.Reciprocal; r != nil && r.Quantity != nil {
		for _, iri := range iriList(r.ConformsTo) {
			if c, ok := CurrencyOf(iri); ok {
				o.Price = Price{Value: r.Quantity.value(), Currency: c}
			}
		}
		if o.Price.Value == "" {
			return Offering{}, false
		}
	}
	var img struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(p.Image, &img) == nil && isHTTP(img.URL) {
		o.Image = img.URL
	}
	return o, true
}

func iriList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	json.Unmarshal(raw, &many)
	return many
}

// divide is how many whole items a ÷ b is.
func divide(a, b string) string {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 || y.Sign() == 0 {
		return ""
	}
	n := new(big.Int).Quo(x.Num(), x.Denom())
	q := new(big.Rat).Quo(x, y)
	n.Quo(q.Num(), q.Denom())
	return n.String()
}
