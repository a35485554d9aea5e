package simulation

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Series is one measured figure at each size, with its fitted curve.
type Series struct {
	// Name names the figure and its files ("dht-lookup-p99-ms").
	Name, Title, Unit string
	N, Y              []float64
	Fit               Fit
}

// Fitted fits s (a power law when power, else logarithmic).
func Fitted(name, title, unit string, n, y []float64, power bool) Series {
	s := Series{Name: name, Title: title, Unit: unit, N: n, Y: y}
	if power {
		s.Fit = FitPower(n, y)
	} else {
		s.Fit = FitLog(n, y)
	}
	return s
}

// WriteCSV writes every series as rows of name, N, measured, fitted.
func WriteCSV(w io.Writer, series []Series) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"figure", "unit", "n", "measured", "fitted", "fit"})
	for _, s := range series {
		for i := range s.N {
			cw.Write([]string{s.Name, s.Unit, strconv.Itoa(int(s.N[i])), fmt.Sprintf("%.6g", s.Y[i]),
				fmt.Sprintf("%.6g", s.Fit.At(s.N[i])), s.Fit.String()})
		}
	}
	cw.Flush()
	return cw.Error()
}

// maxPlotN is how far the plots extend the fitted curves.
const maxPlotN = 10000

// WritePlot draws s — measured points and the fitted curve out to 10,000
// relays, on a logarithmic N axis — as dir/NAME.png.
func WritePlot(dir string, s Series) error {
	p := plot.New()
	p.Title.Text = s.Title
	p.X.Label.Text = "relays (N, log scale)"
	p.Y.Label.Text = s.Unit
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	pts := make(plotter.XYs, len(s.N))
	for i := range s.N {
		pts[i].X, pts[i].Y = s.N[i], s.Y[i]
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	lo := math.Max(1, minOf(s.N)/2)
	curve := make(plotter.XYs, 0, 200)
	for i := range 200 {
		x := lo * math.Pow(maxPlotN/lo, float64(i)/199)
		curve = append(curve, plotter.XY{X: x, Y: s.Fit.At(x)})
	}
	line, err := plotter.NewLine(curve)
	if err != nil {
		return err
	}
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(sc, line, plotter.NewGrid())
	p.Legend.Add("measured", sc)
	p.Legend.Add("fit: "+s.Fit.String(), line)
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(dir, s.Name+".png"))
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// WriteAll writes results.csv and a plot of each series into dir.
func WriteAll(dir string, series []Series) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "results.csv"))
	if err != nil {
		return err
	}
	if err := WriteCSV(f, series); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, s := range series {
		if err := WritePlot(dir, s); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return nil
}

// WriteChurnCSV writes a row per churn or partition result: seconds until
// every directory was right, the lookup rounds (DHT), the entries or
// relays still wrong, the gossip repairs, and for a partition the seconds
// until each half saw the other down and the seconds it was held.
func WriteChurnCSV(w io.Writer, points []ChurnPoint) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"scenario", "layer", "n", "left", "joined", "seconds_until_correct", "rounds", "still_wrong",
		"wants", "joins", "reconnects", "pulls", "seconds_until_detected", "seconds_held"})
	for _, p := range points {
		cw.Write([]string{p.Scenario, p.Layer, strconv.Itoa(p.N), strconv.Itoa(p.Left), strconv.Itoa(p.Joined),
			seconds(p.UntilCorrect), strconv.Itoa(p.Rounds), strconv.Itoa(p.StillWrong),
			strconv.FormatInt(p.Wants, 10), strconv.FormatInt(p.Joins, 10), strconv.FormatInt(p.Reconnects, 10),
			strconv.FormatInt(p.Pulls, 10), seconds(p.Detect), seconds(p.Held)})
	}
	cw.Flush()
	return cw.Error()
}

// seconds writes a duration in seconds, to the millisecond.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
