package relay

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Peer-caused errors are logged once per peer and reason per interval,
// and at most peerLogLines in all: a sender minting peer names (they are
// its to choose before its signature is verified) cannot flood the log.
func TestPeerLogIsBounded(t *testing.T) {
	var buf bytes.Buffer
	l := newPeerLog(slog.New(slog.NewTextHandler(&buf, nil)))
	for range 3 {
		l.Warn("a.example", "signature", "inbox request refused")
	}
	for i := range 5 * peerLogLines {
		l.Warn(fmt.Sprintf("minted%d.example", i), "signature", "inbox request refused")
	}
	lines := strings.Count(buf.String(), "\n")
	if lines != peerLogLines {
		t.Fatalf("%d lines logged, want %d (one for a.example, then the bound)", lines, peerLogLines)
	}
	if strings.Count(buf.String(), "peer=a.example") != 1 {
		t.Errorf("a.example's repeated error logged more than once:\n%s", buf.String()[:300])
	}
	// The flood of unverified names hides no verified peer's error.
	l.WarnVerified("subscriber.example", "rate_limited", "inbox request refused")
	if !strings.Contains(buf.String(), "peer=subscriber.example") {
		t.Error("a verified peer's error was not logged after a flood of unverified names")
	}
}
