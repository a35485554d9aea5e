package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
)

// Regression (red-team review): a host remembered as taking Ed25519 (FEP-844e, or it signed to us that
// way) that verifies only draft-cavage: the retry signed with draft-cavage
// still carries the first attempt's Signature-Input, so a verifier that
// judges any request with Signature-Input by RFC 9421 (httpsig.Check,
// Mastodon 4.5) refuses it, and draft-cavage is remembered as refused.
func TestRetryAfterRFC9421DropsSignatureInput(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Signature-Input")+" | "+r.Header.Get("Signature"))
		mu.Unlock()
		s, err := httpsig.Check(r, nil, time.Now(), httpsig.DefaultWindow, httpsig.Target{Scheme: "http"})
		if err != nil || s.Scheme != httpsig.Cavage {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, mem := clientWithMemory(t)
	host, _ := policy.PeerOf(srv.URL)
	mem.Learn(host, httpsig.KindEd25519)
	_, err := c.Get(context.Background(), srv.URL+"/users/b")
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seen {
		t.Logf("attempt %d: %.140s", i+1, s)
	}
	first, retry := mem.Plan(host)
	if err != nil {
		t.Fatalf("GET with a draft-cavage retry failed: %v; deliveries are now planned %q then %q", err, first, retry)
	}
}
