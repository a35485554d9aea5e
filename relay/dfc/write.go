package dfc

import (
	"encoding/json"
	"strconv"
)

// Context is the inline JSON-LD context catalogs are written with: the
// DFC prefixes and the properties that take IRIs, so any JSON-LD
// processor expands a catalog without fetching anything.
func Context() map[string]any {
	c := map[string]any{"dfc-b": BusinessNS, "dfc-m": MeasuresNS, "dfc-pt": ProductTypesNS, "dfc-f": FacetsNS,
		"rdfs": "http://www.w3.org/2000/01/rdf-schema#"}
	for _, p := range refProperties {
		c["dfc-b:"+p] = map[string]any{"@type": "@id"}
	}
	return c
}

// Write serves offerings as a DFC catalog: an Enterprise per author that
// manages its CatalogItems and supplies its SuppliedProducts; a
// CatalogItem per listing (its IRI the listing's, with stockLimitation
// "-1" for unlimited) referencing the SuppliedProduct and offered through
// an Offer with its Price; quantities as QuantitativeValues.
func Write(offerings []Offering) ([]byte, error) {
	graph := []map[string]any{}
	blank := 0
	newBlank := func() string { blank++; return "_:b" + strconv.Itoa(blank) }
	enterprises := map[string]map[string]any{}
	products := map[string]map[string]any{}
	for _, o := range offerings {
		e := enterprises[o.Actor]
		if e == nil {
			e = map[string]any{"@id": o.Actor, "@type": "dfc-b:Enterprise", "dfc-b:name": o.ActorName,
				"dfc-b:manages": []string{}, "dfc-b:supplies": []string{}}
			enterprises[o.Actor] = e
			graph = append(graph, e)
		}
		e["dfc-b:manages"] = append(e["dfc-b:manages"].([]string), o.ID)
		// A product is described under its IRI only by who may describe it,
		// once (by the first such listing); another author's description
		// is written under its listing, and names the product it claims.
		productID := o.Product
		if !o.Describes {
			productID = o.ID + "#product"
		}
		if product := products[productID]; product != nil {
			product["dfc-b:referencedBy"] = append(product["dfc-b:referencedBy"].([]string), o.ID)
		} else {
			e["dfc-b:supplies"] = append(e["dfc-b:supplies"].([]string), productID)
			q := newBlank()
			unitIRI, _ := DFCUnit(o.Quantity.Unit)
			product = map[string]any{"@id": productID, "@type": "dfc-b:SuppliedProduct", "dfc-b:name": o.Name,
				"dfc-b:hasQuantity": q, "dfc-b:referencedBy": []string{o.ID}}
			if productID != o.Product {
				product["rdfs:seeAlso"] = map[string]any{"@id": o.Product}
			}
			if o.Description != "" {
				product["dfc-b:description"] = paragraphs(o.Description) // descriptions are HTML
			}
			if o.Image != "" {
				product["dfc-b:image"] = o.Image
			}
			if o.ProductType != "" {
				product["dfc-b:hasType"] = o.ProductType
			}
			products[productID] = product
			graph = append(graph, map[string]any{"@id": q, "@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": unitIRI,
				"dfc-b:value": o.Quantity.Value}, product)
		}
		stock := o.Stock
		if stock == "" {
			stock = "-1"
		}
		item := map[string]any{"@id": o.ID, "@type": "dfc-b:CatalogItem", "dfc-b:references": productID,
			"dfc-b:stockLimitation": stock, "dfc-b:offeredThrough": o.ID + "#offer"}
		if o.SKU != "" {
			item["dfc-b:sku"] = o.SKU
		}
		offer := map[string]any{"@id": o.ID + "#offer", "@type": "dfc-b:Offer", "dfc-b:offeredItem": o.ID}
		graph = append(graph, item, offer)
		if o.Price.Value != "" {
			p := newBlank()
			offer["dfc-b:hasPrice"] = map[string]any{"@id": p}
			graph = append(graph, map[string]any{"@id": p, "@type": "dfc-b:Price", "dfc-b:value": o.Price.Value,
				"dfc-b:hasUnit": MeasuresNS + o.Price.Currency.DFC})
		}
	}
	return json.MarshalIndent(map[string]any{"@context": Context(), "@graph": graph}, "", " ")
}
