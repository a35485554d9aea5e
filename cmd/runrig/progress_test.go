package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

// The progress line: counts, percent, then rate and time left once a
// step has run long enough; a step with no count shows its time.
func TestMeterLines(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		at   time.Duration
		p    admin.Progress
		want string // "" when nothing is drawn
	}{
		{0, admin.Progress{Step: "checking", Total: 20000, Unit: "rows"}, "import: checking 0 of 20,000 rows (0%)"},
		{50 * time.Millisecond, admin.Progress{Step: "checking", Done: 500, Total: 20000, Unit: "rows"}, ""},
		{time.Second, admin.Progress{Step: "checking", Done: 5000, Total: 20000, Unit: "rows"},
			"import: checking 5,000 of 20,000 rows (25%), 5,000 rows/s, 3s left"},
		{time.Second + 10*time.Millisecond, admin.Progress{Step: "checking", Done: 20000, Total: 20000, Unit: "rows"},
			"import: checking 20,000 of 20,000 rows (100%), 19,801 rows/s"},
		{2 * time.Second, admin.Progress{Step: "writing", Done: 20000, Unit: "rows"}, "import: writing 20,000 rows… 0s"},
		{4 * time.Second, admin.Progress{Step: "writing", Done: 20000, Unit: "rows"}, "import: writing 20,000 rows… 2s"},
		{5 * time.Second, admin.Progress{Step: "copying", Done: 3 << 20, Total: 12 << 20, Unit: "bytes"},
			"import: copying 3.0 MiB of 12.0 MiB (25%)"},
		{6 * time.Second, admin.Progress{Step: "reading"}, "import: reading… 0s"},
	}
	var out bytes.Buffer
	now := t0
	m := &meter{w: &out, on: true, label: "import", now: func() time.Time { return now }}
	for _, tc := range tests {
		now = t0.Add(tc.at)
		out.Reset()
		m.Report(tc.p)
		want := ""
		if tc.want != "" {
			want = "\r\x1b[K" + tc.want
		}
		if out.String() != want {
			t.Errorf("at %s, %+v: drew %q, want %q", tc.at, tc.p, out.String(), want)
		}
	}
	out.Reset()
	m.Done()
	if out.String() != "\r\x1b[K" {
		t.Errorf("Done wrote %q, want the line cleared", out.String())
	}
	off := &meter{w: &out, label: "import", now: time.Now}
	out.Reset()
	off.Report(admin.Progress{Step: "checking", Total: 1})
	off.Done()
	if out.Len() != 0 || off.progressFunc() != nil {
		t.Errorf("a meter off a terminal drew %q", out.String())
	}
}

func TestAmounts(t *testing.T) {
	for _, tc := range []struct {
		n    int
		unit string
		want string
	}{
		{0, "rows", "0 rows"}, {999, "", "999"}, {1000, "rows", "1,000 rows"}, {20000, "items", "20,000 items"},
		{-1234567, "", "-1,234,567"}, {1023, "bytes", "1023 B"}, {1536, "bytes", "1.5 KiB"}, {3 << 30, "bytes", "3.0 GiB"},
	} {
		if got := amount(tc.n, tc.unit); got != tc.want {
			t.Errorf("amount(%d, %q) = %q, want %q", tc.n, tc.unit, got, tc.want)
		}
	}
}

// onTerminal runs runrig with args on a pseudo-terminal (util-linux
// script) and returns what the terminal showed.
func onTerminal(t *testing.T, args ...string) string {
	t.Helper()
	line := shellQuote(binary)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	cmd := exec.Command("script", "-qefc", line, "/dev/null")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("on a terminal, runrig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Long work shows progress on a terminal — a line redrawn in place — and
// ends with a summary; through a pipe, or with --json, it prints the
// summary (or the JSON) alone.
func TestProgressOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("the progress tests need util-linux's script (a pseudo-terminal): ", err)
	}
	fixture, err := os.ReadFile(filepath.Join("..", "..", "relay", "dfc", "testdata", "fdc-catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := relaytest.RepeatCatalog(fixture, 50)
	if err != nil {
		t.Fatal(err)
	}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(catalog) }))
	defer shop.Close()
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	startServe(t, dir, url, testEnv, "--listen", addr, "--public-url", url, "--data", data)
	list := filepath.Join(dir, "shared-blocks.csv")
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "blocked-%05d.example\n", i)
	}
	if err := os.WriteFile(list, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "admin", "--data", data, "bridges", "add", "shop", "--catalog", shop.URL+"/catalog")

	const redraw = "\r\x1b[K"
	for _, tc := range []struct {
		args           []string
		shows, summary string
	}{
		{[]string{"admin", "--data", data, "lists", "import", list, "--reason", "shared"},
			"importing shared-blocks.csv: checking 0 of 20,000 rows (0%)", "added 20,000 rules from list shared-blocks in "},
		{[]string{"admin", "--data", data, "bridges", "sync", "shop"},
			"syncing shop: publishing 0 of 300 items (0%)", "shop: 300 created, 0 updated"},
		{[]string{"backup", filepath.Join(dir, "a.db"), "--data", data}, "backing up " + data + ": copying ", "backed up " + data},
		{[]string{"restore", filepath.Join(dir, "a.db"), "--data", filepath.Join(dir, "restored")},
			"restoring " + filepath.Join(dir, "a.db") + ": copying 0 B of ", "restored " + filepath.Join(dir, "a.db")},
	} {
		out := onTerminal(t, tc.args...)
		if !strings.Contains(out, redraw+tc.shows) || !strings.Contains(out, redraw+tc.summary) {
			t.Errorf("runrig %s on a terminal showed %q; want %q redrawn, then the summary %q", strings.Join(tc.args, " "), out, tc.shows, tc.summary)
		}
	}
	// Through a pipe: the summary alone.
	piped := runCLI(t, "admin", "--data", data, "lists", "import", list, "--name", "again", "--reason", "shared")
	if strings.Contains(piped, "\x1b") || !strings.HasPrefix(piped, "added 0 rules from list again in ") {
		t.Errorf("through a pipe: %q", piped)
	}
	// --json on a terminal: the JSON alone.
	out := onTerminal(t, "admin", "--data", data, "--json", "bridges", "sync", "shop")
	var rep admin.BridgeSynced
	if strings.Contains(out, "\x1b") || json.Unmarshal([]byte(out), &rep) != nil || !rep.NotModified && rep.Unchanged != 300 {
		t.Errorf("--json on a terminal: %q", out)
	}
}
