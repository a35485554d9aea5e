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
// and regardless of case (Go's decoder matches fields that way).
func checkJSONKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := walkJSON(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("%w: data after the document", errInvalidJSON)
	}
	return nil
}

func walkJSON(dec *json.Decoder, depth int) error {
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
			key := strings.ToLower(tok.(string))
			if seen[key] {
				return fmt.Errorf("%w %q", errDuplicateKey, tok)
			}
			seen[key] = true
		}
		if err := walkJSON(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("%w: %v", errInvalidJSON, err)
	}
	return nil
}
