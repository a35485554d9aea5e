package inbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxJSONDepth bounds how deeply a peer's JSON may nest.
const maxJSONDepth = 64

// Errors of checkJSONKeys, matched with errors.Is.
var (
	// errDuplicateKey: an object names a key twice (or two keys that
	// differ only in case). Parsers disagree on which one counts — the
	// relay's checks, go-ap and receivers could each read another actor,
	// id or listing — so such a body is refused whole.
	errDuplicateKey = errors.New("duplicate key")
	// errTooDeep: nested deeper than maxJSONDepth.
	errTooDeep = errors.New("JSON nested too deeply")
)

// checkJSONKeys walks body once and refuses it if any object, at any
// depth, has a key twice: compared after unescaping ("\u0069d" is "id")
// and regardless of case (Go's decoder matches fields that way). Inside
// "@context" keys are JSON-LD terms, which differ by case alone
// ("QuoteAuthorization", a type, and "quoteAuthorization", a property, in
// Fedify's and GoToSocial's contexts) and which nothing here decodes into
// fields: there only exact duplicates are refused.
func checkJSONKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := walkJSON(dec, 0, false); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("%w: data after the document", errInvalidJSON)
	}
	return nil
}

func walkJSON(dec *json.Decoder, depth int, exact bool) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalidJSON, err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxJSONDepth {
		return fmt.Errorf("%w (more than %d levels)", errTooDeep, maxJSONDepth)
	}
	var seen map[string]bool
	if delim == '{' {
		seen = map[string]bool{}
	}
	for dec.More() {
		if seen != nil {
			tok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %v", errInvalidJSON, err)
			}
			name := tok.(string)
			key := name
			if !exact {
				key = strings.ToLower(name)
			}
			if seen[key] {
				return fmt.Errorf("%w %q", errDuplicateKey, tok)
			}
			seen[key] = true
			if err := walkJSON(dec, depth+1, exact || name == "@context"); err != nil {
				return err
			}
			continue
		}
		if err := walkJSON(dec, depth+1, exact); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("%w: %v", errInvalidJSON, err)
	}
	return nil
}
