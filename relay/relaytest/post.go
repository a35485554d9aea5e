package relaytest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"strings"
	"time"

	fedsig "github.com/go-fed/httpsig"
)

// Post sends body to url signed with the instance actor's key, as
// fediverse servers do, and returns the status and response text.
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
	if !s.Unsigned {
		headers := s.Headers
		if headers == nil {
			headers = []string{fedsig.RequestTarget, "host", "date", "digest", "content-type"}
		}
		signer, _, err := fedsig.NewSigner([]fedsig.Algorithm{fedsig.RSA_SHA256}, fedsig.DigestSha256, headers, fedsig.Signature, 0)
		if err != nil {
			return nil, err
		}
		in.mu.Lock()
		key := in.Key
		in.mu.Unlock()
		keyID := in.KeyID
		if s.Key != nil {
			key = s.Key
		}
		if s.KeyID != "" {
			keyID = s.KeyID
		}
		if err := signer.SignRequest(key, keyID, req, body); err != nil {
			return nil, err
		}
	}
	if s.BodyAfterSigning != nil {
		req.Body = io.NopCloser(bytes.NewReader(s.BodyAfterSigning))
		req.ContentLength = int64(len(s.BodyAfterSigning))
	}
	return req, nil
}
