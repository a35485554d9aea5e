package policy

import "testing"

func TestRuleNamed(t *testing.T) {
	for _, c := range []struct {
		r    Rule
		want string
	}{
		{Rule{ID: 3, Kind: Domain, Subject: "spam.example"}, "rule 3: domain spam.example"},
		{Rule{ID: 12, Kind: Actor, Subject: "https://big.example/users/spammer"}, "rule 12: actor https://big.example/users/spammer"},
	} {
		if got := c.r.Named(); got != c.want {
			t.Errorf("Named() = %q, want %q", got, c.want)
		}
	}
}
