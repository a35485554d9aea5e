package fetch

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/proof"
)

// fedifyDoc reads a document captured from a real Fedify 2.3.6.
func fedifyDoc(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "relaytest", "testdata", "fedify", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// What a real Fedify sent verifies as it is: the RFC 9421 signature of its
// request with the RSA key of its actor's publicKey, and the FEP-8b32
// proof on its Create with the Ed25519 Multikey of the actor's
// assertionMethod; a changed byte fails either.
func TestFedifySignatureAndProofVerify(t *testing.T) {
	actor := fedifyDoc(t, "actor.json")
	const actorID = "http://127.0.0.1:28600/users/alice"
	rsaKey, err := ParseKey(actor, actorID+"#main-key")
	if err != nil {
		t.Fatal(err)
	}
	edKey, err := ParseKey(actor, actorID+"#multikey-2")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rsaKey.Public.(*rsa.PublicKey); !ok {
		t.Fatalf("publicKey is %T", rsaKey.Public)
	}
	if edKey.Owner != actorID {
		t.Fatalf("Multikey owner %s", edKey.Owner)
	}
	body := fedifyDoc(t, "create-with-proof.json")
	request := func(body []byte) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:28555/inbox", bytes.NewReader(body))
		sc := bufio.NewScanner(bytes.NewReader(fedifyDoc(t, "create-with-proof.headers")))
		sc.Buffer(nil, 64<<10)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			req.Header.Add(k, v)
		}
		req.Host = req.Header.Get("Host")
		return req
	}
	created := time.Date(2026, 12, 2, 15, 47, 37, 0, time.UTC)
	s, err := httpsig.Check(request(body), body, created, httpsig.DefaultWindow, httpsig.Target{Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(rsaKey.Public); err != nil {
		t.Fatalf("Fedify's RFC 9421 signature: %v", err)
	}
	resolve := func(vm string) (ed25519.PublicKey, error) {
		if vm != edKey.ID {
			return nil, errors.New("unknown method " + vm)
		}
		return edKey.Public.(ed25519.PublicKey), nil
	}
	if _, err := proof.Verify(body, resolve); err != nil {
		t.Fatalf("Fedify's proof: %v", err)
	}
	changed := bytes.Replace(body, []byte(`"note 1"`), []byte(`"note 2"`), 1)
	if _, err := proof.Verify(changed, resolve); !errors.Is(err, proof.ErrBadProof) {
		t.Fatalf("changed Create's proof: %v", err)
	}
	if _, err := httpsig.Check(request(changed), changed, created, httpsig.DefaultWindow, httpsig.Target{Scheme: "http"}); !errors.Is(err, httpsig.ErrDigestMismatch) {
		t.Fatalf("changed Create's digest: %v", err)
	}
}
