package dfc

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// value is one value of a property: text, or a reference to a node.
type value struct {
	text string
	ref  string // a node id (IRI or blank node), when the value is a node
}

// node is one subject of the catalog's graph, with its properties keyed by
// their expanded IRIs.
type node struct {
	id    string
	types map[string]bool
	props map[string][]value
}

// graph is a catalog flattened: every node by id, nested nodes included
// (given a blank id when they have none), in document order.
type graph struct {
	nodes map[string]*node
	order []string
	blank int
	// contexts counts the contexts applied, nested ones included.
	contexts int
	// inverse holds, by property, the nodes naming each id with it.
	inverse map[string]map[string][]*node
}

// index records which nodes of a type name each id with a property.
func (g *graph) index(typ, prop string) {
	if g.inverse == nil {
		g.inverse = map[string]map[string][]*node{}
	}
	m := map[string][]*node{}
	for _, n := range g.ofType(typ) {
		for _, id := range n.iris(prop) {
			m[id] = append(m[id], n)
		}
	}
	g.inverse[prop] = m
}

// readGraph flattens a decoded JSON-LD document with the contexts it names.
func readGraph(doc any) (*graph, error) {
	top, ok := doc.(map[string]any)
	g := &graph{nodes: map[string]*node{}}
	ctx := newContext()
	if !ok {
		list, isList := doc.([]any)
		if !isList {
			return nil, fmt.Errorf("%w: a catalog is a JSON object", ErrDocument)
		}
		top = map[string]any{"@graph": list}
	}
	if c, ok := top["@context"]; ok {
		if err := g.apply(ctx, c); err != nil {
			return nil, err
		}
	}
	items, hasGraph := top["@graph"].([]any)
	if !hasGraph {
		items = []any{top}
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if _, err := g.add(m, ctx); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// blankPrefix starts the labels given to nodes without an id; documents
// may not use it.
const blankPrefix = "_:runrig-anonymous-"

func reserved(id string) bool { return strings.HasPrefix(id, blankPrefix) }

// apply applies a context value to ctx, counting it against maxContexts.
func (g *graph) apply(ctx *activeContext, c any) error {
	if g.contexts++; g.contexts > maxContexts {
		return fmt.Errorf("%w: more than %d contexts", ErrDocument, maxContexts)
	}
	return ctx.process(c)
}

// isEmptyContext reports whether a context value changes nothing.
func isEmptyContext(c any) bool {
	switch c := c.(type) {
	case map[string]any:
		return len(c) == 0
	case []any:
		return len(c) == 0
	}
	return false
}

// add adds the node m describes (and those nested in it) and returns its id.
func (g *graph) add(m map[string]any, ctx *activeContext) (string, error) {
	if c, ok := m["@context"]; ok && !isEmptyContext(c) {
		ctx = ctx.clone()
		if err := g.apply(ctx, c); err != nil {
			return "", err
		}
	}
	id, _ := m["@id"].(string)
	if id != "" {
		if id = ctx.expand(id); reserved(id) {
			return "", fmt.Errorf("%w: the blank node label %q is reserved", ErrDocument, trunc(id))
		}
	}
	if id == "" {
		g.blank++
		id = blankPrefix + strconv.Itoa(g.blank)
	}
	n := g.nodes[id]
	if n == nil {
		if len(g.nodes) >= MaxNodes {
			return "", fmt.Errorf("%w: more than %d nodes", ErrDocument, MaxNodes)
		}
		n = &node{id: id, types: map[string]bool{}, props: map[string][]value{}}
		g.nodes[id] = n
		g.order = append(g.order, id)
	}
	for key, v := range m {
		switch key {
		case "@id", "@context":
			continue
		case "@type":
			for _, t := range asList(v) {
				if s, ok := t.(string); ok {
					n.types[ctx.expand(s)] = true
				}
			}
			continue
		}
		prop := ctx.expand(key)
		if prop == "" || prop[0] == '@' {
			continue
		}
		isID := ctx.isIDTerm(key, prop)
		for _, e := range asList(v) {
			val, ok, err := g.value(e, ctx, isID)
			if err != nil {
				return "", err
			}
			if ok {
				n.props[prop] = append(n.props[prop], val)
			}
		}
	}
	return id, nil
}

// value reads one property value: a node reference ({"@id"}, an embedded
// node, or a string of an IRI-valued term) or text.
func (g *graph) value(e any, ctx *activeContext, isID bool) (value, bool, error) {
	switch e := e.(type) {
	case string:
		if isID {
			return value{ref: ctx.expand(e), text: e}, true, nil
		}
		return value{text: e}, true, nil
	case json.Number:
		return value{text: e.String()}, true, nil
	case bool:
		return value{text: strconv.FormatBool(e)}, true, nil
	case map[string]any:
		if lit, ok := e["@value"]; ok {
			return g.value(lit, ctx, false)
		}
		if id, ok := e["@id"].(string); ok && len(e) == 1 {
			if reserved(ctx.expand(id)) {
				return value{}, false, fmt.Errorf("%w: the blank node label %q is reserved", ErrDocument, trunc(id))
			}
			return value{ref: ctx.expand(id), text: id}, true, nil
		}
		id, err := g.add(e, ctx)
		return value{ref: id}, err == nil, err
	}
	return value{}, false, nil
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// is reports whether n has the business-ontology type local.
func (n *node) is(local string) bool { return n.types[BusinessNS+local] }

// texts returns the text values of a business-ontology property.
func (n *node) texts(local string) []string {
	var out []string
	for _, v := range n.props[BusinessNS+local] {
		if v.ref == "" || v.text != "" {
			out = append(out, v.text)
		}
	}
	return out
}

// refs returns the nodes a business-ontology property names, following a
// plain string that is the id of a node in the graph as well.
func (g *graph) refs(n *node, local string) []*node {
	var out []*node
	for _, v := range n.props[BusinessNS+local] {
		id := v.ref
		if id == "" {
			id = v.text
		}
		if target := g.nodes[id]; target != nil {
			out = append(out, target)
		}
	}
	return out
}

// iris returns the IRIs a business-ontology property names.
func (n *node) iris(local string) []string {
	var out []string
	for _, v := range n.props[BusinessNS+local] {
		if v.ref != "" {
			out = append(out, v.ref)
		} else {
			out = append(out, v.text)
		}
	}
	return out
}

// ofType returns the nodes of a business-ontology type, in document order.
func (g *graph) ofType(locals ...string) []*node {
	var out []*node
	for _, id := range g.order {
		n := g.nodes[id]
		for _, l := range locals {
			if n.is(l) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}
