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

// Bounds of the contexts a catalog may define.
const (
	// maxTerms bounds the terms of one inline context.
	maxTerms = 1000
	// maxContexts bounds the contexts (remote names, inline objects) one
	// catalog may apply, nested ones included.
	maxContexts = 100
)

// KnownContexts are the remote contexts DFC platforms name, which the relay
// holds instead of fetching: OFN's two answer forms and LiteFarm's. Each
// defines the DFC prefixes and which properties take IRIs.
func KnownContexts() []string { return append([]string(nil), knownContexts...) }

var knownContexts = []string{
	"https://www.datafoodconsortium.org",
	"https://w3id.org/dfc/ontology/context/context_1.16.0.json",
	"https://w3id.org/dfc/ontology/context/context_2.0.0.json",
	"https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context.jsonld",
	"https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context_1.16.0.jsonld",
	"https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context_2.0.0.jsonld",
}

// refProperties are the business-ontology properties whose values are
// nodes; the DFC contexts declare them "@type": "@id".
var refProperties = []string{"hasUnit", "hasQuantity", "hasType", "references", "referencedBy", "supplies",
	"manages", "managedBy", "offeredThrough", "offeredItem", "hasPrice", "hasAddress", "affiliates", "defines", "hasOffer"}

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
		for _, known := range knownContexts {
			if strings.TrimSuffix(v, "/") == known {
				c.dfcContext()
				return nil
			}
		}
		return fmt.Errorf("%w %q: the relay reads the DFC contexts it holds (%s) and inline contexts, and fetches none",
			ErrContext, trunc(v), strings.Join(knownContexts[:2], ", "))
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

// inline applies an inline context object. A term's IRI is resolved
// after the prefixes it uses, whatever the key order, and a cycle of
// prefixes resolves to nothing.
func (c *activeContext) inline(m map[string]any) error {
	if len(m) > maxTerms {
		return fmt.Errorf("%w: a context of %d terms; at most %d", ErrDocument, len(m), maxTerms)
	}
	if v, ok := m["@vocab"].(string); ok {
		c.vocab = v
	}
	r := resolver{c: c, defs: m, state: map[string]int{}}
	for k := range m {
		if err := r.resolve(k); err != nil {
			return err
		}
	}
	return nil
}

// resolver defines an inline context's terms, each once, prefixes first.
type resolver struct {
	c     *activeContext
	defs  map[string]any
	state map[string]int // 1: being resolved, 2: done
}

func (r *resolver) resolve(k string) error {
	if strings.HasPrefix(k, "@") || r.state[k] != 0 {
		return nil
	}
	r.state[k] = 1
	defer func() { r.state[k] = 2 }()
	var t term
	switch d := r.defs[k].(type) {
	case string:
		t.iri = d
	case map[string]any:
		t.iri, _ = d["@id"].(string)
		t.id = d["@type"] == "@id"
	case nil:
		delete(r.c.terms, k)
		return nil
	default:
		return fmt.Errorf("%w: the context defines %q with a %T", ErrDocument, trunc(k), r.defs[k])
	}
	if t.iri == "" {
		t.iri = k // {"@type": "@id"} on a compact IRI or an absolute one
	}
	// The prefix this term's IRI (or its key) uses is defined first.
	for _, ref := range []string{t.iri, k} {
		if prefix, _, ok := strings.Cut(ref, ":"); ok && prefix != k {
			if _, local := r.defs[prefix]; local && r.state[prefix] == 0 {
				if err := r.resolve(prefix); err != nil {
					return err
				}
			}
		}
	}
	if prefix, _, ok := strings.Cut(t.iri, ":"); ok && r.state[prefix] == 1 && prefix != k {
		return nil // a cycle of prefixes: left undefined
	}
	t.iri = r.c.expand(t.iri)
	r.c.terms[k] = t
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
