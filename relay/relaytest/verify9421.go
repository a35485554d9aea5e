package relaytest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	dsig "github.com/dadrus/httpsig"

	"github.com/runrig/runrig/discovery"
)

// verifyRFC9421 checks an RFC 9421 signature independently of the relay's
// code, with the dadrus/httpsig library: RSA keys from the signer's
// publicKey, Ed25519 keys from its assertionMethod. Only instances that
// say they take RFC 9421 (Config.Ed25519) are sent it.
func (in *Instance) verifyRFC9421(r *http.Request, body []byte) (string, string) {
	var keyID string
	v, err := dsig.NewVerifier(keyResolver(func(ctx context.Context, id string) (dsig.Key, error) {
		keyID = id
		return in.fetchAnyKey(id)
	}), dsig.WithRequiredComponents("@method", "@target-uri", "content-digest"),
		dsig.WithExpiredTimestampRequired(false), dsig.WithValidateAllSignatures(), dsig.WithMaxAge(13*3600e9))
	if err != nil {
		return "", err.Error()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	msg := dsig.MessageFromRequest(r)
	msg.URL.Scheme, msg.URL.Host = "http", r.Host
	if err := v.Verify(msg); err != nil {
		return "", err.Error()
	}
	return keyID, ""
}

type keyResolver func(ctx context.Context, id string) (dsig.Key, error)

func (f keyResolver) ResolveKey(ctx context.Context, id string) (dsig.Key, error) { return f(ctx, id) }

// fetchAnyKey returns the relay's RSA key (publicKey) or Ed25519 key
// (assertionMethod Multikey) named id.
func (in *Instance) fetchAnyKey(id string) (dsig.Key, error) {
	if !strings.HasSuffix(id, "#ed25519-key") {
		k, err := in.fetchKey(id)
		return dsig.Key{KeyID: id, Algorithm: dsig.RsaPkcs1v15Sha256, Key: k}, err
	}
	actorURL, _, _ := strings.Cut(id, "#")
	req, _ := http.NewRequest(http.MethodGet, actorURL, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := in.client.Do(req)
	if err != nil {
		return dsig.Key{}, err
	}
	defer resp.Body.Close()
	var doc struct {
		ID              string `json:"id"`
		AssertionMethod []struct {
			ID, Controller, PublicKeyMultibase string
		} `json:"assertionMethod"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return dsig.Key{}, err
	}
	for _, m := range doc.AssertionMethod {
		if m.ID == id && m.Controller == doc.ID {
			pub, err := discovery.DecodeMultikey(m.PublicKeyMultibase)
			return dsig.Key{KeyID: id, Algorithm: dsig.Ed25519, Key: ed25519.PublicKey(pub)}, err
		}
	}
	return dsig.Key{}, fmt.Errorf("%w: %s", errors.New("no such Multikey"), id)
}
