// Package admin is the client of a running relay's admin API and the types
// it speaks. The API listens on a unix socket in the relay's data directory
// (mode 0600) and requires the bearer token the relay writes beside it, so
// only the operator's user can reach it.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the data directory; they match the relay's.
const (
	SocketFile = "admin.sock"
	TokenFile  = "admin.token"
)

// ErrNotRunning: no relay answers on the data directory's admin socket.
var ErrNotRunning = errors.New("no running relay found for this data directory")

// Subscriber is a subscription as operators see it.
type Subscriber struct {
	// Slice is what the peer follows: "relay" (everything) or a slice
	// actor's name ("surplus", "region-it-bg").
	Slice      string `json:"slice"`
	Peer       string `json:"peer"`
	Actor      string `json:"actor"`
	Inbox      string `json:"inbox"`
	Style      string `json:"style"`
	State      string `json:"state"`
	FollowBack string `json:"follow_back,omitempty"`
	Software   string `json:"software,omitempty"`
	// Signs is how the relay signs requests to the peer now: cavage,
	// rfc9421 or rfc9421-ed25519, "(default)" when it knows nothing of the
	// peer yet (or only that it takes draft-cavage, the default).
	Signs               string    `json:"signs,omitempty"`
	Since               time.Time `json:"since"`
	LastSuccess         time.Time `json:"last_success,omitzero"`
	LastFailure         time.Time `json:"last_failure,omitzero"`
	LastError           string    `json:"last_error,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	CircuitOpenUntil    time.Time `json:"circuit_open_until,omitzero"`
	Delivered           int64     `json:"delivered"`
	Queued              int       `json:"queued"`
	Dead                int       `json:"dead"`
}

// Delivery is a queued, retrying or dead delivery.
type Delivery struct {
	ID          int64     `json:"id"`
	Activity    string    `json:"activity"`
	Peer        string    `json:"peer"`
	Inbox       string    `json:"inbox"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
}

// Deliveries is the answer to a deliveries listing.
type Deliveries struct {
	Counts     map[string]int `json:"counts"`
	Deliveries []Delivery     `json:"deliveries"`
}

// Retried is the answer to a retry.
type Retried struct {
	Requeued int `json:"requeued"`
}

// Error is the body of a failed admin request.
type Error struct {
	Error string `json:"error"`
}

// Client talks to a running relay's admin API.
type Client struct {
	hc    *http.Client
	token string
}

// Dial finds the relay running on dataDir.
func Dial(dataDir string) (*Client, error) {
	tok, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s (start it with `runrig serve --data %s`)", ErrNotRunning, dataDir, dataDir)
		}
		return nil, fmt.Errorf("admin token: %w", err)
	}
	sock := filepath.Join(dataDir, SocketFile)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrNotRunning, dataDir, err)
		}
		return c, nil
	}}
	return &Client{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, token: strings.TrimSpace(string(tok))}, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return answerOf(resp, out)
}

// request makes an authenticated request with in as its JSON body.
func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set(OperatorHeader, operatorName())
	return req, nil
}

// raw GETs path and returns the body.
func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://admin"+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set(OperatorHeader, operatorName())
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err == nil && resp.StatusCode >= 300 {
		err = fmt.Errorf("admin API: %s", resp.Status)
	}
	return b, err
}

// Subscribers lists subscriptions.
func (c *Client) Subscribers(ctx context.Context) ([]Subscriber, error) {
	var out []Subscriber
	err := c.do(ctx, http.MethodGet, "/subscribers", nil, &out)
	return out, err
}

// sliceQuery names the slice of an operator action; "" and "relay" mean
// the relay itself.
func sliceQuery(slice string) string {
	if slice == "" || slice == "relay" {
		return ""
	}
	return "?slice=" + url.QueryEscape(slice)
}

// Approve accepts a peer's subscription to a slice ("" for the relay).
func (c *Client) Approve(ctx context.Context, peer, slice string) (Subscriber, error) {
	var out Subscriber
	err := c.do(ctx, http.MethodPost, "/subscribers/"+url.PathEscape(peer)+"/approve"+sliceQuery(slice), nil, &out)
	return out, err
}

// Reject refuses a peer's subscription to a slice ("" for the relay).
func (c *Client) Reject(ctx context.Context, peer, slice string) (Subscriber, error) {
	var out Subscriber
	err := c.do(ctx, http.MethodPost, "/subscribers/"+url.PathEscape(peer)+"/reject"+sliceQuery(slice), nil, &out)
	return out, err
}

// Remove ends a peer's subscription to a slice ("" for the relay).
func (c *Client) Remove(ctx context.Context, peer, slice string) error {
	return c.do(ctx, http.MethodDelete, "/subscribers/"+url.PathEscape(peer)+sliceQuery(slice), nil, nil)
}

// Deliveries lists deliveries in state ("" for all) to peer ("" for all).
func (c *Client) Deliveries(ctx context.Context, state, peer string, limit int) (Deliveries, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if peer != "" {
		q.Set("peer", peer)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var out Deliveries
	err := c.do(ctx, http.MethodGet, "/deliveries?"+q.Encode(), nil, &out)
	return out, err
}

// BackupRequest asks the relay to back its store up to Path (absolute, on
// the relay's machine; it must not exist).
type BackupRequest struct {
	Path string `json:"path"`
}

// BackupResult is a finished backup.
type BackupResult struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Backup has the running relay write a consistent copy of its store.
func (c *Client) Backup(ctx context.Context, path string) (BackupResult, error) {
	var out BackupResult
	err := c.do(ctx, http.MethodPost, "/backup", BackupRequest{Path: path}, &out)
	return out, err
}

// Retry requeues dead deliveries: those with ids, or all when ids is empty.
func (c *Client) Retry(ctx context.Context, ids []int64) (Retried, error) {
	var out Retried
	err := c.do(ctx, http.MethodPost, "/deliveries/retry", map[string][]int64{"ids": ids}, &out)
	return out, err
}
