package relaytest

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	fedsig "github.com/go-fed/httpsig"
)

// verify checks a delivery's signature independently of the relay's code:
// go-fed/httpsig for the signature, plus the Digest and Date checks that
// library leaves to its caller.
func (in *Instance) verify(r *http.Request, body []byte) (string, string) {
	if r.Header.Get("Signature-Input") != "" {
		if in.Ed25519 == nil {
			return "", "RFC 9421 sent to an instance that does not say it takes it"
		}
		return in.verifyRFC9421(r, body)
	}
	v, err := fedsig.NewVerifier(r)
	if err != nil {
		return "", err.Error()
	}
	sum := sha256.Sum256(body)
	if r.Header.Get("Digest") != "SHA-256="+base64.StdEncoding.EncodeToString(sum[:]) {
		return "", "digest mismatch"
	}
	if !strings.Contains(r.Header.Get("Signature"), "digest") {
		return "", "digest not signed"
	}
	d, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil || time.Since(d).Abs() > time.Hour {
		return "", "date outside window"
	}
	pub, err := in.fetchKey(v.KeyId())
	if err != nil {
		return "", err.Error()
	}
	if err := v.Verify(pub, fedsig.RSA_SHA256); err != nil {
		return "", err.Error()
	}
	return v.KeyId(), ""
}

func (in *Instance) fetchKey(keyID string) (*rsa.PublicKey, error) {
	in.mu.Lock()
	k := in.relayKey[keyID]
	in.mu.Unlock()
	if k != nil {
		return k, nil
	}
	actorURL, _, _ := strings.Cut(keyID, "#")
	req, _ := http.NewRequest(http.MethodGet, actorURL, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		PublicKey struct {
			ID, Owner, PublicKeyPem string
		} `json:"publicKey"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.PublicKey.ID != keyID {
		return nil, fmt.Errorf("key id %q not in actor", keyID)
	}
	block, _ := pem.Decode([]byte(doc.PublicKey.PublicKeyPem))
	if block == nil {
		return nil, errors.New("no PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not RSA")
	}
	in.mu.Lock()
	in.relayKey[keyID] = rk
	in.mu.Unlock()
	return rk, nil
}
