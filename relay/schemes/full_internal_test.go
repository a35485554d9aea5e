package schemes

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/httpsig"
)

type nopStore struct{}

func (nopStore) SignatureMemory(context.Context) ([]Entry, error) { return nil, nil }
func (nopStore) RememberSignature(context.Context, Entry) error   { return nil }

// Regression (red-team review): hosts a stranger made the relay knock on (a keyId on a throw-away
// subdomain each: the key fetch is a signed GET, its 401 is Recorded) fill
// the memory for good: entries never expire out of it, so a month later a
// real peer's RFC 9421-only answer is still not remembered.
func TestMemoryFullOfExpiredHostsForgetsNewOnes(t *testing.T) {
	m, _ := New(context.Background(), nopStore{}, slog.Default())
	start := time.Now()
	m.now = func() time.Time { return start }
	for i := 0; i < maxHosts; i++ {
		m.Record(fmt.Sprintf("x%d.evil.example", i), httpsig.KindCavage, false)
	}
	m.now = func() time.Time { return start.Add(30 * 24 * time.Hour) } // every entry long expired
	m.Record("rfc9421-only.example", httpsig.KindCavage, false)
	m.Record("rfc9421-only.example", httpsig.KindRFC9421, true)
	if first, _ := m.Plan("rfc9421-only.example"); first != httpsig.KindRFC9421 {
		t.Fatalf("a month after the flood, a peer that refused draft-cavage and took RFC 9421 is planned %s first", first)
	}
}
