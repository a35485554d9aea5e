package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/relaytest"
)

// crowd is many subscribing servers behind one listener, for fan-out
// benchmarks at sizes where one process cannot hold a listener per
// server: server i is http://127.A.B.C:PORT, a loopback address of its
// own, so the relay sees n distinct peers. Each serves Mastodon's
// instance actor (relaytest's captured document) for its origin, follows
// the relay with Mastodon's Follow, and counts what it receives without
// verifying it (the benchmark measures the relay, not the sinks). With an
// Ed25519 key its actors also publish the key and say (FEP-844e) that they
// take RFC 9421 with Ed25519, as a Runrig relay does.
type crowd struct {
	n      int
	port   int
	key    *rsa.PrivateKey
	pemKey string
	ed     ed25519.PrivateKey
	srv    *http.Server
	onRecv func(objectID string, at time.Time)

	accepted atomic.Int64
}

// newCrowd starts n servers. The listener is on every address (the
// loopback network's many addresses need it) and answers loopback
// clients only.
func newCrowd(n int, key *rsa.PrivateKey, ed ed25519.PrivateKey, onRecv func(string, time.Time)) (*crowd, error) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	c := &crowd{n: n, port: ln.Addr().(*net.TCPAddr).Port, key: key, ed: ed, onRecv: onRecv,
		pemKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
	c.srv = &http.Server{Handler: http.HandlerFunc(c.serve), ConnState: func(conn net.Conn, st http.ConnState) {
		if st == http.StateNew {
			if a, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
				conn.Close()
			}
		}
	}}
	go c.srv.Serve(ln)
	return c, nil
}

func (c *crowd) close() { c.srv.Close() }

// origin is server i's base URL.
func (c *crowd) origin(i int) string {
	return fmt.Sprintf("http://127.%d.%d.%d:%d", 1+i/(254*254), 1+(i/254)%254, 1+i%254, c.port)
}

func (c *crowd) serve(w http.ResponseWriter, r *http.Request) {
	origin := "http://" + r.Host
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/actor":
		doc, err := relaytest.Document(relaytest.Mastodon, "instance-actor", relaytest.Vars{"ORIGIN": origin, "PUBLIC_KEY_PEM": c.pemKey})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if c.ed != nil {
			doc = c.withEd25519(doc, origin+"/actor")
		}
		w.Header().Set("Content-Type", "application/activity+json")
		w.Write(doc)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "inbox"):
		body, _ := io.ReadAll(r.Body)
		if typ, id := relaytest.Delivered(body); typ == "Accept" {
			c.accepted.Add(1)
		} else if c.onRecv != nil {
			c.onRecv(id, time.Now())
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// withEd25519 adds the Ed25519 Multikey and the FEP-844e claim to an
// actor document.
func (c *crowd) withEd25519(doc []byte, actor string) []byte {
	var m map[string]any
	json.Unmarshal(doc, &m)
	relaytest.AddEd25519(m, actor, c.ed.Public().(ed25519.PublicKey))
	out, _ := json.Marshal(m)
	return out
}

// subscribe has every server follow the relay, eight at a time, and waits
// until every one was accepted.
func (c *crowd) subscribe(relayURL string) error {
	client := &http.Client{Timeout: time.Minute}
	work := make(chan int)
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := c.follow(client, relayURL, i); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	for i := range c.n {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	deadline := time.Now().Add(10 * time.Minute)
	for c.accepted.Load() < int64(c.n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d subscriptions accepted", c.accepted.Load(), c.n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// follow sends server i's Follow, signed with draft-cavage as Mastodon.
func (c *crowd) follow(client *http.Client, relayURL string, i int) error {
	origin := c.origin(i)
	body, err := relaytest.Document(relaytest.Mastodon, "follow", relaytest.Vars{"ORIGIN": origin, "ID": "follows/" + strconv.Itoa(i)})
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, relayURL+"/inbox", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/activity+json")
	s := &httpsig.Signer{KeyID: origin + "/actor#main-key", Key: c.key}
	if err := s.Sign(req, httpsig.DigestHeader(body)); err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("Follow from %s: %d %s", origin, resp.StatusCode, text)
	}
	return nil
}

// profileRelay fetches a CPU profile of the relay in dataDir over its
// admin socket for d and writes it to path (RUNRIG_BENCH_CPUPROFILE).
func profileRelay(dataDir, path string, d time.Duration) error {
	token, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(dataDir, "admin.sock"))
	}}}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://admin/debug/pprof/profile?seconds=%d", int(d.Seconds())), nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
