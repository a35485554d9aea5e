package console

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("a long phrase of words")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not PHC argon2id with the chosen parameters", h)
	}
	tests := []struct {
		hash, pw string
		ok       bool
		err      bool
	}{
		{h, "a long phrase of words", true, false},
		{h, "a long phrase of word", false, false},
		{h, "", false, false},
		{"$bcrypt$x", "a long phrase of words", false, true},
		{strings.Replace(h, "m=19456", "m=99999999", 1), "a long phrase of words", false, true}, // parameters bounded
		{strings.Replace(h, "v=19", "v=16", 1), "a long phrase of words", false, true},
	}
	for i, tt := range tests {
		ok, err := verifyPassword(tt.hash, tt.pw)
		if ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("%d: verifyPassword = %v, %v; want %v, error %v", i, ok, err, tt.ok, tt.err)
		}
	}
	for pw, ok := range map[string]bool{"short": false, "twelve chars": true, strings.Repeat("é", 256): true, strings.Repeat("x", 257): false} {
		if err := checkPassword(pw); (err == nil) != ok {
			t.Errorf("checkPassword(%d chars) = %v", len([]rune(pw)), err)
		}
	}
}

func TestLoginLimiter(t *testing.T) {
	l := newLoginLimiter()
	t0 := time.Unix(1_700_000_000, 0)
	for i := 0; i < accountFailures; i++ {
		if w := l.locked("ana", "10.0.0.1", t0); w != 0 {
			t.Fatalf("locked after %d failures", i)
		}
		l.failed("ana", "10.0.0.1", t0)
	}
	tests := []struct {
		name, addr string
		at         time.Duration
		locked     bool
	}{
		{"ana", "10.0.0.2", 0, true},                 // the account, from anywhere
		{"bob", "10.0.0.1", 0, false},                // the address is under its own bound
		{"ana", "10.0.0.1", failureWindow - 1, true}, // until the window ends
		{"ana", "10.0.0.1", failureWindow, false},
	}
	for _, tt := range tests {
		if got := l.locked(tt.name, tt.addr, t0.Add(tt.at)) > 0; got != tt.locked {
			t.Errorf("locked(%s, %s, +%v) = %v, want %v", tt.name, tt.addr, tt.at, got, tt.locked)
		}
	}
	for i := 0; i < addressFailures; i++ {
		l.failed("user"+string(rune('a'+i)), "10.9.9.9", t0)
	}
	if l.locked("someone", "10.9.9.9", t0) == 0 {
		t.Error("an address that failed for many accounts is not locked")
	}
	l.failed("carl", "10.0.0.3", t0)
	l.succeeded("carl")
	if len(l.accounts) > maxTracked {
		t.Errorf("tracking %d accounts", len(l.accounts))
	}
}
