package fetch

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	fedsig "github.com/go-fed/httpsig"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
)

func pemOf(t *testing.T, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestFetchKeySignedAndGuarded(t *testing.T) {
	relayKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	peerKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	var srv *httptest.Server
	var sawSigned bool
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := fedsig.NewVerifier(r)
		sawSigned = err == nil && v.Verify(&relayKey.PublicKey, fedsig.RSA_SHA256) == nil
		switch r.URL.Path {
		case "/actor":
			fmt.Fprintf(w, `{"id":%q,"type":"Application","inbox":%q,"publicKey":[{"id":%q,"owner":%q,"publicKeyPem":%q}]}`,
				srv.URL+"/actor", srv.URL+"/inbox", srv.URL+"/actor#main-key", srv.URL+"/actor", pemOf(t, peerKey))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2048)))
		case "/foreign":
			fmt.Fprintf(w, `{"id":"https://elsewhere.example/actor","inbox":"https://elsewhere.example/inbox"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	signer := &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: relayKey}
	c := New(Config{Egress: policy.Egress{AllowPrivate: true}, Signer: signer, MaxBody: 1024})
	ctx := context.Background()

	k, err := c.FetchKey(ctx, srv.URL+"/actor#main-key")
	if err != nil {
		t.Fatal(err)
	}
	if k.Owner != srv.URL+"/actor" || !k.Public.(*rsa.PublicKey).Equal(&peerKey.PublicKey) {
		t.Fatalf("key = %+v", k)
	}
	if !sawSigned {
		t.Error("GET was not signed with the relay key")
	}
	if _, err := c.FetchKey(ctx, srv.URL+"/actor#other-key"); !errors.Is(err, ErrNoKey) {
		t.Errorf("unknown key id = %v", err)
	}
	if _, err := c.Get(ctx, srv.URL+"/big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized body = %v", err)
	}
	if _, err := c.Actor(ctx, srv.URL+"/foreign"); !errors.Is(err, ErrForeignID) {
		t.Errorf("foreign id = %v", err)
	}
	if _, err := c.Get(ctx, srv.URL+"/missing"); !errors.Is(err, ErrStatus) {
		t.Errorf("404 = %v", err)
	}

	strict := New(Config{Signer: signer})
	if _, err := strict.Get(ctx, srv.URL+"/actor"); !errors.Is(err, policy.ErrForbiddenAddress) {
		t.Errorf("loopback fetch without AllowPrivate = %v", err)
	}
	if _, err := strict.Get(ctx, "file:///etc/passwd"); err == nil {
		t.Error("file URL fetched")
	}
}
