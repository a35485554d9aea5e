package proof

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func mustCanonical(t *testing.T, in []byte) string {
	t.Helper()
	v, err := parseJSON(in)
	if err != nil {
		t.Fatalf("parse %q: %v", in, err)
	}
	out, err := canonical(v)
	if err != nil {
		t.Fatalf("canonical %q: %v", in, err)
	}
	return string(out)
}

// TestCanonicalRFC8785Samples runs the RFC author's samples in testdata/jcs.
func TestCanonicalRFC8785Samples(t *testing.T) {
	ins, err := filepath.Glob("testdata/jcs/*.in.json")
	if err != nil || len(ins) < 6 {
		t.Fatalf("samples: %v, %d found", err, len(ins))
	}
	for _, in := range ins {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.Replace(in, ".in.", ".out.", 1))
			if err != nil {
				t.Fatal(err)
			}
			if got := mustCanonical(t, src); got != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestES6Numbers is RFC 8785 Appendix B's table: IEEE-754 bits and the
// ECMAScript serialisation.
func TestES6Numbers(t *testing.T) {
	for _, tc := range []struct{ bits, want string }{
		{"0000000000000000", "0"},
		{"8000000000000000", "0"},
		{"0000000000000001", "5e-324"},
		{"8000000000000001", "-5e-324"},
		{"7fefffffffffffff", "1.7976931348623157e+308"},
		{"ffefffffffffffff", "-1.7976931348623157e+308"},
		{"4340000000000000", "9007199254740992"},
		{"c340000000000000", "-9007199254740992"},
		{"4430000000000000", "295147905179352830000"},
		{"44b52d02c7e14af5", "9.999999999999997e+22"},
		{"44b52d02c7e14af6", "1e+23"},
		{"44b52d02c7e14af7", "1.0000000000000001e+23"},
		{"444b1ae4d6e2ef4e", "999999999999999700000"},
		{"444b1ae4d6e2ef4f", "999999999999999900000"},
		{"444b1ae4d6e2ef50", "1e+21"},
		{"3eb0c6f7a0b5ed8c", "9.999999999999997e-7"},
		{"3eb0c6f7a0b5ed8d", "0.000001"},
		{"41b3de4355555553", "333333333.3333332"},
		{"41b3de4355555554", "333333333.33333325"},
		{"41b3de4355555555", "333333333.3333333"},
		{"41b3de4355555556", "333333333.3333334"},
		{"41b3de4355555557", "333333333.33333343"},
		{"becbf647612f3696", "-0.0000033333333333333333"},
		{"43143ff3c1cb0959", "1424953923781206.2"},
	} {
		raw, _ := hex.DecodeString(tc.bits)
		f := math.Float64frombits(binary.BigEndian.Uint64(raw))
		lit := strconv.FormatFloat(f, 'g', -1, 64)
		got, err := es6Number(lit)
		if err != nil || got != tc.want {
			t.Errorf("%s (%s): got %q, %v; want %q", tc.bits, lit, got, err, tc.want)
		}
	}
}

func TestCanonicalLiterals(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[1.0, 1e2, -0, 0.1e-6, 123456789012345678901234]`, `[1,100,0,1e-7,1.2345678901234569e+23]`},
		{`{"b":1,"a":{"d":[],"c":null}}`, `{"a":{"c":null,"d":[]},"b":1}`},
		{`"\u001f\u007f\u2028<>&\/"`, "\"\\u001f\u007f\u2028<>&/\""},
		// U+FB33 sorts after U+1F602 in UTF-16 (0xD83D…), before it in UTF-8.
		{`{"\ud83d\ude02":1,"\ufb33":2}`, "{\"\U0001F602\":1,\"\uFB33\":2}"},
		{" \t\r\n true \n", `true`},
	} {
		if got := mustCanonical(t, []byte(tc.in)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestParseRefuses lists what must not reach the canonicaliser.
func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"duplicate name", `{"a":1,"a":2}`},
		{"nested duplicate", `{"x":{"a":1,"b":2,"a":1}}`},
		{"duplicate by escape", `{"a":1,"\u0061":2}`},
		{"invalid UTF-8", "{\"a\":\"\xff\"}"},
		{"lone high surrogate", `["\ud800"]`},
		{"high then non-low", `["\ud800\u0041"]`},
		{"lone low surrogate", `["\udc00"]`},
		{"truncated name", `{"a":1,"b`},
		{"unclosed object", `{"a":1`},
		{"unclosed array", `[1`},
		{"mismatched close", `[1}`},
		{"trailing value", `{} {}`},
		{"trailing garbage", `{}x`},
		{"leading zero", `[01]`},
		{"hex float", `[0x1p3]`},
		{"plus sign", `[+1]`},
		{"spaced literal", `[t r u e]`},
		{"trailing comma", `[1,]`},
		{"overflow", `[1e400]`},
		{"empty", ``},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)},
	} {
		v, err := parseJSON([]byte(tc.in))
		if err == nil {
			_, err = canonical(v)
		}
		if err == nil {
			t.Errorf("%s: %q accepted", tc.name, tc.in)
		}
	}
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := parseJSON([]byte(deep)); err != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, err)
	}
	if _, err := parseJSON([]byte(`["\ud83d\ude02", "\\u0041"]`)); err != nil {
		t.Errorf("valid pair refused: %v", err)
	}
}
