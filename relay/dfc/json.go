package dfc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits on a catalog document.
const (
	// MaxCatalogBytes bounds a fetched catalog.
	MaxCatalogBytes = 8 << 20
	// MaxNodes bounds the nodes one catalog may describe.
	MaxNodes = 100_000
	// maxDepth bounds how deeply a catalog may nest.
	maxDepth = 32
)

// Errors reading a catalog, matched with errors.Is.
var (
	// ErrDocument: the document is not a JSON-LD object this reader can
	// use (not JSON, a duplicate key, nested too deeply, too large).
	ErrDocument = errors.New("not a usable DFC document")
	// ErrContext: the document's @context names a remote context this
	// relay does not hold; it never fetches one.
	ErrContext = errors.New("unknown JSON-LD context")
)

// decode parses doc once into maps, slices, strings, json.Numbers, bools
// and nils, refusing a key named twice in one object (readers would
// disagree about which one counts), nesting past maxDepth and data after
// the document.
func decode(doc []byte) (any, error) {
	if len(doc) > MaxCatalogBytes {
		return nil, fmt.Errorf("%w: %d bytes; at most %d", ErrDocument, len(doc), MaxCatalogBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: data after the document", ErrDocument)
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("%w: nested more than %d levels", ErrDocument, maxDepth)
	}
	if d == '[' {
		list := []any{}
		for dec.More() {
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	}
	obj := map[string]any{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDocument, err)
		}
		key, _ := kt.(string)
		if _, dup := obj[key]; dup {
			return nil, fmt.Errorf("%w: the key %q appears twice in one object", ErrDocument, key)
		}
		v, err := decodeValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
	_, err = dec.Token()
	return obj, err
}
