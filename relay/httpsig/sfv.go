package httpsig

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// The subset of Structured Field Values (RFC 8941) that RFC 9421's
// Signature-Input, Signature and RFC 9530's Content-Digest use:
// dictionaries whose members are items or inner lists, with parameters.
// Decimals are refused: no field these headers carry uses them.

// Limits on structured fields a peer sends.
const (
	maxDictMembers = 8
	maxListItems   = 32
	maxParams      = 16
)

var errSFV = errors.New("structured field")

// sfKind is the type of a bare item.
type sfKind byte

const (
	sfString sfKind = iota + 1
	sfToken
	sfInteger
	sfBytes
	sfBool
)

// sfItem is a bare item with its parameters.
type sfItem struct {
	kind   sfKind
	str    string // string or token
	num    int64
	bytes  []byte
	flag   bool
	params []sfParam
}

// sfParam is one parameter; its value has no parameters of its own.
type sfParam struct {
	key string
	val sfItem
}

// sfMember is one dictionary member: an item or an inner list (list
// set), with the inner list's parameters in item.params.
type sfMember struct {
	key   string
	item  sfItem
	list  []sfItem
	isSet bool // list, not item
}

// param returns the value of parameter key.
func param(ps []sfParam, key string) (sfItem, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.val, true
		}
	}
	return sfItem{}, false
}

// sfParser parses one field value.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) fail(what string) error {
	return errors.Join(errSFV, errors.New(what+" at byte "+strconv.Itoa(p.i)))
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) skip(set string) {
	for p.i < len(p.s) && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

// parseDictionary parses a dictionary field (RFC 8941 section 4.2.2).
// A duplicate key is an error, not a silent override: every reader must
// agree about what was sent.
func parseDictionary(s string) ([]sfMember, error) {
	p := &sfParser{s: s}
	p.skip(" \t")
	var out []sfMember
	for p.i < len(p.s) {
		if len(out) == maxDictMembers {
			return nil, p.fail("too many members")
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		for _, m := range out {
			if m.key == key {
				return nil, p.fail("duplicate member " + key)
			}
		}
		m := sfMember{key: key}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				m.isSet = true
				if m.list, m.item.params, err = p.innerList(); err != nil {
					return nil, err
				}
			} else if m.item, err = p.item(); err != nil {
				return nil, err
			}
		} else {
			m.item = sfItem{kind: sfBool, flag: true}
			if m.item.params, err = p.params(); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
		p.skip(" \t")
		if p.i == len(p.s) {
			break
		}
		if p.peek() != ',' {
			return nil, p.fail("expected comma")
		}
		p.i++
		p.skip(" \t")
		if p.i == len(p.s) {
			return nil, p.fail("trailing comma")
		}
	}
	return out, nil
}

func (p *sfParser) innerList() ([]sfItem, []sfParam, error) {
	p.i++ // (
	var items []sfItem
	for {
		p.skip(" ")
		if p.peek() == ')' {
			p.i++
			ps, err := p.params()
			return items, ps, err
		}
		if len(items) == maxListItems {
			return nil, nil, p.fail("too many items")
		}
		it, err := p.item()
		if err != nil {
			return nil, nil, err
		}
		items = append(items, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, nil, p.fail("expected space or )")
		}
	}
}

func (p *sfParser) item() (sfItem, error) {
	it, err := p.bareItem()
	if err != nil {
		return it, err
	}
	it.params, err = p.params()
	return it, err
}

func (p *sfParser) params() ([]sfParam, error) {
	var ps []sfParam
	for p.peek() == ';' {
		p.i++
		p.skip(" ")
		if len(ps) == maxParams {
			return nil, p.fail("too many parameters")
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		for _, q := range ps {
			if q.key == key {
				return nil, p.fail("duplicate parameter " + key)
			}
		}
		val := sfItem{kind: sfBool, flag: true}
		if p.peek() == '=' {
			p.i++
			if val, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		ps = append(ps, sfParam{key: key, val: val})
	}
	return ps, nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z') && c != '*' {
		return "", p.fail("expected key")
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bareItem() (sfItem, error) {
	c := p.peek()
	switch {
	case c == '"':
		return p.str()
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return sfItem{}, p.fail("unterminated byte sequence")
		}
		b, err := base64.StdEncoding.DecodeString(p.s[p.i+1 : p.i+1+end])
		if err != nil {
			return sfItem{}, p.fail("byte sequence is not base64")
		}
		p.i += end + 2
		return sfItem{kind: sfBytes, bytes: b}, nil
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return sfItem{kind: sfBool, flag: p.s[p.i-1] == '1'}, nil
		}
		return sfItem{}, p.fail("bad boolean")
	case c == '-' || c >= '0' && c <= '9':
		return p.integer()
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		start := p.i
		for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
			p.i++
		}
		return sfItem{kind: sfToken, str: p.s[start:p.i]}, nil
	}
	return sfItem{}, p.fail("expected an item")
}

func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune(`"(),;<=>?@[\]{}`, rune(c))
}

func (p *sfParser) str() (sfItem, error) {
	p.i++ // "
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i == len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return sfItem{}, p.fail("bad escape")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return sfItem{kind: sfString, str: b.String()}, nil
		case c < ' ' || c > '~':
			return sfItem{}, p.fail("control or non-ASCII byte in string")
		default:
			b.WriteByte(c)
		}
	}
	return sfItem{}, p.fail("unterminated string")
}

func (p *sfParser) integer() (sfItem, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.i-digits > 15 {
		return sfItem{}, p.fail("bad integer")
	}
	if p.peek() == '.' {
		return sfItem{}, p.fail("decimals are not accepted")
	}
	n, _ := strconv.ParseInt(p.s[start:p.i], 10, 64)
	return sfItem{kind: sfInteger, num: n}, nil
}

// serialize writes an item (with its parameters) per RFC 8941 section 4.1.
func (it sfItem) serialize(b *strings.Builder) {
	it.bare(b)
	serializeParams(b, it.params)
}

func (it sfItem) bare(b *strings.Builder) {
	switch it.kind {
	case sfString:
		b.WriteByte('"')
		for i := 0; i < len(it.str); i++ {
			if c := it.str[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(it.str[i])
		}
		b.WriteByte('"')
	case sfToken:
		b.WriteString(it.str)
	case sfInteger:
		b.WriteString(strconv.FormatInt(it.num, 10))
	case sfBytes:
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(it.bytes))
		b.WriteByte(':')
	case sfBool:
		if it.flag {
			b.WriteString("?1")
		} else {
			b.WriteString("?0")
		}
	}
}

func serializeParams(b *strings.Builder, ps []sfParam) {
	for _, p := range ps {
		b.WriteByte(';')
		b.WriteString(p.key)
		if p.val.kind == sfBool && p.val.flag {
			continue
		}
		b.WriteByte('=')
		p.val.bare(b)
	}
}

// serializeInnerList writes an inner list with its parameters.
func serializeInnerList(b *strings.Builder, items []sfItem, ps []sfParam) {
	b.WriteByte('(')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		it.serialize(b)
	}
	b.WriteByte(')')
	serializeParams(b, ps)
}
