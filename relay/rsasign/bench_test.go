package rsasign

import (
	"crypto/sha256"
	"runtime"
	"testing"
	"time"
)

// BenchmarkSign signs from every core at once; ns/op is the inverse of the
// all-core rate.
func BenchmarkSign(b *testing.B) {
	k := testKey(b, 2048)
	for _, backend := range backends() {
		b.Run("backend="+backend, func(b *testing.B) {
			key, err := New(k, backend)
			if err != nil {
				b.Fatal(err)
			}
			digest := sha256.Sum256([]byte("benchmark"))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := key.SignSHA256(digest[:]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
		})
	}
}

// BenchmarkRate prints [Rate] for each backend (one second each, 2048-bit
// key) and the ratio openssl/go. One iteration measures both.
func BenchmarkRate(b *testing.B) {
	k := testKey(b, 2048)
	rates := map[string]float64{}
	for range b.N {
		for _, backend := range backends() {
			key, err := New(k, backend)
			if err != nil {
				b.Fatal(err)
			}
			rates[backend] = Rate(key, time.Second)
		}
	}
	procs := runtime.GOMAXPROCS(0)
	for _, backend := range backends() {
		r := rates[backend]
		b.ReportMetric(r, backend+"-signs/s")
		b.Logf("%-7s %6.0f signs/s on %d cores, %6.1f µs per sign per core", backend, r, procs, 1e6*float64(procs)/r)
	}
	if cgoBuilt {
		b.ReportMetric(rates[OpenSSL]/rates[Go], "openssl/go")
		b.Logf("openssl/go = %.2fx", rates[OpenSSL]/rates[Go])
	}
}
