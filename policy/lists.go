package policy

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Limits of an imported list.
const (
	// MaxListRows is Mastodon's import limit.
	MaxListRows = 20000
	// MaxListBytes bounds a list file or a fetched list.
	MaxListBytes = 8 << 20
)

// MastodonBlocksHeader is the exact header of Mastodon's domain-block CSV.
const MastodonBlocksHeader = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"

// MastodonAllowsHeader is the header of Mastodon's domain-allow CSV.
const MastodonAllowsHeader = "#domain"

// Entry is one domain of a shared list.
type Entry struct {
	Domain string `json:"domain"`
	// Action is what the list recommends: suspend, limit (Mastodon's
	// silence), noop, or accept for allow lists.
	Action        Action `json:"action"`
	RejectMedia   bool   `json:"reject_media,omitempty"`
	RejectReports bool   `json:"reject_reports,omitempty"`
	PublicComment string `json:"public_comment,omitempty"`
	Obfuscate     bool   `json:"obfuscate,omitempty"`
	// Line is where the entry is in the file.
	Line int `json:"line"`
}

// Rule turns an entry into a domain rule from source.
func (e Entry) Rule(source string) Rule {
	return Rule{Kind: Domain, Subject: e.Domain, Action: e.Action, PublicComment: e.PublicComment,
		Obfuscate: e.Obfuscate, RejectReports: e.RejectReports, Source: source,
		Filters: Filters{RejectMedia: e.RejectMedia}}
}

// LineError is a bad row of a list.
type LineError struct {
	Line int
	Msg  string
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ListError collects every bad row of a list; a list with any is not
// imported at all.
type ListError []LineError

func (e ListError) Error() string {
	var b strings.Builder
	for i, l := range e {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e)-10)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(l.Error())
	}
	return b.String()
}

// ErrListFormat is returned for a list whose format is not recognised.
var ErrListFormat = errors.New("not a domain list: want Mastodon's CSV (header " + MastodonBlocksHeader +
	" or " + MastodonAllowsHeader + ") or plain text, one domain a line")

// ParseList reads a domain list: Mastodon's domain-block CSV, its allow
// CSV, or plain text with one domain a line (# starts a comment). Plain
// entries get plainAction. Every bad row is reported with its line number.
func ParseList(data []byte, plainAction Action) ([]Entry, error) {
	if len(data) > MaxListBytes {
		return nil, fmt.Errorf("list is %d bytes; at most %d", len(data), MaxListBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	first, _, _ := bytes.Cut(data, []byte("\n"))
	header := strings.TrimSpace(string(first))
	switch {
	case header == MastodonBlocksHeader || strings.HasPrefix(header, "#domain,#severity"):
		return parseMastodonCSV(data, false)
	case header == MastodonAllowsHeader:
		return parseMastodonCSV(data, true)
	case strings.Contains(header, ","):
		return nil, ErrListFormat
	}
	return parsePlain(data, plainAction)
}

func parseMastodonCSV(data []byte, allows bool) ([]Entry, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var out []Entry
	var bad ListError
	seen := map[string]int{}
	for row := 0; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line := 0
		if err == nil && len(rec) > 0 { // FieldPos panics on a record it did not read
			line, _ = r.FieldPos(0)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			bad = append(bad, LineError{line, "not valid CSV: " + err.Error()})
			break
		}
		if row == 0 {
			continue // the header
		}
		if len(out)+len(bad) >= MaxListRows {
			bad = append(bad, LineError{line, fmt.Sprintf("more than %d rows", MaxListRows)})
			break
		}
		e, lerr := mastodonRow(rec, allows, line)
		if lerr != nil {
			bad = append(bad, *lerr)
			continue
		}
		if prev, dup := seen[e.Domain]; dup {
			bad = append(bad, LineError{line, fmt.Sprintf("%s already listed on line %d", e.Domain, prev)})
			continue
		}
		seen[e.Domain] = line
		out = append(out, e)
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}

func mastodonRow(rec []string, allows bool, line int) (Entry, *LineError) {
	if len(rec) == 0 || strings.TrimSpace(rec[0]) == "" {
		return Entry{}, &LineError{line, "no domain"}
	}
	d, err := ParsePeer(strings.TrimPrefix(strings.TrimSpace(rec[0]), "*."))
	if err != nil {
		return Entry{}, &LineError{line, fmt.Sprintf("%q is not a domain", rec[0])}
	}
	e := Entry{Domain: d, Action: Suspend, Line: line}
	if allows {
		if len(rec) > 1 {
			return Entry{}, &LineError{line, "an allow list has only the #domain column"}
		}
		e.Action = Accept
		return e, nil
	}
	if len(rec) > 6 {
		return Entry{}, &LineError{line, fmt.Sprintf("%d columns; the header has 6", len(rec))}
	}
	col := func(i int) string {
		if i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	switch col(1) {
	case "", "suspend": // Mastodon defaults a missing severity to suspend
	case "silence":
		e.Action = Limit
	case "noop":
		e.Action = Noop
	default:
		return Entry{}, &LineError{line, fmt.Sprintf("severity %q: want silence, suspend or noop", col(1))}
	}
	for i, dst := range []*bool{&e.RejectMedia, &e.RejectReports} {
		b, err := parseBool(col(2 + i))
		if err != nil {
			return Entry{}, &LineError{line, fmt.Sprintf("column %d: %v", 3+i, err)}
		}
		*dst = b
	}
	e.PublicComment = plainText(col(4))
	b, err := parseBool(col(5))
	if err != nil {
		return Entry{}, &LineError{line, fmt.Sprintf("column 6: %v", err)}
	}
	e.Obfuscate = b
	return e, nil
}

func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", s)
	}
	return b, nil
}

func parsePlain(data []byte, action Action) ([]Entry, error) {
	var out []Entry
	var bad ListError
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 4096)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if len(out)+len(bad) >= MaxListRows {
			bad = append(bad, LineError{line, fmt.Sprintf("more than %d domains", MaxListRows)})
			break
		}
		d, err := ParsePeer(strings.TrimPrefix(text, "*."))
		if err != nil || strings.ContainsAny(text, " \t,") {
			bad = append(bad, LineError{line, fmt.Sprintf("%q is not a domain", text)})
			continue
		}
		if prev, dup := seen[d]; dup {
			bad = append(bad, LineError{line, fmt.Sprintf("%s already listed on line %d", d, prev)})
			continue
		}
		seen[d] = line
		out = append(out, Entry{Domain: d, Action: action, Line: line})
	}
	if err := sc.Err(); err != nil {
		bad = append(bad, LineError{0, err.Error()})
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}

