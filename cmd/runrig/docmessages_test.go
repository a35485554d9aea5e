package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// programText is every string literal of the program's own (non-test) Go
// source, one per line.
func programText(t *testing.T) string {
	var b strings.Builder
	repo := filepath.Join("..", "..")
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && p != repo) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					b.WriteString(s + "\n")
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// formatPatterns are the program's format strings with at least eight
// characters of their own, each verb standing for any text.
func formatPatterns(text string) []*regexp.Regexp {
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	var out []*regexp.Regexp
	for _, line := range strings.Split(text, "\n") {
		for _, lit := range strings.Split(line, ": ") { // as the docs' quotes are split
			if !verb.MatchString(lit) || len(verb.ReplaceAllString(lit, "")) < 8 {
				continue
			}
			parts := verb.Split(lit, -1)
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			if re, err := regexp.Compile(strings.Join(parts, ".*")); err == nil {
				out = append(out, re)
			}
		}
	}
	return out
}

// Every refusal message the troubleshooting guide quotes is one the
// program can print: each piece of it, between the "…" and N that stand
// for what varies and the ": " that join wrapped errors, is in the
// program's own strings (issue 17, point 12: the guide quoted a 401
// "…missing…" the relay never said).
func TestDocsQuoteTheProgramsMessages(t *testing.T) {
	text := programText(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| [45]\\d\\d ((?:`[^`]*`(?: / )?)+)")
	quoted := regexp.MustCompile("`([^`]*)`")
	varying := regexp.MustCompile(`…|\bN\b|%[a-z]`)
	formats := formatPatterns(text)
	says := func(part string) bool {
		if strings.Contains(text, part) {
			return true
		}
		for _, f := range formats {
			if f.MatchString(part) {
				return true
			}
		}
		return false
	}
	prefix := regexp.MustCompile(`^[a-z][a-z ]*: …$`) // "proof: …": the program's prefix
	checked := 0
	for i, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for n, q := range quoted.FindAllStringSubmatch(m[1], -1) {
			longest := 0
			_, rest, prefixed := strings.Cut(q[1], ": ") // "signature: …": the prefix does not count
			if !prefixed {
				rest = q[1]
			}
			for _, piece := range varying.Split(q[1], -1) {
				for _, part := range strings.Split(piece, ": ") {
					part = strings.Trim(part, " ,;()\"")
					if strings.Contains(rest, part) {
						longest = max(longest, len(part))
					}
					if len(part) < 3 {
						continue
					}
					checked++
					if !says(part) {
						t.Errorf("troubleshooting.md:%d quotes %q, but the program never says %q", i+1, q[1], part)
					}
				}
			}
			// The first quote of a row must say enough to be found by;
			// those after " / " may be alternative endings of it.
			if n == 0 && longest < 8 && !prefix.MatchString(q[1]) {
				t.Errorf("troubleshooting.md:%d quotes %q: too little of a message to find it by", i+1, q[1])
			}
		}
	}
	if checked < 40 {
		t.Errorf("checked only %d pieces of quoted messages", checked)
	}
	t.Logf("checked %d pieces of quoted messages", checked)
}
