package trust

import (
	"crypto/rand"
	"crypto/rsa"
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
