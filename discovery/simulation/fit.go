package simulation

import (
	"fmt"
	"math"
)

// Fit is a curve fitted to figures measured at several sizes.
type Fit struct {
	// Kind is "log" (y = A + B·log2 N) or "power" (y = A·N^B).
	Kind string
	A, B float64
	// R2 is the coefficient of determination of the fit (on log y for a
	// power law).
	R2 float64
}

// At is the fitted value at n.
func (f Fit) At(n float64) float64 {
	if f.Kind == "power" {
		return f.A * math.Pow(n, f.B)
	}
	return f.A + f.B*math.Log2(n)
}

// String writes the curve as a formula.
func (f Fit) String() string {
	if f.Kind == "power" {
		return fmt.Sprintf("%.4g·N^%.3f (R²=%.3f)", f.A, f.B, f.R2)
	}
	return fmt.Sprintf("%.4g + %.4g·log2 N (R²=%.3f)", f.A, f.B, f.R2)
}

// FitLog fits y = A + B·log2 N by least squares.
func FitLog(n, y []float64) Fit {
	x := make([]float64, len(n))
	for i := range n {
		x[i] = math.Log2(n[i])
	}
	a, b, r2 := line(x, y)
	return Fit{Kind: "log", A: a, B: b, R2: r2}
}

// FitPower fits y = A·N^B by least squares on logarithms; figures ≤ 0
// are left out.
func FitPower(n, y []float64) Fit {
	var lx, ly []float64
	for i := range n {
		if y[i] > 0 && n[i] > 0 {
			lx, ly = append(lx, math.Log(n[i])), append(ly, math.Log(y[i]))
		}
	}
	a, b, r2 := line(lx, ly)
	return Fit{Kind: "power", A: math.Exp(a), B: b, R2: r2}
}

// line fits y = a + b·x by least squares and returns R².
func line(x, y []float64) (a, b, r2 float64) {
	n := float64(len(x))
	if n < 2 {
		if n == 1 {
			return y[0], 0, 1
		}
		return 0, 0, 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx, sy, sxx, sxy = sx+x[i], sy+y[i], sxx+x[i]*x[i], sxy+x[i]*y[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return sy / n, 0, 0
	}
	b = (n*sxy - sx*sy) / den
	a = (sy - b*sx) / n
	mean := sy / n
	var ssTot, ssRes float64
	for i := range x {
		d, e := y[i]-mean, y[i]-(a+b*x[i])
		ssTot, ssRes = ssTot+d*d, ssRes+e*e
	}
	r2 = 1
	if ssTot > 0 {
		r2 = 1 - ssRes/ssTot
	}
	return a, b, r2
}
