package proof

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and objects may nest in a document.
const MaxDepth = 64

// parseJSON decodes data strictly into a tree of map[string]any, []any,
// string, json.Number, bool and nil. It refuses what would leave the
// canonical form, and so the signed bytes, open to more than one reading:
// invalid UTF-8, duplicate object names, unpaired surrogate escapes and
// anything after the value.
func parseJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	if err := checkSurrogates(data); err != nil {
		return nil, err
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("JSON syntax: %w", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth >= MaxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", MaxDepth)
	}
	switch d {
	case '[':
		return parseArray(dec, depth)
	case '{':
		return parseObject(dec, depth)
	}
	return nil, fmt.Errorf("JSON syntax: unexpected %q", rune(d))
}

// parseArray reads the elements after '[' and the closing ']'.
func parseArray(dec *json.Decoder, depth int) (any, error) {
	arr := []any{}
	for dec.More() {
		v, err := parseValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	return arr, closeToken(dec)
}

// parseObject reads the members after '{' and the closing '}'.
func parseObject(dec *json.Decoder, depth int) (any, error) {
	obj := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("JSON syntax: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("JSON syntax: object name is not a string")
		}
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("duplicate JSON object name %.64q", name)
		}
		if obj[name], err = parseValue(dec, depth+1); err != nil {
			return nil, err
		}
	}
	return obj, closeToken(dec)
}

// closeToken reads the ']' or '}' that the decoder has checked matches.
func closeToken(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("JSON syntax: %w", err)
	}
	return nil
}

// checkSurrogates refuses \u escapes that are not a valid UTF-16 unit or
// pair. It runs on data that has already parsed, where a backslash can only
// start an escape inside a string.
func checkSurrogates(data []byte) error {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+1 < len(data) && data[i+1] != 'u' {
			i++
			continue
		}
		r := hex4(data, i+2)
		i += 5
		switch {
		case r < 0:
			return errors.New("bad \\u escape")
		case r >= 0xdc00 && r <= 0xdfff:
			return errors.New("unpaired low surrogate escape")
		case r >= 0xd800 && r <= 0xdbff:
			if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
				return errors.New("unpaired high surrogate escape")
			}
			if lo := hex4(data, i+3); lo < 0xdc00 || lo > 0xdfff {
				return errors.New("unpaired high surrogate escape")
			}
			i += 6
		}
	}
	return nil
}

// hex4 reads four hex digits at data[i:], or returns -1.
func hex4(data []byte, i int) rune {
	if i < 0 || i+4 > len(data) {
		return -1
	}
	n, err := strconv.ParseUint(string(data[i:i+4]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(n)
}

// canonical returns the RFC 8785 (JCS) serialisation of a parsed tree.
func canonical(v any) ([]byte, error) {
	return appendCanonical(make([]byte, 0, 512), v)
}

func appendCanonical(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x), nil
	case json.Number:
		s, err := es6Number(string(x))
		return append(b, s...), err
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonical(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		return appendObject(b, x)
	}
	return nil, fmt.Errorf("cannot canonicalise %T", v)
}

// appendObject writes members sorted by the UTF-16 code units of their
// names, as RFC 8785 section 3.2.3 requires.
func appendObject(b []byte, obj map[string]any) ([]byte, error) {
	type member struct {
		key   []uint16
		name  string
		value any
	}
	ms := make([]member, 0, len(obj))
	for k, v := range obj {
		ms = append(ms, member{utf16.Encode([]rune(k)), k, v})
	}
	slices.SortFunc(ms, func(a, c member) int { return slices.Compare(a.key, c.key) })
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, m.name), ':')
		var err error
		if b, err = appendCanonical(b, m.value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendString quotes s as ECMAScript's JSON.stringify does (RFC 8785
// section 3.2.2.2): the two-character escapes where they exist, \u00xx for
// other controls, every other character as itself.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// es6Number formats a JSON number literal as an IEEE-754 double the way
// ECMAScript's Number.prototype.toString does (ECMA-262 Number::toString,
// RFC 8785 section 3.2.2.3). Literals outside the double range are refused.
func es6Number(lit string) (string, error) {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("number %.40q is not an IEEE-754 double", lit)
	}
	if f == 0 {
		return "0", nil // also for -0
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest round-tripping digits, as d.ddde±x.
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	k, n := len(digits), e+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k), nil
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:], nil
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits, nil
	}
	m := digits[:1]
	if k > 1 {
		m += "." + digits[1:]
	}
	es := "+"
	if n-1 < 0 {
		es = "-"
	}
	return sign + m + "e" + es + strconv.Itoa(abs(n-1)), nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
