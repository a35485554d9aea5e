package postgres

import "testing"

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
