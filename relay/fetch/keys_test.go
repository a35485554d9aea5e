package fetch

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/relaytest"
)

// A key id whose document is a minimal actor (GoToSocial's
// /users/HOST/main-key: id, preferredUsername, publicKey, no inbox) gives
// the key, and never stands in for the actor: the actor, with its inbox,
// is fetched from its own id.
func TestKeyDocumentIsNotTheActor(t *testing.T) {
	relayKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	signer := &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: relayKey}
	c := New(Config{Egress: policy.Egress{AllowPrivate: true}, Signer: signer})
	ctx := context.Background()
	for _, kind := range []relaytest.Kind{relaytest.GoToSocial, relaytest.Mastodon, relaytest.Misskey, relaytest.Pleroma} {
		t.Run(string(kind), func(t *testing.T) {
			in, err := relaytest.New(kind, relaytest.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			k, err := c.FetchKey(ctx, in.KeyID)
			if err != nil {
				t.Fatalf("FetchKey(%s) = %v", in.KeyID, err)
			}
			if k.Owner != in.ActorID || !k.Public.(*rsa.PublicKey).Equal(&in.Key.PublicKey) {
				t.Fatalf("key = %+v, want owner %s", k, in.ActorID)
			}
			a, err := c.Actor(ctx, in.ActorID)
			if err != nil {
				t.Fatal(err)
			}
			if a.Inbox != in.Inbox || a.DeliveryInbox() == "" {
				t.Fatalf("actor after the key fetch = %+v, want inbox %s", a, in.Inbox)
			}
		})
	}
}

// ParseKey takes a key only when it is the one asked for and both it and
// the document holding it are on the key id's host.
func TestParseKeyRefusesForeignKeys(t *testing.T) {
	in, err := relaytest.New(relaytest.GoToSocial, relaytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	pem := strings.ReplaceAll(pemOf(t, in.Key), "\n", `\n`)
	const host = "https://a.example"
	keyID := host + "/users/a/main-key"
	doc := func(id, kid, owner string) []byte {
		return []byte(`{"id":"` + id + `","publicKey":{"id":"` + kid + `","owner":"` + owner + `","publicKeyPem":"` + pem + `"}}`)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"minimal actor", doc(host+"/users/a", keyID, host+"/users/a"), nil},
		{"key owned by another actor", doc(host+"/users/a", keyID, host+"/users/b"), ErrForeignID},
		{"document on another host", doc("https://b.example/users/a", keyID, "https://b.example/users/a"), ErrForeignID},
		{"another key id", doc(host+"/users/a", host+"/users/a/other-key", host+"/users/a"), ErrNoKey},
		{"key object owned elsewhere", []byte(`{"id":"` + keyID + `","owner":"https://b.example/users/a","publicKeyPem":"` + pem + `"}`), ErrForeignID},
		{"key object for another id", []byte(`{"id":"` + host + `/k2","owner":"` + host + `/users/a","publicKeyPem":"` + pem + `"}`), ErrForeignID},
		{"no key", []byte(`{"id":"` + host + `/users/a"}`), ErrNoKey},
		{"not JSON", []byte(`<html>`), ErrNoKey},
	} {
		k, err := ParseKey(tc.body, keyID)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: ParseKey = %+v, %v; want %v", tc.name, k, err, tc.want)
		}
	}
}

// A fetch does not follow a redirect to another host: a document served
// from there could claim an id on the host that was asked.
func TestFetchStaysOnHost(t *testing.T) {
	other, err := relaytest.New(relaytest.Mastodon, relaytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	redirector := httptest.NewServer(http.RedirectHandler(other.ActorID, http.StatusFound))
	defer redirector.Close()
	c := New(Config{Egress: policy.Egress{AllowPrivate: true}})
	if _, err := c.Get(context.Background(), redirector.URL+"/actor"); err == nil {
		t.Fatal("followed a redirect to another host")
	}
}
