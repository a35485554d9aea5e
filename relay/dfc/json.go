package dfc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits on a catalog document.
const (
	// MaxCatalogBytes bounds a fetched catalog.
	MaxCatalogBytes = 8 << 20
	// MaxNodes bounds the nodes one catalog may describe.
	MaxNodes = 100_000
	// maxDepth bounds how deeply a catalog may nest.
	maxDepth = 32
	// maxValues bounds the JSON values of a catalog (objects, arrays,
	// strings, numbers…), counted while it is decoded, so that a
	// document of tiny objects is refused before it fills memory.
	maxValues = 400_000
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
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(doc))}
	d.dec.UseNumber()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the document", ErrDocument)
	}
	return v, nil
}

// decoder decodes one document, counting its values.
type decoder struct {
	dec    *json.Decoder
	values int
}

func (d *decoder) value(depth int) (any, error) {
	dec := d.dec
	if d.values++; d.values > maxValues {
		return nil, fmt.Errorf("%w: more than %d JSON values", ErrDocument, maxValues)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("%w: nested more than %d levels", ErrDocument, maxDepth)
	}
	if delim == '[' {
		list := []any{}
		for dec.More() {
			v, err := d.value(depth + 1)
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
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
	_, err = dec.Token()
	return obj, err
}
