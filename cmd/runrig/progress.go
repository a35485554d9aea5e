package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

// Timing of the progress line.
const (
	// meterGap is the shortest time between two redraws of one step.
	meterGap = 100 * time.Millisecond
	// meterSettle is how long a step runs before a rate and the time left
	// are shown (earlier figures jump about).
	meterSettle = 500 * time.Millisecond
)

// meter shows long work's progress on a terminal: one line, redrawn in
// place, with counts, percent, rate and time left. It shows nothing when
// its writer is not a terminal or the command prints JSON, so scripts and
// logs get the summary alone. It is used from one goroutine.
type meter struct {
	w     io.Writer
	on    bool
	label string
	now   func() time.Time
	// step is the step shown and when it began; drawn when the line was
	// last drawn; shown whether a line is on the screen.
	step      string
	stepStart time.Time
	drawn     time.Time
	shown     bool
}

// newMeter makes a meter on w (the command's stderr) for work called
// label ("importing blocks.csv").
func newMeter(w io.Writer, label string, asJSON bool) *meter {
	return &meter{w: w, on: !asJSON && isTerminal(w), label: label, now: time.Now}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Report redraws the line with p: at once for a new step or its end, else
// at most once every meterGap.
func (m *meter) Report(p admin.Progress) {
	if !m.on {
		return
	}
	now := m.now()
	switch {
	case p.Step != m.step:
		m.step, m.stepStart = p.Step, now
	case (p.Total == 0 || p.Done < p.Total) && now.Sub(m.drawn) < meterGap:
		return
	}
	m.drawn, m.shown = now, true
	fmt.Fprintf(m.w, "\r\x1b[K%s", m.line(p, now))
}

// Func adapts the meter to a step/done/total callback in unit.
func (m *meter) Func(unit string) func(step string, done, total int) {
	return func(step string, done, total int) {
		m.Report(admin.Progress{Step: step, Done: done, Total: total, Unit: unit})
	}
}

// progressFunc is what an admin client calls with progress: the meter's
// Report when it shows anything, else nil, so that the relay is not asked
// to stream progress nobody sees.
func (m *meter) progressFunc() func(admin.Progress) {
	if !m.on {
		return nil
	}
	return m.Report
}

// line is the progress line for p at now.
func (m *meter) line(p admin.Progress, now time.Time) string {
	took := now.Sub(m.stepStart)
	s := m.label + ": " + p.Step
	switch {
	case p.Total == 0 && p.Done == 0:
		return s + "… " + took.Round(time.Second).String()
	case p.Total == 0:
		return s + " " + amount(p.Done, p.Unit) + "… " + took.Round(time.Second).String()
	}
	done := amount(p.Done, "")
	if p.Unit == "bytes" {
		done = byteSize(p.Done)
	}
	s += fmt.Sprintf(" %s of %s (%d%%)", done, amount(p.Total, p.Unit), 100*p.Done/p.Total)
	if took < meterSettle || p.Done == 0 {
		return s
	}
	rate := float64(p.Done) / took.Seconds()
	s += ", " + amount(int(rate), p.Unit) + "/s"
	if p.Done < p.Total {
		left := time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second))
		s += ", " + left.Round(time.Second).String() + " left"
	}
	return s
}

// Done clears the line, so that the summary printed next stands alone.
func (m *meter) Done() {
	if m.shown {
		fmt.Fprint(m.w, "\r\x1b[K")
		m.shown = false
	}
}

// amount writes n in unit: bytes as KiB/MiB/GiB, others with thousands
// grouped ("20,000 rows").
func amount(n int, unit string) string {
	if unit == "bytes" {
		return byteSize(n)
	}
	s := grouped(n)
	if unit != "" {
		s += " " + unit
	}
	return s
}

// grouped writes n with commas between thousands.
func grouped(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// byteSize writes n bytes in the largest binary unit under it.
func byteSize(n int) string {
	const unit = 1024
	if n < unit {
		return strconv.Itoa(n) + " B"
	}
	v, i := float64(n), 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, [...]string{"B", "KiB", "MiB", "GiB"}[i])
}

// rateOf is "N unit/s" for n done in took, or "" when too quick to tell.
func rateOf(n int, unit string, took time.Duration) string {
	if took < time.Millisecond || n == 0 {
		return ""
	}
	return ", " + amount(int(float64(n)/took.Seconds()), unit) + "/s"
}
