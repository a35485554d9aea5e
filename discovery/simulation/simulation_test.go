package simulation

import (
	"context"
	"encoding/csv"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFits(t *testing.T) {
	n := []float64{25, 50, 100, 200, 400}
	logY, powY := make([]float64, len(n)), make([]float64, len(n))
	for i, x := range n {
		logY[i] = 3 + 2*math.Log2(x)
		powY[i] = 5 * math.Pow(x, 0.5)
	}
	tests := []struct {
		name  string
		fit   Fit
		a, b  float64
		at1k  float64
		stats string
	}{
		{"logarithmic", FitLog(n, logY), 3, 2, 3 + 2*math.Log2(1000), "3 + 2·log2 N (R²=1.000)"},
		{"power law", FitPower(n, powY), 5, 0.5, 5 * math.Sqrt(1000), "5·N^0.500 (R²=1.000)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if math.Abs(tc.fit.A-tc.a) > 1e-9 || math.Abs(tc.fit.B-tc.b) > 1e-9 || math.Abs(tc.fit.At(1000)-tc.at1k) > 1e-6 {
				t.Fatalf("fit %+v, at 1,000: %g", tc.fit, tc.fit.At(1000))
			}
			if tc.fit.String() != tc.stats {
				t.Fatalf("String() = %q, want %q", tc.fit.String(), tc.stats)
			}
		})
	}
}

// The simulation runs at a small size — real DHT hosts and memberlist
// members — and writes its figures and plots, so that `make simulate`
// keeps working.
func TestSimulationRuns(t *testing.T) {
	ctx := context.Background()
	var ns, lookups, traffic, converge []float64
	for _, n := range []int{4, 8} {
		d, err := RunDHT(ctx, n, 2, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		g, err := RunGossip(ctx, n, 1, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d.LookupP99 <= 0 || d.LookupBytes <= 0 || d.HeapPerNode <= 0 || g.ConvergeMax <= 0 || g.MessagesPerHour <= 0 {
			t.Fatalf("N=%d: dht %+v, gossip %+v", n, d, g)
		}
		ns = append(ns, float64(n))
		lookups, traffic = append(lookups, float64(d.LookupP99)), append(traffic, d.BytesPerHour)
		converge = append(converge, float64(g.ConvergeMax))
	}
	series := []Series{Fitted("lookups", "lookups", "ms", ns, lookups, false),
		Fitted("traffic", "traffic", "KiB", ns, traffic, true), Fitted("converge", "converge", "ms", ns, converge, false)}
	dir := t.TempDir()
	if err := WriteAll(dir, series); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 1+2*len(series) {
		t.Fatalf("results.csv: %d rows, %v", len(rows), err)
	}
	for _, s := range series {
		p, err := os.Open(filepath.Join(dir, s.Name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(p)
		p.Close()
		if err != nil || img.Bounds().Dx() < 500 {
			t.Fatalf("%s.png: %v", s.Name, err)
		}
	}
}
