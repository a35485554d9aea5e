// Package fetch is the relay's outbound HTTP for reading from peers: signed
// GETs of actors, keys and NodeInfo, through go-ap/client, over a transport
// that enforces the egress policy, a deadline and a response-size limit.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	apclient "github.com/go-ap/client"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
)

// Limits on what the relay reads from a peer.
const (
	// DefaultMaxBody bounds a fetched document.
	DefaultMaxBody = 1 << 20
	// DefaultTimeout bounds a whole fetch, connection to last byte.
	DefaultTimeout = 10 * time.Second
)

// Errors returned by fetches, matched with errors.Is.
var (
	ErrTooLarge  = errors.New("response too large")
	ErrStatus    = errors.New("unexpected HTTP status")
	ErrNotActor  = errors.New("not an actor document")
	ErrNoKey     = errors.New("no matching public key")
	ErrForeignID = errors.New("document id is not on the fetched origin")
	ErrBlocked   = errors.New("peer blocked by moderation")
)

// maxIdleConns bounds the keep-alive connections the client holds open
// in all: fetches (keys, actors, objects) reach many hosts once each, and
// one idle connection per host of ten thousand subscribers would use up
// the process's file descriptors.
const maxIdleConns = 256

// Config configures a [Client].
type Config struct {
	// Egress decides which addresses may be dialled.
	Egress policy.Egress
	// Signer signs every GET as the relay actor, so servers that require
	// authorized fetch answer.
	Signer *httpsig.Signer
	// UserAgent is sent with every request.
	UserAgent string
	// Timeout bounds one fetch. Default [DefaultTimeout].
	Timeout time.Duration
	// MaxBody bounds a response body in bytes. Default [DefaultMaxBody].
	MaxBody int64
	// Permit, when set, is asked before every request whether the peer
	// (host[:port]) may be contacted; moderation uses it so nothing is
	// fetched from a blocked peer.
	Permit func(peer string) bool
	// Schemes, when set, says how to sign a GET to each host (a 401 or
	// 400 gets one retry signed the other way) and learns what actors say
	// their servers take (FEP-844e); nil signs with draft-cavage.
	Schemes Schemes
}

// Schemes is the per-host memory of how peers take signatures
// (implemented by schemes.Memory).
type Schemes interface {
	Plan(host string) (first, retry httpsig.Kind)
	Record(host string, kind httpsig.Kind, accepted bool)
	Learn(host string, kind httpsig.Kind)
}

// Client fetches documents from peers. It is safe for concurrent use.
type Client struct {
	schemes Schemes
	ap      *apclient.C
	maxBody int64
	timeout time.Duration
	actors  *actorCache
}

// New returns a Client.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	base := &http.Transport{
		DialContext:           cfg.Egress.Dialer(net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		MaxIdleConns:          maxIdleConns,
		IdleConnTimeout:       90 * time.Second,
	}
	rt := &signingTransport{next: base, signer: cfg.Signer, ua: cfg.UserAgent, max: cfg.MaxBody, permit: cfg.Permit, schemes: cfg.Schemes}
	hc := &http.Client{
		Transport: rt,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			// A document fetched from another host could claim an id on
			// the host asked (checks compare with the URL requested).
			if first := via[0].URL; req.URL.Host != first.Host || (first.Scheme == "https" && req.URL.Scheme != "https") {
				return fmt.Errorf("%w: redirect from %s to %s", ErrForeignID, first.Host, req.URL.Host)
			}
			return nil
		},
	}
	return &Client{
		schemes: cfg.Schemes,
		ap:      apclient.New(apclient.WithHTTPClient(hc)),
		maxBody: cfg.MaxBody,
		timeout: cfg.Timeout,
		actors:  newActorCache(10000, time.Hour),
	}
}

// Get fetches url as ActivityPub JSON with a signed GET and returns the body.
func (c *Client) Get(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.ap.CtxGet(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %w", url, &StatusError{Code: resp.StatusCode})
	}
	return body, nil
}

// StatusError is a fetch answered with a status other than 200. It
// matches ErrStatus with errors.Is.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("%v %d", ErrStatus, e.Code) }

// Is makes errors.Is(err, ErrStatus) hold.
func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// Gone reports whether err is a fetch answered 404 or 410: the document
// was deleted.
func Gone(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Code == http.StatusGone || se.Code == http.StatusNotFound)
}

// signingTransport signs requests as the relay, refuses schemes other than
// http and https, and bounds response bodies. It exists because go-ap/client
// reads bodies without a limit.
type signingTransport struct {
	next    http.RoundTripper
	signer  *httpsig.Signer
	ua      string
	max     int64
	permit  func(peer string) bool
	schemes Schemes
}

func (t *signingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
		return nil, fmt.Errorf("scheme %q not allowed", req.URL.Scheme)
	}
	host, err := policy.PeerOf(req.URL.String())
	if t.permit != nil && (err != nil || !t.permit(host)) {
		return nil, fmt.Errorf("%w: %s", ErrBlocked, req.URL.Host)
	}
	req = req.Clone(req.Context())
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	if t.ua != "" {
		req.Header.Set("User-Agent", t.ua)
	}
	req.Header.Set("Accept", `application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams", application/json;q=0.8`)
	resp, err := t.signed(req, host)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, resp.ContentLength)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// signed sends req to host (its peer name, "" when it has none) signed
// the way that host is known to take; a GET refused (401 or 400) gets one
// retry signed the other way.
func (t *signingTransport) signed(req *http.Request, host string) (*http.Response, error) {
	if t.signer == nil {
		return t.next.RoundTrip(req)
	}
	first, retry := httpsig.KindCavage, httpsig.Kind("")
	if t.schemes != nil && host != "" {
		first, retry = t.schemes.Plan(host)
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		retry = "" // a body cannot be sent twice
	}
	var resp *http.Response
	for i, kind := range []httpsig.Kind{first, retry} {
		if kind == "" {
			break
		}
		if i > 0 {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			req = req.Clone(req.Context())
		}
		if err := t.signer.SignKind(req, kind, httpsig.Digests{}, ""); err != nil {
			return nil, err
		}
		var err error
		if resp, err = t.next.RoundTrip(req); err != nil {
			return nil, err
		}
		refused := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest
		if !refused {
			// What a GET shows is remembered only when it is an answer
			// about the signature: a success, and a refusal of one kind
			// that the other kind got past. A 401 to both may mean the
			// document needs more than a signature (the URL may be a
			// stranger's choice, from a keyId).
			if t.schemes != nil && host != "" && resp.StatusCode/100 == 2 {
				t.schemes.Record(host, kind, true)
				if i > 0 {
					t.schemes.Record(host, first, false)
				}
			}
			break
		}
	}
	return resp, nil
}

// limitedBody fails, rather than truncates, a body longer than its limit.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.rc.Read(one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }
