package discovery

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeResolver struct {
	keys    map[string]AssertionKey
	fetches int
}

func (f *fakeResolver) AssertionKey(_ context.Context, id string) (AssertionKey, error) {
	f.fetches++
	k, ok := f.keys[id]
	if !ok {
		return k, errors.New("no such key")
	}
	return k, nil
}

func TestMultikeyRoundTrip(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	s := EncodeMultikey(pub)
	if !strings.HasPrefix(s, "z6Mk") {
		t.Errorf("Ed25519 multikeys start z6Mk, got %s", s)
	}
	back, err := DecodeMultikey(s)
	if err != nil || !back.Equal(pub) {
		t.Fatalf("decode = %v, %v", back, err)
	}
	for _, bad := range []string{"", "x123", "z", "zzzz", s[:len(s)-2]} {
		if _, err := DecodeMultikey(bad); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	const actor, keyID = "https://relay.example/actor", "https://relay.example/actor#ed25519-key"
	res := &fakeResolver{keys: map[string]AssertionKey{
		keyID:                             {ID: keyID, Controller: actor, Public: pub},
		"https://relay.example/other#key": {ID: "https://relay.example/other#key", Controller: "https://relay.example/other", Public: pub},
	}}
	rec := func(seq uint64, mutate func(*Record)) Record {
		r := Record{Domain: "relay.example", Actor: actor, Inbox: "https://relay.example/inbox", Software: "runrig 0.1.0",
			Regions: []string{"it-bg"}, Kinds: []string{"surplus"}, PeerID: "12D3KooW", Seq: seq,
			Issued: now.Add(-time.Minute), Expires: now.Add(24 * time.Hour)}
		if mutate != nil {
			mutate(&r)
		}
		return r
	}
	sign := func(r Record, id string, k ed25519.PrivateKey) []byte {
		b, err := Sign(r, id, k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tamper := func(b []byte) []byte { return []byte(strings.Replace(string(b), "it-bg", "it-mi", 1)) }
	// The record travels base64-less inside JSON; tampering its bytes must
	// break the signature.
	tampered := func() []byte {
		var s Signed
		json.Unmarshal(sign(rec(50, nil), keyID, priv), &s)
		s.Record = json.RawMessage(tamper(s.Record))
		b, _ := json.Marshal(s)
		return b
	}()
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"valid", sign(rec(10, nil), keyID, priv), nil},
		{"replay", sign(rec(10, nil), keyID, priv), ErrReplay},
		{"older", sign(rec(9, nil), keyID, priv), ErrReplay},
		{"newer", sign(rec(11, nil), keyID, priv), nil},
		{"tampered", tampered, ErrForged},
		{"wrong signer", sign(rec(20, nil), keyID, otherPriv), ErrForged},
		{"key of another actor", sign(rec(21, nil), "https://relay.example/other#key", priv), ErrKey},
		{"unknown key", sign(rec(22, nil), "https://relay.example/actor#nope", priv), ErrKey},
		{"expired", sign(rec(23, func(r *Record) { r.Expires = now.Add(-time.Second) }), keyID, priv), ErrExpired},
		{"too long", sign(rec(24, func(r *Record) { r.Expires = r.Issued.Add(49 * time.Hour) }), keyID, priv), ErrExpired},
		{"from the future", sign(rec(25, func(r *Record) { r.Issued = now.Add(time.Hour) }), keyID, priv), ErrExpired},
		{"actor on another domain", sign(rec(26, func(r *Record) { r.Actor = "https://evil.example/actor" }), keyID, priv), ErrMalformed},
		{"key on another domain", sign(rec(27, nil), "https://evil.example/actor#k", priv), ErrMalformed},
		{"blocked", sign(rec(28, func(r *Record) {
			r.Domain, r.Actor, r.Inbox = "blocked.example", "https://blocked.example/a", "https://blocked.example/i"
		}), "https://blocked.example/a#k", priv), ErrBlocked},
		{"not JSON", []byte("{"), ErrMalformed},
		{"unknown field", []byte(`{"record":{"v":1,"surprise":1},"key":"https://relay.example/actor#k","sig":"` + strings.Repeat("A", 86) + `=="}`), ErrMalformed},
		{"too large", []byte(strings.Repeat(" ", MaxRecordBytes+1)), ErrTooLarge},
	}
	v := NewVerifier(res)
	v.now = func() time.Time { return now }
	v.Permit = func(d string) bool { return d != "blocked.example" }
	for _, tt := range tests {
		_, err := v.Verify(context.Background(), tt.b)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && Reason(err) == "unverifiable" {
			t.Errorf("%s: no reason label for %v", tt.name, err)
		}
	}
	if res.fetches > 4 {
		t.Errorf("key fetched %d times; verified keys are cached until the record expires", res.fetches)
	}
}

func FuzzParse(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	b, _ := Sign(Record{Domain: "a.example", Actor: "https://a.example/actor", Inbox: "https://a.example/inbox",
		Issued: time.Now(), Expires: time.Now().Add(time.Hour)}, "https://a.example/actor#k", priv)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, r, err := Parse(b)
		if err == nil && (r.Domain == "" || s.Key == "" || len(s.Sig) != ed25519.SignatureSize) {
			t.Fatalf("accepted %q", b)
		}
	})
}
