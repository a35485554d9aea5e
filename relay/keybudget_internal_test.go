package relay

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/proof"
	"github.com/runrig/runrig/relay/relaytest"
	"github.com/runrig/runrig/trust"
)

// A sender whose key fetches from one host used up its share (here two;
// 300 by default) gets 429 with Retry-After, not a signature failure: it
// may try again, and the relay fetches no more for it meanwhile.
func TestKeyFetchBudgetAnswers429(t *testing.T) {
	ctx := context.Background()
	s, ln := newInternal(t, nil)
	cfg := s.cfg
	s.keys = trust.NewKeys(s.fetch, trust.KeysConfig{HostFetches: trust.RateConfig{PerSecond: 0.001, Burst: 2},
		HostOf: func(id string) string { p, _ := policy.PeerOf(id); return p }})
	s.inbox = s.newInbox() // the inbox works with the keys it was built with
	srv := &http.Server{Handler: s.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	sender, err := relaytest.New(relaytest.Mastodon, relaytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	for i := range 3 {
		keyID := fmt.Sprintf("%s/users/minted%d#main-key", sender.Server.URL, i)
		req, err := sender.SignedRequest(ctx, cfg.PublicURL+"/inbox", sender.Note("", "hello", nil), relaytest.Signing{KeyID: keyID})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusForbidden // a stranger's post, its key fetched and verified
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want || (want == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "") {
			t.Errorf("request %d: %d (Retry-After %q), want %d", i, resp.StatusCode, resp.Header.Get("Retry-After"), want)
		}
	}
	// Another client behind the same (local, so trusted) proxy has a
	// share of its own: the proxy names it in X-Forwarded-For.
	keyID := sender.Server.URL + "/users/minted9#main-key"
	req, err := sender.SignedRequest(ctx, cfg.PublicURL+"/inbox", sender.Note("", "hello", nil), relaytest.Signing{KeyID: keyID})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("another client behind the proxy: %d, want 403 (its own share)", resp.StatusCode)
	}
}

// Regression (red-team review): the key of an FEP-8b32 proof is fetched
// within the sender's budget too, and a proof whose key fetch the budget
// refused is answered 429 with Retry-After, not 401 (which senders take as
// final and drop the activity).
func TestProofKeyFetchBudgetAnswers429(t *testing.T) {
	ctx := context.Background()
	s, ln := newInternal(t, nil)
	cfg := s.cfg
	s.keys = trust.NewKeys(s.fetch, trust.KeysConfig{HostFetches: trust.RateConfig{PerSecond: 0.001, Burst: 1},
		HostOf: func(id string) string { p, _ := policy.PeerOf(id); return p }})
	s.inbox = s.newInbox()
	srv := &http.Server{Handler: s.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	_, edKey, _ := ed25519.GenerateKey(nil)
	sender, err := relaytest.New(relaytest.Mastodon, relaytest.Config{Ed25519: edKey})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	note, err := proof.Sign(sender.Note("", "hello", nil), edKey, sender.ActorID+"#ed25519-key", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, err := sender.SignedRequest(ctx, cfg.PublicURL+"/inbox", note, relaytest.Signing{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("proof key over budget: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
