package fetch

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
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
