package delivery_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/delivery"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/schemes"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// takes is what a fake peer verifies: the kinds it accepts; anything else
// gets 401, as Mastodon answers a signature it cannot verify.
type takes map[httpsig.Kind]bool

// TestDoubleKnock delivers three activities, one at a time, to peers that
// each take one way of signing, and counts how each was signed: an unknown
// peer gets draft-cavage first and RFC 9421 once it refused that, and
// after one refusal the relay signs the way the peer took; a peer that
// took neither is not knocked on twice again; a peer known to take
// Ed25519 gets it at once, and one that turns out to refuse it is not
// sent Ed25519 again. Every signature the peers accept verifies.
func TestDoubleKnock(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, edKey, _ := ed25519.GenerateKey(nil)
	signer := &httpsig.Signer{KeyID: "https://relay.example/actor#main-key", Key: rsaKey, Ed25519: edKey}
	peers := map[string]takes{
		"peer0.example": {httpsig.KindCavage: true},
		"peer1.example": {httpsig.KindRFC9421: true},
		"peer2.example": {},
		"peer3.example": {httpsig.KindEd25519: true, httpsig.KindCavage: true},
		"peer4.example": {httpsig.KindCavage: true},
	}
	var mu sync.Mutex
	signed := map[string][]httpsig.Kind{}
	inbox := func(w http.ResponseWriter, r *http.Request) {
		peer := strings.Split(r.URL.Path, "/")[1]
		body, _ := io.ReadAll(r.Body)
		kind, ok := verify(r, body, &rsaKey.PublicKey, edPub)
		mu.Lock()
		signed[peer] = append(signed[peer], kind)
		mu.Unlock()
		if !ok || !peers[peer][kind] {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mem, err := schemes.New(context.Background(), st.Signatures(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mem.Learn("peer3.example", httpsig.KindEd25519)
	mem.Learn("peer4.example", httpsig.KindEd25519) // but it refuses Ed25519
	cfg := delivery.Config{Signer: signer, Schemes: mem, PerPeerConcurrency: 1, MaxAttempts: 1}
	outcomes(t, cfg, inbox, len(peers), 3)

	const cav, rfc, ed = httpsig.KindCavage, httpsig.KindRFC9421, httpsig.KindEd25519
	want := map[string][]httpsig.Kind{
		"peer0.example": {cav, cav, cav},
		"peer1.example": {cav, rfc, rfc, rfc},
		"peer2.example": {cav, rfc, cav, cav},
		"peer3.example": {ed, ed, ed},
		"peer4.example": {ed, cav, cav, cav},
	}
	mu.Lock()
	defer mu.Unlock()
	for peer, w := range want {
		if got := signed[peer]; !equalKinds(got, w) {
			t.Errorf("%s was sent %v, want %v", peer, got, w)
		}
	}
}

func equalKinds(a, b []httpsig.Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// verify checks a delivery's signature the way a peer does, and says how
// it was signed.
func verify(r *http.Request, body []byte, rsaPub *rsa.PublicKey, edPub ed25519.PublicKey) (httpsig.Kind, bool) {
	s, err := httpsig.Check(r, body, time.Now(), httpsig.DefaultWindow, httpsig.Target{Scheme: "http"})
	if err != nil {
		return "unreadable", false
	}
	var pub crypto.PublicKey = rsaPub
	kind := httpsig.KindCavage
	switch {
	case s.Scheme == httpsig.RFC9421 && s.Algorithm == httpsig.AlgEd25519:
		kind, pub = httpsig.KindEd25519, edPub
	case s.Scheme == httpsig.RFC9421:
		kind = httpsig.KindRFC9421
	}
	return kind, s.Verify(pub) == nil
}
