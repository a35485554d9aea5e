package fetch

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/schemes"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// A server that takes only RFC 9421 on signed GETs (401 to draft-cavage)
// is knocked on twice once, then signed to with RFC 9421 at once; an actor
// whose generator says its server takes RFC 9421 with Ed25519 (FEP-844e,
// as Mitra publishes it) is signed to with Ed25519 from then on.
func TestSignedGetsFollowTheMemory(t *testing.T) {
	var mu sync.Mutex
	var got []string
	doc := `{"id":"%s/users/a","type":"Person","inbox":"%s/users/a/inbox","generator":{"type":"Application","implements":[
		{"name":"RFC-9421: HTTP Message Signatures","href":"https://datatracker.ietf.org/doc/html/rfc9421"},
		{"name":"RFC-9421 signatures using the Ed25519 algorithm","href":"https://datatracker.ietf.org/doc/html/rfc9421#name-eddsa-using-curve-edwards25"}]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := httpsig.Check(r, nil, time.Now(), httpsig.DefaultWindow, httpsig.Target{Scheme: "http"})
		kind := "unsigned"
		if err == nil {
			kind = s.Scheme + "/" + s.Algorithm
		}
		mu.Lock()
		got = append(got, kind)
		mu.Unlock()
		if err != nil || s.Scheme != httpsig.RFC9421 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		base := "http://" + r.Host
		io.WriteString(w, strings.ReplaceAll(strings.Replace(doc, "%s", base, 1), "%s", base))
	}))
	defer srv.Close()
	c, _ := clientWithMemory(t)
	if _, err := c.Get(context.Background(), srv.URL+"/users/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/users/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Actor(context.Background(), srv.URL+"/users/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/users/b"); err != nil {
		t.Fatal(err)
	}
	want := []string{"cavage/rsa-sha256", "rfc9421/rsa-v1_5-sha256", "rfc9421/rsa-v1_5-sha256", "rfc9421/rsa-v1_5-sha256", "rfc9421/ed25519"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("GETs were signed %v, want %v", got, want)
	}
}

// clientWithMemory is a client that signs as a relay with an RSA and an
// Ed25519 key, following a scheme memory kept in a fresh store.
func clientWithMemory(t *testing.T) (*Client, *schemes.Memory) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mem, err := schemes.New(context.Background(), st.Signatures(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(nil)
	return New(Config{Egress: policy.Egress{AllowPrivate: true}, Schemes: mem,
		Signer: &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: key, Ed25519: edKey}}), mem
}
