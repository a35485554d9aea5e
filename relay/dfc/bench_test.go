package dfc

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/relaytest"
)

// bigCatalog is the FDC catalog repeated n times: 8n products, 6n
// listable items.
func bigCatalog(b *testing.B, n int) []byte {
	b.Helper()
	raw, err := os.ReadFile("testdata/fdc-catalog.json")
	if err != nil {
		b.Fatal(err)
	}
	doc, err := relaytest.RepeatCatalog(raw, n)
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

// BenchmarkRead reads catalogs of growing size. Each reports, beside the
// time per item, its ratio to decoding the same bytes with encoding/json
// into generic values (the bound: no reader of the document can do less),
// measured in the same run.
func BenchmarkRead(b *testing.B) {
	for _, n := range []int{1, 50, 200} { // 200 copies are 8 MB, the bound of a catalog
		doc := bigCatalog(b, n)
		b.Run(fmt.Sprintf("items=%d", 6*n), func(b *testing.B) {
			// The bound, timed in this run: decoding alone, as many times.
			start := time.Now()
			for i := 0; i < b.N; i++ {
				var v any
				if err := json.Unmarshal(doc, &v); err != nil {
					b.Fatal(err)
				}
			}
			bound := time.Since(start)
			b.SetBytes(int64(len(doc)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c, err := Read(doc)
				if err != nil {
					b.Fatal(err)
				}
				if len(c.Items) != 6*n {
					b.Fatalf("%d items; want %d", len(c.Items), 6*n)
				}
			}
			b.StopTimer()
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(per/float64(6*n)/1000, "µs/item")
			b.ReportMetric(float64(b.Elapsed())/float64(bound), "x-json-decode")
		})
	}
}
