package proof

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
)

// The W3C vc-di-eddsa key pair (testdata/w3c-eddsa-jcs-2022/keyPair.json).
const (
	vectorPublic  = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
	vectorPrivate = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
)

func TestMultikeyVector(t *testing.T) {
	raw, err := os.ReadFile("testdata/w3c-eddsa-jcs-2022/keyPair.json")
	if err != nil {
		t.Fatal(err)
	}
	var kp struct{ PublicKeyMultibase, PrivateKeyMultibase string }
	if err := json.Unmarshal(raw, &kp); err != nil || kp.PublicKeyMultibase != vectorPublic || kp.PrivateKeyMultibase != vectorPrivate {
		t.Fatalf("keyPair.json: %+v, %v", kp, err)
	}
	pub, err := DecodeMultikey(vectorPublic)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := DecodePrivateMultikey(vectorPrivate)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
		t.Error("private Multikey's public half is not the public Multikey")
	}
	if got := EncodeMultikey(pub); got != vectorPublic {
		t.Errorf("EncodeMultikey = %s, want %s", got, vectorPublic)
	}
	if got := EncodePrivateMultikey(priv); got != vectorPrivate {
		t.Errorf("EncodePrivateMultikey = %s, want %s", got, vectorPrivate)
	}
}

func TestMultikeyRoundTrip(t *testing.T) {
	for i := 0; i < 50; i++ {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		s := EncodeMultikey(pub)
		if !strings.HasPrefix(s, "z6Mk") {
			t.Fatalf("public Multikey %s does not start z6Mk", s)
		}
		back, err := DecodeMultikey(s)
		if err != nil || !bytes.Equal(back, pub) {
			t.Fatalf("round trip of %x: %x, %v", pub, back, err)
		}
		ps := EncodePrivateMultikey(priv)
		if !strings.HasPrefix(ps, "z3u2") {
			t.Fatalf("private Multikey %s does not start z3u2", ps)
		}
		pback, err := DecodePrivateMultikey(ps)
		if err != nil || !bytes.Equal(pback, priv) {
			t.Fatalf("private round trip: %v", err)
		}
	}
}

func TestBase58(t *testing.T) {
	for _, tc := range []struct{ hex, b58 string }{
		{"00", "1"},
		{"0000ff", "115Q"},
		{"61", "2g"},
		{"626262", "a3gV"},
		{"516b6fcd0f", "ABnLTmg"},
		{"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
	} {
		b, _ := hex.DecodeString(tc.hex)
		if got := base58Encode(b); got != tc.b58 {
			t.Errorf("encode %s = %s, want %s", tc.hex, got, tc.b58)
		}
		if got, err := base58Decode(tc.b58); err != nil || !bytes.Equal(got, b) {
			t.Errorf("decode %s = %x, %v", tc.b58, got, err)
		}
	}
	if _, err := base58Decode("0OIl"); err == nil {
		t.Error("characters outside the alphabet accepted")
	}
}

func TestDecodeMultikeyRefuses(t *testing.T) {
	pub, priv := vectorKeys(t)
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"no multibase prefix", vectorPublic[1:]},
		{"base64url multibase", "u7QE"},
		{"private key as public", vectorPrivate},
		{"too short", vectorPublic[:20]},
		{"too long", vectorPublic + "z"},
		{"absurdly long", "z" + strings.Repeat("2", 10000)},
		{"bad character", vectorPublic[:10] + "0" + vectorPublic[11:]},
	} {
		if _, err := DecodeMultikey(tc.in); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if _, err := DecodePrivateMultikey(vectorPublic); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("public key as private: err = %v", err)
	}
	if EncodeMultikey(pub[:31]) != "" || EncodePrivateMultikey(priv[:32]) != "" {
		t.Error("short keys encoded")
	}
}

func vectorKeys(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	priv, err := DecodePrivateMultikey(vectorPrivate)
	if err != nil {
		t.Fatal(err)
	}
	return priv.Public().(ed25519.PublicKey), priv
}

func TestParsePrivateKey(t *testing.T) {
	_, priv := vectorKeys(t)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	rsaLike := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"PKCS#8 PEM", string(pemKey), true},
		{"PEM with blank lines around", "\n\n" + string(pemKey) + "\n", true},
		{"Multikey line", vectorPrivate + "\n", true},
		{"wrong PEM type", string(rsaLike), false},
		{"two PEM blocks", string(pemKey) + string(pemKey), false},
		{"broken PEM", "-----BEGIN PRIVATE KEY-----\nAAAA\n", false},
		{"PEM of garbage", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("no")})), false},
		{"Multikey on two lines", vectorPrivate[:20] + "\n" + vectorPrivate[20:], false},
		{"public Multikey", vectorPublic, false},
		{"empty", "", false},
		{"huge", strings.Repeat(" ", maxKeyFileSize+1), false},
	} {
		key, err := ParsePrivateKey([]byte(tc.in))
		switch {
		case tc.ok && (err != nil || !bytes.Equal(key, priv)):
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !errors.Is(err, ErrInvalidKey):
			t.Errorf("%s: err = %v, want ErrInvalidKey", tc.name, err)
		}
	}
}
