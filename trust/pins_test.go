package trust

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
)

func TestRotationProven(t *testing.T) {
	tests := []struct {
		keyID      string
		allowPlain bool
		want       bool
	}{
		{"https://coop.example/actor#main-key", false, true},
		{"http://coop.example/actor#main-key", false, false},
		{"http://127.0.0.1:9001/actor#main-key", true, true},
		{"ftp://coop.example/key", true, false},
		{"::", true, false},
	}
	for _, tt := range tests {
		if got := RotationProven(tt.keyID, tt.allowPlain); got != tt.want {
			t.Errorf("RotationProven(%q, %v) = %v", tt.keyID, tt.allowPlain, got)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, _ := rsa.GenerateKey(rand.Reader, 2048)
	b, _ := rsa.GenerateKey(rand.Reader, 2048)
	fa, err := Fingerprint(&a.PublicKey)
	fa2, _ := Fingerprint(&a.PublicKey)
	fb, _ := Fingerprint(&b.PublicKey)
	if err != nil || len(fa) != 64 || fa != fa2 || fa == fb {
		t.Fatalf("fingerprints %s %s %s %v", fa, fa2, fb, err)
	}
}

// memPins keeps pins in memory, as the store keeps them: a first pin
// never replaces one.
type memPins struct {
	m       map[string]PinnedKey
	rotated []PinnedKey
}

func (s *memPins) Pinned(_ context.Context, id string) (PinnedKey, bool, error) {
	k, ok := s.m[id]
	return k, ok, nil
}

func (s *memPins) Pin(_ context.Context, k PinnedKey, _ int) error {
	if _, ok := s.m[k.KeyID]; !ok {
		s.m[k.KeyID] = k
	}
	return nil
}

func (s *memPins) Rotate(_ context.Context, k PinnedKey) error {
	s.m[k.KeyID], s.rotated = k, append(s.rotated, k)
	return nil
}

// Trust on first use: a key id's first key is pinned only when recorded;
// the same key passes; a different one passes only as a rotation proven
// over HTTPS, which is recorded and reported.
func TestPinsTrustOnFirstUse(t *testing.T) {
	ctx := context.Background()
	a, _ := rsa.GenerateKey(rand.Reader, 2048)
	b, _ := rsa.GenerateKey(rand.Reader, 2048)
	st := &memPins{m: map[string]PinnedKey{}}
	var reported []PinnedKey
	pins := NewPins(st, PinsConfig{OnRotated: func(k PinnedKey) { reported = append(reported, k) }})
	for _, tc := range []struct {
		name    string
		key     Key
		record  bool
		wantNew bool
		wantErr error
	}{
		{"first key, not yet recorded", Key{ID: "https://a.example/actor#k", Public: &a.PublicKey}, false, true, nil},
		{"first key again, recorded", Key{ID: "https://a.example/actor#k", Public: &a.PublicKey}, true, true, nil},
		{"the pinned key", Key{ID: "https://a.example/actor#k", Public: &a.PublicKey}, false, false, nil},
		{"another key over plain HTTP", Key{ID: "http://b.example/actor#k", Public: &a.PublicKey}, true, true, nil},
		{"a changed key over plain HTTP", Key{ID: "http://b.example/actor#k", Public: &b.PublicKey}, false, false, ErrUnprovenRotation},
		{"a changed key over HTTPS", Key{ID: "https://a.example/actor#k", Public: &b.PublicKey}, false, false, nil},
		{"the rotated key", Key{ID: "https://a.example/actor#k", Public: &b.PublicKey}, false, false, nil},
	} {
		newPin, err := pins.Check(ctx, "peer.example", tc.key)
		if newPin != tc.wantNew || !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: Check = %v, %v; want %v, %v", tc.name, newPin, err, tc.wantNew, tc.wantErr)
		}
		if tc.record {
			if err := pins.Record(ctx, "peer.example", tc.key); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(st.rotated) != 1 || len(reported) != 1 || reported[0].Rotations != 1 || reported[0].PreviousFingerprint == "" {
		t.Errorf("rotations recorded %+v, reported %+v; want one", st.rotated, reported)
	}
}
