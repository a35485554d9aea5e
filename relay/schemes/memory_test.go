package schemes_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/schemes"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// step is one thing that happens to a host, and the plan after it.
type step struct {
	record, learn httpsig.Kind
	accepted      bool
	first, retry  httpsig.Kind
}

// TestPlan walks a host through the double-knock: unknown hosts get
// draft-cavage with RFC 9421 as the retry; what was accepted is tried
// first; what was refused is not retried; a learned kind is used unless it
// was refused.
func TestPlan(t *testing.T) {
	const (
		cav = httpsig.KindCavage
		rfc = httpsig.KindRFC9421
		ed  = httpsig.KindEd25519
	)
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"unknown host", []step{{first: cav, retry: rfc}}},
		{"cavage accepted", []step{{record: cav, accepted: true, first: cav, retry: rfc}}},
		{"cavage refused, RFC 9421 accepted", []step{
			{record: cav, accepted: false, first: rfc, retry: ""},
			{record: rfc, accepted: true, first: rfc, retry: ""},
		}},
		{"both refused: cavage alone, no second knock", []step{
			{record: cav, accepted: false, first: rfc},
			{record: rfc, accepted: false, first: cav, retry: ""},
		}},
		{"RFC 9421 refused after being accepted", []step{
			{record: rfc, accepted: true, first: rfc, retry: cav},
			{record: rfc, accepted: false, first: cav, retry: ""},
		}},
		{"Ed25519 learned from the actor", []step{{learn: ed, first: ed, retry: cav}}},
		{"Ed25519 refused is not learned again", []step{
			{learn: ed, first: ed, retry: cav},
			{record: ed, accepted: false, first: cav, retry: rfc},
			{learn: ed, first: cav, retry: rfc},
		}},
		{"RFC 9421 learned from a request", []step{{learn: rfc, first: rfc, retry: cav}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := sqlite.Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m, err := schemes.New(context.Background(), db.Signatures(), slog.Default())
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				switch {
				case s.record != "":
					m.Record("a.example", s.record, s.accepted)
				case s.learn != "":
					m.Learn("a.example", s.learn)
				}
				if first, retry := m.Plan("a.example"); first != s.first || retry != s.retry {
					t.Fatalf("step %d: plan %q then %q, want %q then %q", i, first, retry, s.first, s.retry)
				}
			}
			if first, retry := m.Plan("b.example"); first != cav || retry != rfc {
				t.Fatalf("another host's plan %q then %q", first, retry)
			}
		})
	}
}

// TestMemorySurvivesRestart: what was written reaches the store and a new
// memory reads it back.
func TestMemorySurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := schemes.New(ctx, db.Signatures(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	m.Record("a.example", httpsig.KindCavage, false)
	m.Record("a.example", httpsig.KindRFC9421, true)
	for {
		es, err := db.Signatures().SignatureMemory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 2 {
			break
		}
		waitTick()
	}
	cancel()
	<-done
	m2, err := schemes.New(context.Background(), db.Signatures(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if first, retry := m2.Plan("a.example"); first != httpsig.KindRFC9421 || retry != "" {
		t.Fatalf("after a restart: plan %q then %q", first, retry)
	}
}

// waitTick is the pause between two looks at the store while waiting for
// the memory's writer.
func waitTick() { time.Sleep(5 * time.Millisecond) }
