package relay_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/relaytest"
)

// BenchmarkBridgeSync syncs a catalog of 600 items (the FDC catalog's 6
// listable items, 100 times over) on a real relay: the first sync creates
// 600 signed, proved, checked listings, each in a store transaction of its
// own; the second finds them unchanged. The bound, measured in the same
// run, is reading the catalog alone (dfc.Read).
func BenchmarkBridgeSync(b *testing.B) {
	const copies = 100
	fixture, err := os.ReadFile("dfc/testdata/fdc-catalog.json")
	if err != nil {
		b.Fatal(err)
	}
	doc, err := relaytest.RepeatCatalog(fixture, copies)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := dfc.Read(doc); err != nil {
		b.Fatal(err)
	}
	read := time.Since(start)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		r := startRelay(b, nil)
		cat := newCatalogServer(b, doc, "t")
		if _, err := r.Admin.Bridges().Add(ctx, admin.BridgeAdd{Name: "big", Catalog: cat.URL + "/c", Auth: "api-token", Token: "t"}); err != nil {
			b.Fatal(err)
		}
		cat.set(func(c *catalogServer) { c.etags = false })
		start := time.Now()
		rep, err := r.Admin.Bridges().Sync(ctx, "big")
		first := time.Since(start)
		if err != nil || rep.Created != 6*copies {
			b.Fatalf("first sync: %+v %v", rep, err)
		}
		start = time.Now()
		if rep, err = r.Admin.Bridges().Sync(ctx, "big"); err != nil || rep.Unchanged != 6*copies {
			b.Fatalf("second sync: %+v %v", rep, err)
		}
		again := time.Since(start)
		items := float64(6 * copies)
		b.ReportMetric(float64(first.Microseconds())/items, "µs/item-created")
		b.ReportMetric(float64(again.Microseconds())/items, "µs/item-unchanged")
		b.ReportMetric(float64(first)/float64(read), "x-read-created")
		b.ReportMetric(float64(again)/float64(read), "x-read-unchanged")
	}
}
