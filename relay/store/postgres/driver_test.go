package postgres

import (
	"database/sql/driver"
	"fmt"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = $1 AND b = $2`},
		{`VALUES (?1, ?2) WHERE x = ?1`, `VALUES ($1, $2) WHERE x = $1`},
		// A bare ? after numbered ones takes the next number, as in SQLite.
		{`SELECT ?1, ?2, (?, ?, ?)`, `SELECT $1, $2, ($3, $4, $5)`},
		{`x LIKE '?' AND y = ?`, `x LIKE '?' AND y = $1`},
		{`x = 'it''s ?' AND y = ?`, `x = 'it''s ?' AND y = $1`},
		{`"odd?name" = ?`, `"odd?name" = $1`},
		{`unterminated '?`, `unterminated '?`},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Text PostgreSQL cannot hold (a NUL, bytes that are not UTF-8) is
// replaced before it reaches a statement, which would otherwise fail
// whole; booleans become the schema's integers; the rest passes as is.
func TestCheckNamedValue(t *testing.T) {
	for _, c := range []struct {
		in, want any
	}{
		{"plain", "plain"},
		{"a\x00b", "a\uFFFDb"},
		{"bad \xff", "bad \uFFFD"},
		{true, int64(1)},
		{false, int64(0)},
		{[]byte("a\x00b"), []byte("a\x00b")},
		{int64(7), int64(7)},
	} {
		nv := driver.NamedValue{Value: c.in}
		if err := (conn{}).CheckNamedValue(&nv); err != nil || fmt.Sprint(nv.Value) != fmt.Sprint(c.want) {
			t.Errorf("CheckNamedValue(%q) = %q, %v; want %q", c.in, nv.Value, err, c.want)
		}
	}
}