// MastodonSeverity maps an action to Mastodon's severity; reject has no
// Mastodon equivalent and is exported as suspend, its nearest.
func MastodonSeverity(a Action) string {
	switch a {
	case Limit:
		return "silence"
	case Noop:
		return "noop"
	}
	return "suspend"
}

// WriteMastodonBlocks writes domain block rules as Mastodon's CSV, exactly
// as Mastodon exports it. With obfuscate, domains marked so are masked.
func WriteMastodonBlocks(w io.Writer, rules []Rule, obfuscate bool) error {
	cw := csv.NewWriter(w)
	cw.Write(strings.Split(MastodonBlocksHeader, ","))
	for _, e := range Blocks(rules, obfuscate) {
		cw.Write([]string{e.Domain, MastodonSeverity(e.Action), strconv.FormatBool(e.RejectMedia),
			strconv.FormatBool(e.RejectReports), noFormula(e.PublicComment), strconv.FormatBool(e.Obfuscate)})
	}
	cw.Flush()
	return cw.Error()
}

// plainText drops control characters (terminal escapes, bidi overrides)
// from text taken from a list.
func plainText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
}

// noFormula keeps a CSV cell from being read as a formula by spreadsheet
// software: a cell starting with =, +, -, @, a tab or a carriage return
// gets a leading apostrophe (OWASP's advice for CSV injection).
func noFormula(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// Blocks lists the domain blocks among rules (drafts left out) as list
// entries, domains masked where obfuscate is set and the rule asks for it.
func Blocks(rules []Rule, obfuscate bool) []Entry {
	var out []Entry
	for _, r := range rules {
		if r.Kind != Domain || r.Action == Accept || r.Draft {
			continue
		}
		domain := r.Subject
		if obfuscate && r.Obfuscate {
			domain = Mask(domain)
		}
		out = append(out, Entry{Domain: domain, Action: r.Action, RejectMedia: r.Filters.RejectMedia,
			RejectReports: r.RejectReports, PublicComment: r.PublicComment, Obfuscate: r.Obfuscate})
	}
	return out
}

// WriteMastodonAllows writes domain accept rules as Mastodon's allow CSV.
func WriteMastodonAllows(w io.Writer, rules []Rule) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{MastodonAllowsHeader})
	for _, r := range rules {
		if r.Kind == Domain && r.Action == Accept && !r.Draft {
			cw.Write([]string{r.Subject})
		}
	}
	cw.Flush()
	return cw.Error()
}

// Mask hides a domain for a published list, in the spirit of Mastodon's
// obfuscation: every other character is replaced by "*", dots kept, so the
// domain can be recognised by those who know it but not harvested.
func Mask(domain string) string {
	b := []byte(domain)
	for i := range b {
		if b[i] != '.' && i%2 == 1 {
			b[i] = '*'
		}
	}
	return string(b)
}
