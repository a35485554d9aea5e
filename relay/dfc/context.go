package dfc

import (
	"fmt"
	"strings"
)

// Namespaces of the DFC vocabularies, as the current contexts define the
// prefixes dfc-b:, dfc-m:, dfc-pt: and dfc-f:. Terms are compared by their
// expanded IRI, never by a prefix's spelling.
const (
	BusinessNS     = "https://github.com/datafoodconsortium/ontology/releases/latest/download/DFC_BusinessOntology.owl#"
	MeasuresNS     = "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/measures.rdf#"
	ProductTypesNS = "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/productTypes.rdf#"
	FacetsNS       = "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/facets.rdf#"
)

// legacyNS are the namespaces of DFC 1.x before the ontology moved to
// GitHub releases (OFN still accepts documents with them inline): each
// maps to the current one.
var legacyNS = map[string]string{
	"http://static.datafoodconsortium.org/ontologies/DFC_BusinessOntology.owl#": BusinessNS,
	"http://static.datafoodconsortium.org/data/measures.rdf#":                   MeasuresNS,
	"http://static.datafoodconsortium.org/data/productTypes.rdf#":               ProductTypesNS,
	"http://static.datafoodconsortium.org/data/facets.rdf#":                     FacetsNS,
}

// KnownContexts are the remote contexts DFC platforms name, which the relay
// holds instead of fetching: OFN's two answer forms and LiteFarm's. Each
// defines the DFC prefixes and which properties take IRIs.
var KnownContexts = []string{
	"https://www.datafoodconsortium.org",
	"https://w3id.org/dfc/ontology/context/context_1.16.0.json",
	"https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context.jsonld",
	"https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context_1.16.0.jsonld",
	"https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context_2.0.0.jsonld",
}

// refProperties are the business-ontology properties whose values are
// nodes; the DFC contexts declare them "@type": "@id".
var refProperties = []string{"hasUnit", "hasQuantity", "hasType", "references", "referencedBy", "supplies",
	"manages", "offeredThrough", "offeredItem", "hasPrice", "hasAddress", "affiliates", "defines", "hasOffer"}

// term is one entry of an active context.
type term struct {
	iri string
	// id: a string value of this term is an IRI, not text.
	id bool
}

// activeContext maps terms and prefixes to IRIs.
type activeContext struct {
	terms map[string]term
	vocab string
	// ids caches the expanded IRIs of the IRI-valued terms; nil after a
	// change.
	ids map[string]bool
}

func newContext() *activeContext { return &activeContext{terms: map[string]term{}} }

func (c *activeContext) clone() *activeContext {
	n := &activeContext{terms: make(map[string]term, len(c.terms)), vocab: c.vocab}
	for k, v := range c.terms {
		n.terms[k] = v
	}
	return n
}

// dfcContext is what every known remote context defines.
func (c *activeContext) dfcContext() {
	for prefix, ns := range map[string]string{"dfc-b": BusinessNS, "dfc-m": MeasuresNS, "dfc-pt": ProductTypesNS,
		"dfc-f": FacetsNS, "ldp": "http://www.w3.org/ns/ldp#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
		"skos": "http://www.w3.org/2004/02/skos/core#", "xsd": "http://www.w3.org/2001/XMLSchema#"} {
		c.terms[prefix] = term{iri: ns}
	}
	for _, p := range refProperties {
		c.terms["dfc-b:"+p] = term{iri: BusinessNS + p, id: true}
	}
}

// process applies a @context value: a known remote context's URL, an
// inline object, or a list of them.
func (c *activeContext) process(v any) error {
	c.ids = nil
	switch v := v.(type) {
	case nil:
		*c = *newContext()
	case string:
		for _, known := range KnownContexts {
			if strings.TrimSuffix(v, "/") == known {
				c.dfcContext()
				return nil
			}
		}
		return fmt.Errorf("%w %q: the relay reads the DFC contexts it holds (%s) and inline contexts, and fetches none",
			ErrContext, trunc(v), strings.Join(KnownContexts[:2], ", "))
	case []any:
		for _, e := range v {
			if err := c.process(e); err != nil {
				return err
			}
		}
	case map[string]any:
		return c.inline(v)
	default:
		return fmt.Errorf("%w: @context must be a URL, an object or a list", ErrDocument)
	}
	return nil
}

// inline applies an inline context object. Prefixes are defined before
// the terms that use them, whatever the key order.
func (c *activeContext) inline(m map[string]any) error {
	if v, ok := m["@vocab"].(string); ok {
		c.vocab = v
	}
	for pass := 0; pass < 2; pass++ {
		for k, v := range m {
			if strings.HasPrefix(k, "@") {
				continue
			}
			var t term
			switch d := v.(type) {
			case string:
				t.iri = d
			case map[string]any:
				t.iri, _ = d["@id"].(string)
				t.id = d["@type"] == "@id"
			case nil:
				delete(c.terms, k)
				continue
			default:
				return fmt.Errorf("%w: the context defines %q with a %T", ErrDocument, k, v)
			}
			if t.iri == "" {
				t.iri = k // {"@type": "@id"} on a compact IRI or an absolute one
			}
			t.iri = c.expand(t.iri)
			c.terms[k] = t
		}
	}
	return nil
}

// expand turns a term, compact IRI or IRI into an absolute IRI (or a blank
// node id), mapping a legacy DFC namespace to the current one; "" when it
// cannot be expanded.
func (c *activeContext) expand(s string) string {
	if strings.HasPrefix(s, "@") {
		return s
	}
	if t, ok := c.terms[s]; ok && t.iri != s {
		return canonical(t.iri)
	}
	prefix, suffix, ok := strings.Cut(s, ":")
	if !ok {
		if c.vocab != "" {
			return canonical(c.vocab + s)
		}
		return ""
	}
	if prefix == "_" {
		return s
	}
	if t, ok := c.terms[prefix]; ok && !strings.HasPrefix(suffix, "//") {
		return canonical(t.iri + suffix)
	}
	return canonical(s)
}

// isIDTerm reports whether key's string values are IRIs.
func (c *activeContext) isIDTerm(key, iri string) bool {
	if t, ok := c.terms[key]; ok && t.id {
		return true
	}
	if c.ids == nil {
		c.ids = map[string]bool{}
		for k, t := range c.terms {
			if t.id {
				c.ids[c.expand(k)] = true
			}
		}
	}
	return c.ids[iri]
}

func canonical(iri string) string {
	for old, now := range legacyNS {
		if rest, ok := strings.CutPrefix(iri, old); ok {
			return now + rest
		}
	}
	return iri
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
