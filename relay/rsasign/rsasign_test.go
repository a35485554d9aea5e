package rsasign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeys generates each key size once per test binary.
var testKeys = map[int]func() (*rsa.PrivateKey, error){
	1024: sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 1024) }),
	2048: sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }),
	3072: sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 3072) }),
}

func testKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := testKeys[bits]()
	if err != nil {
		t.Fatalf("generate %d-bit key: %v", bits, err)
	}
	return k
}

// backends lists the backends this test binary can use.
func backends() []string {
	if cgoBuilt {
		return []string{Go, OpenSSL}
	}
	return []string{Go}
}

func TestSignVerify(t *testing.T) {
	for _, bits := range []int{1024, 2048, 3072} {
		t.Run(fmt.Sprintf("bits=%d", bits), func(t *testing.T) {
			k := testKey(t, bits)
			digest := sha256.Sum256([]byte("POST /inbox\nhost: relay.example"))
			tampered := digest
			tampered[7] ^= 0x01
			sigs := map[string][]byte{}
			for _, backend := range backends() {
				key, err := New(k, backend)
				if err != nil {
					t.Fatalf("New(%q): %v", backend, err)
				}
				if key.Backend() != backend {
					t.Fatalf("New(%q).Backend() = %q", backend, key.Backend())
				}
				if !key.Public().Equal(&k.PublicKey) {
					t.Fatalf("%s: Public() is not the key's public half", backend)
				}
				sig, err := key.SignSHA256(digest[:])
				if err != nil {
					t.Fatalf("%s: SignSHA256: %v", backend, err)
				}
				if len(sig) != k.Size() {
					t.Errorf("%s: signature is %d bytes, want %d", backend, len(sig), k.Size())
				}
				if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
					t.Errorf("%s: signature does not verify: %v", backend, err)
				}
				if rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, tampered[:], sig) == nil {
					t.Errorf("%s: signature verifies a tampered digest", backend)
				}
				sigs[backend] = sig
			}
			if cgoBuilt && !bytes.Equal(sigs[Go], sigs[OpenSSL]) {
				t.Errorf("go and openssl signatures differ:\n go      %x\n openssl %x", sigs[Go], sigs[OpenSSL])
			}
		})
	}
}

func TestDigestSize(t *testing.T) {
	k := testKey(t, 2048)
	for _, backend := range backends() {
		key, err := New(k, backend)
		if err != nil {
			t.Fatalf("New(%q): %v", backend, err)
		}
		for _, n := range []int{0, 1, 20, 31, 33, 48, 64} {
			sig, err := key.SignSHA256(make([]byte, n))
			if !errors.Is(err, ErrDigestSize) || sig != nil {
				t.Errorf("%s: %d-byte digest: sig %d bytes, err %v; want ErrDigestSize", backend, n, len(sig), err)
			}
		}
	}
}

func TestNew(t *testing.T) {
	k := testKey(t, 2048)
	best, forced := Go, ErrUnavailable
	if cgoBuilt {
		best, forced = OpenSSL, nil
	}
	tests := []struct {
		name    string
		key     *rsa.PrivateKey
		backend string
		want    string // backend chosen, when err is nil
		err     error
	}{
		{"best", k, "", best, nil},
		{"go", k, Go, Go, nil},
		{"openssl", k, OpenSSL, OpenSSL, forced},
		{"unknown", k, "boringssl", "", ErrBackend},
		{"case", k, "OpenSSL", "", ErrBackend},
		{"nil best", nil, "", "", ErrNoKey},
		{"nil go", nil, Go, "", ErrNoKey},
		{"nil openssl", nil, OpenSSL, "", ErrNoKey},
		{"empty key", &rsa.PrivateKey{}, "", "", ErrNoKey},
		{"bad key", &rsa.PrivateKey{PublicKey: k.PublicKey, D: k.Primes[0], Primes: k.Primes}, "", "", ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := New(tt.key, tt.backend)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || key != nil {
					t.Fatalf("New(%q) = %v, %v; want error %v", tt.backend, key, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.backend, err)
			}
			if key.Backend() != tt.want {
				t.Fatalf("New(%q).Backend() = %q, want %q", tt.backend, key.Backend(), tt.want)
			}
		})
	}
}

func TestNewGoNil(t *testing.T) {
	key := NewGo(nil)
	sum := sha256.Sum256(nil)
	if _, err := key.SignSHA256(sum[:]); !errors.Is(err, ErrNoKey) {
		t.Errorf("NewGo(nil).SignSHA256 err = %v, want ErrNoKey", err)
	}
	if key.Public() != nil {
		t.Errorf("NewGo(nil).Public() = %v, want nil", key.Public())
	}
}

func TestAvailable(t *testing.T) {
	ok, why := Available()
	if ok != cgoBuilt {
		t.Fatalf("Available() = %v (%s), want %v", ok, why, cgoBuilt)
	}
	want := "cgo"
	if cgoBuilt {
		want = "OpenSSL 3"
	}
	if !strings.Contains(why, want) {
		t.Errorf("Available() why = %q, want it to mention %q", why, want)
	}
	_, err := NewOpenSSL(testKey(t, 2048))
	if cgoBuilt != (err == nil) || (err != nil && !errors.Is(err, ErrUnavailable)) {
		t.Errorf("NewOpenSSL: %v (cgo %v)", err, cgoBuilt)
	}
}

// TestConcurrentOpenSSL shares one OpenSSL key among goroutines that each
// sign their own digests; run under -race.
func TestConcurrentOpenSSL(t *testing.T) {
	if !cgoBuilt {
		t.Skip("openssl backend not built (no cgo)")
	}
	const workers, signs = 8, 200
	k := testKey(t, 2048)
	key, err := NewOpenSSL(k)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range signs {
				digest := sha256.Sum256(fmt.Appendf(nil, "worker %d sign %d", w, i))
				sig, err := key.SignSHA256(digest[:])
				if err == nil {
					err = rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig)
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d sign %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRate(t *testing.T) {
	key := NewGo(testKey(t, 1024))
	if r := Rate(key, 50*time.Millisecond); r <= 0 {
		t.Errorf("Rate(go, 50ms) = %v, want > 0", r)
	}
	if r := Rate(NewGo(nil), 20*time.Millisecond); r != 0 {
		t.Errorf("Rate of a key that cannot sign = %v, want 0", r)
	}
	if r := Rate(key, 0); r != 0 {
		t.Errorf("Rate(go, 0) = %v, want 0", r)
	}
}
