package relaytest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	fedsig "github.com/go-fed/httpsig"
)

// postSigning is how each software signs a POST: the headers, in its
// order, and the algorithm it names (testdata/SOURCES.md).
func postSigning(kind Kind) (headers []string, algorithm string) {
	switch kind {
	case Misskey:
		return []string{fedsig.RequestTarget, "date", "host", "digest"}, "rsa-sha256"
	case Pleroma:
		return []string{fedsig.RequestTarget, "host", "content-length", "digest", "date"}, "rsa-sha256"
	case GoToSocial:
		return []string{fedsig.RequestTarget, "host", "date", "digest"}, "hs2019"
	}
	return []string{"host", "date", "digest", "content-type", fedsig.RequestTarget}, "rsa-sha256"
}

// signerKeyID is the key a body is signed with: GoToSocial signs
// everything with its instance actor's key; the others sign a user's
// activity with that user's key (the fakes' users share the instance's
// key pair, under their own key ids).
func (in *Instance) signerKeyID(body []byte) string {
	var doc struct{ Actor string }
	json.Unmarshal(body, &doc)
	if in.Kind != GoToSocial && doc.Actor != in.ActorID && strings.HasPrefix(doc.Actor, in.Server.URL+"/users/") {
		return doc.Actor + "#main-key"
	}
	return in.KeyID
}

// Post sends body to url signed as the instance's software signs it (its
// headers, algorithm and key), and returns the status and response text.
func (in *Instance) Post(ctx context.Context, url string, body []byte) (int, string, error) {
	return in.PostWith(ctx, url, body, Signing{})
}

// Signing changes how [Instance.PostWith] signs, to make bad requests.
type Signing struct {
	// Unsigned sends no Signature header.
	Unsigned bool
	// Key signs with another key; KeyID names another key id.
	Key   *rsa.PrivateKey
	KeyID string
	// Date overrides the Date header.
	Date time.Time
	// BodyAfterSigning replaces the body after the digest was computed.
	BodyAfterSigning []byte
	// Headers overrides the signed headers.
	Headers []string
	// Host overrides the (signed) Host header: a request signed for
	// another server, replayed.
	Host string
}

// PostWith is Post with signing changes.
func (in *Instance) PostWith(ctx context.Context, url string, body []byte, s Signing) (int, string, error) {
	req, err := in.SignedRequest(ctx, url, body, s)
	if err != nil {
		return 0, "", err
	}
	return in.Do(req)
}

// Do sends a request made by [Instance.SignedRequest] and returns the
// status and response text.
func (in *Instance) Do(req *http.Request) (int, string, error) {
	resp, err := in.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(text)), nil
}

// SignedRequest builds a signed POST of body to url, to send later with
// [Instance.Do] (benchmarks sign ahead so that signing is not timed).
func (in *Instance) SignedRequest(ctx context.Context, url string, body []byte, s Signing) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/activity+json")
	date := time.Now()
	if !s.Date.IsZero() {
		date = s.Date
	}
	req.Header.Set("Date", date.UTC().Format(http.TimeFormat))
	req.Header.Set("Host", req.URL.Host)
	if s.Host != "" {
		req.Host = s.Host
		req.Header.Set("Host", s.Host)
	}
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	if !s.Unsigned {
		headers, algorithm := postSigning(in.Kind)
		if s.Headers != nil {
			headers = s.Headers
		}
		signer, _, err := fedsig.NewSigner([]fedsig.Algorithm{fedsig.RSA_SHA256}, fedsig.DigestSha256, headers, fedsig.Signature, 0)
		if err != nil {
			return nil, err
		}
		in.mu.Lock()
		key := in.Key
		in.mu.Unlock()
		keyID := in.signerKeyID(body)
		if s.Key != nil {
			key = s.Key
		}
		if s.KeyID != "" {
			keyID = s.KeyID
		}
		if err := signer.SignRequest(key, keyID, req, body); err != nil {
			return nil, err
		}
		// go-fed names rsa-sha256; the signature is the same under hs2019.
		sig := req.Header.Get("Signature")
		req.Header.Set("Signature", strings.Replace(sig, `algorithm="rsa-sha256"`, `algorithm="`+algorithm+`"`, 1))
	}
	if s.BodyAfterSigning != nil {
		req.Body = io.NopCloser(bytes.NewReader(s.BodyAfterSigning))
		req.ContentLength = int64(len(s.BodyAfterSigning))
	}
	return req, nil
}
