package relay

import (
	"context"
	"crypto/rsa"
	"fmt"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/rsasign"
	"github.com/runrig/runrig/relay/schemes"
)

// signing is how the relay signs: which backend signs with the RSA key,
// and the memory of how each peer host takes signatures.
type signing struct {
	// backend is what signs with the RSA key: "openssl" or "go".
	backend string
	schemes *schemes.Memory
	// verified counts an inbound signature that verified, by kind; set
	// once the metrics exist.
	verified func(kind httpsig.Kind)
}

// newSigner builds what signs the relay's requests: its RSA key through
// the configured backend (OpenSSL's libcrypto when the binary has it), its
// Ed25519 key (the announcement key) for RFC 9421 to peers that take it,
// and the memory of how each peer host takes signatures.
func (s *Server) newSigner(ctx context.Context, key *rsa.PrivateKey) error {
	rk, err := rsasign.New(key, s.cfg.SigningBackend)
	if err != nil {
		return fmt.Errorf("signing-backend: %w", err)
	}
	s.signing.backend = rk.Backend()
	s.signer = &httpsig.Signer{KeyID: s.keyID, Key: key, RSA: rk, Ed25519: s.announceKey, Ring: bridgeRing{s}}
	s.signing.schemes, err = schemes.New(ctx, s.store.Signatures(), s.log.With("component", "signatures"))
	if err != nil {
		return fmt.Errorf("signature memory: %w", err)
	}
	return nil
}

// learn records how a peer signed a request that verified: a server that
// signs with RFC 9421 (with RSA or Ed25519) takes it too.
func (g *signing) learn(keyID, scheme string, ed25519 bool) {
	kind := httpsig.KindCavage
	switch {
	case scheme == httpsig.RFC9421 && ed25519:
		kind = httpsig.KindEd25519
	case scheme == httpsig.RFC9421:
		kind = httpsig.KindRFC9421
	}
	if g.verified != nil {
		g.verified(kind)
	}
	if kind == httpsig.KindCavage {
		return
	}
	if host, err := policy.PeerOf(keyID); err == nil {
		g.schemes.Learn(host, kind)
	}
}

// signsWith says how the relay signs to peer now, for the admin view.
func (g *signing) signsWith(peer string) string {
	first, _ := g.schemes.Plan(peer)
	if len(g.schemes.Of(peer)) == 0 {
		return string(first) + " (default)"
	}
	return string(first)
}
