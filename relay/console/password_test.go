package console

import (
	"strconv"
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
	t0 := time.Unix(1_700_000_000, 0)
	l := newLoginLimiter()
	for i := 0; i < accountFailures; i++ {
		wait, done := l.reserve("ana", "10.0.0.1", t0)
		if wait != 0 {
			t.Fatalf("locked after %d failures", i)
		}
		done(failedAttempt)
	}
	tests := []struct {
		account, addr string
		at            time.Duration
		locked        bool
	}{
		{"ana", "10.0.0.2", 0, true},                 // the account, from anywhere
		{"bob", "10.0.0.1", 0, false},                // the address is under its own bound
		{"", "10.0.0.1", 0, false},                   // a made-up name is not tracked
		{"ana", "", 0, true},                         // an unknown address changes nothing
		{"ana", "10.0.0.1", failureWindow - 1, true}, // until the window ends
		{"ana", "10.0.0.1", failureWindow, false},
	}
	for _, tt := range tests {
		wait, done := l.reserve(tt.account, tt.addr, t0.Add(tt.at))
		if (wait > 0) != tt.locked {
			t.Errorf("reserve(%q, %q, +%v) waits %v, want locked %v", tt.account, tt.addr, tt.at, wait, tt.locked)
		}
		if done != nil {
			done(notTried)
		}
	}

	// Attempts in progress count: the sixth parallel guess is refused
	// before any of the five has failed.
	l = newLoginLimiter()
	var dones []func(outcome)
	for i := 0; i < accountFailures; i++ {
		wait, done := l.reserve("ana", "", t0)
		if wait != 0 {
			t.Fatalf("attempt %d refused", i)
		}
		dones = append(dones, done)
	}
	if wait, _ := l.reserve("ana", "", t0); wait == 0 {
		t.Error("a sixth attempt in parallel was let through")
	}
	dones[0](succeeded)
	if wait, _ := l.reserve("ana", "", t0); wait != 0 {
		t.Error("a success did not clear the account's count")
	}

	// A locked address is never forgotten to make room: with every place
	// locked, a new address waits.
	l = newLoginLimiter()
	for i := 0; i < maxTracked; i++ {
		addr := "10." + strconv.Itoa(i/65536) + "." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256)
		for j := 0; j < addressFailures; j++ {
			_, done := l.reserve("", addr, t0)
			done(failedAttempt)
		}
	}
	if wait, _ := l.reserve("", "10.0.0.0", t0); wait == 0 {
		t.Error("the first locked address was forgotten")
	}
	if wait, _ := l.reserve("", "192.0.2.1", t0); wait == 0 {
		t.Error("a new address got a place when every place was locked")
	}
	if wait, _ := l.reserve("", "192.0.2.1", t0.Add(failureWindow)); wait != 0 {
		t.Error("expired lockouts did not make room")
	}
}
