package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/dfc"
)

// maxCatalogBytes is the default bound of a catalog.
const maxCatalogBytes = dfc.MaxCatalogBytes

// Errors reading a catalog, matched with errors.Is.
var (
	// ErrCredentials: the catalog server refused the bridge's token (or
	// wants one).
	ErrCredentials = errors.New("the catalog server refused the credentials")
	// ErrCatalogStatus: the catalog server answered something else than
	// the catalog.
	ErrCatalogStatus = errors.New("the catalog server answered")
	// ErrTooLarge: the catalog is larger than the bound.
	ErrTooLarge = errors.New("the catalog is too large")
	// ErrRefusedHost: the moderation rules block the catalog's host.
	ErrRefusedHost = errors.New("the catalog's host is blocked by the moderation rules")
	// ErrUnreachable: the catalog server could not be reached or did not
	// answer in time.
	ErrUnreachable = errors.New("the catalog server could not be reached")
)

// newClient is the HTTP client catalogs are read with: dialled through
// the egress guard, bounded in time, following redirects only on the same
// host (the token goes nowhere else).
func newClient(cfg Config) *http.Client {
	return &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			DialContext:           cfg.Egress.Dialer(net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: cfg.Timeout,
			MaxIdleConnsPerHost:   1,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if first := via[0].URL; req.URL.Host != first.Host || (first.Scheme == "https" && req.URL.Scheme != "https") {
				return fmt.Errorf("redirected from %s to %s: the bridge follows redirects on the same host only", first.Host, req.URL.Host)
			}
			return nil
		},
	}
}

// fetched is one read of a catalog.
type fetched struct {
	body               []byte
	etag, lastModified string
	notModified        bool
}

// read fetches b's catalog, conditionally when validators are given.
func (s *Service) read(ctx context.Context, rawURL, auth, token, etag, lastModified string) (fetched, error) {
	peer, err := policy.PeerOf(rawURL)
	if err != nil {
		return fetched{}, err
	}
	if !s.cfg.Permit(peer) {
		return fetched{}, fmt.Errorf("%w: %s", ErrRefusedHost, peer)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fetched{}, err
	}
	req.Header.Set("Accept", `application/ld+json, application/json;q=0.9`)
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	switch auth {
	case AuthAPIToken:
		req.Header.Set("X-Api-Token", token)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// Said without the URL's query, where a token may hide.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fetched{}, fmt.Errorf("%w: reading %s: %w", ErrUnreachable, publicURL(rawURL), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && etag == "" && lastModified == "":
		return fetched{}, fmt.Errorf("%w 304 Not Modified to a request that named no version", ErrCatalogStatus)
	case resp.StatusCode == http.StatusNotModified:
		return fetched{notModified: true, etag: etag, lastModified: lastModified}, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		hint := "check the token file given to bridges add"
		if auth == "" {
			hint = "it needs a token: add the bridge with --api-token-file or --bearer-token-file"
		}
		return fetched{}, fmt.Errorf("%w (%d): %s", ErrCredentials, resp.StatusCode, hint)
	case resp.StatusCode != http.StatusOK:
		return fetched{}, fmt.Errorf("%w %d", ErrCatalogStatus, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBytes+1))
	if err != nil {
		return fetched{}, err
	}
	if int64(len(body)) > s.cfg.MaxBytes {
		return fetched{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.cfg.MaxBytes)
	}
	return fetched{body: body, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}
