package storetest

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/runrig/runrig/relay/store"
)

// testPeerTextKept: an outcome whose error text a peer shaped (a NUL in
// its certificate's name, bytes that are not UTF-8) is recorded with the
// rest of its batch, cleaned, on every store: a batch that failed on it
// would be retried for ever and stop the replica's deliveries.
func testPeerTextKept(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	if err := db.Apply(ctx, store.Change{Messages: []store.Message{msg("a1", "good.example", "evil.example")}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cl, err := db.Claim(ctx, store.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, Owner: "A"})
	if err != nil || len(cl.Deliveries) != 2 {
		t.Fatalf("claim = %+v, %v", cl.Deliveries, err)
	}
	const shaped = "x509: certificate is valid for a\x00b, not evil.example \xff"
	var outs []store.Outcome
	for _, d := range cl.Deliveries {
		o := store.Outcome{Delivery: d, At: now, Delivered: true}
		if d.Peer == "evil.example" {
			o = store.Outcome{Delivery: d, At: now, Err: shaped, NextAttempt: now.Add(time.Minute)}
		}
		outs = append(outs, o)
	}
	if err := db.Complete(ctx, outs); err != nil {
		t.Fatalf("a batch with a peer-shaped error text was refused: %v", err)
	}
	left, err := db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil || len(left) != 1 || left[0].Peer != "evil.example" {
		t.Fatalf("after the batch: %+v, %v", left, err)
	}
	got := left[0].LastError
	if !utf8.ValidString(got) || strings.ContainsRune(got, 0) || !strings.Contains(got, "not evil.example") {
		t.Errorf("recorded error text %q", got)
	}
}
