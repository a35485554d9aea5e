package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs the runrig binary with args and returns its stdout,
// stderr and exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// Help needs no relay and exits 0; a bad flag gets its one error and a
// hint, not every setting; --data may come anywhere; serve's help names
// each setting's type (issue 17, points 7 and 8).
func TestHelpAndBadFlags(t *testing.T) {
	none := filepath.Join(t.TempDir(), "no-relay")
	for _, c := range []struct {
		args       []string
		code       int
		stdoutHas  string
		stderrHas  string
		stderrMost int // lines, 0: no bound
	}{
		{[]string{"admin", "--help"}, 0, "block DOMAIN", "", 0},
		{[]string{"admin", "help"}, 0, "block DOMAIN", "", 0},
		{[]string{"admin", "--data", none, "block", "--help"}, 0, "-reason", "", 0},
		{[]string{"admin", "block", "--help", "--data", none}, 0, "-severity", "", 0},
		{[]string{"admin", "lists", "--help"}, 0, "import, export", "", 0},
		{[]string{"admin", "self", "--help"}, 0, "-json", "", 0},
		{[]string{"admin", "subscribers", "--data", none}, 1, "", "no running relay found for this data directory: " + none, 2},
		{[]string{"admin", "--bogus", "subscribers"}, 2, "", "run `runrig admin --help`", 3},
		{[]string{"serve", "--help"}, 0, "--max-body NUMBER", "", 0},
		{[]string{"serve", "--bogus"}, 2, "", "run `runrig serve --help` for every setting", 3},
		{[]string{"serve", "--max-body", "lots"}, 2, "", "want a positive whole number", 3},
	} {
		stdout, stderr, code := runBinary(t, c.args...)
		lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1
		if code != c.code || !strings.Contains(stdout, c.stdoutHas) || !strings.Contains(stderr, c.stderrHas) ||
			(c.stderrMost > 0 && lines > c.stderrMost) {
			t.Errorf("runrig %s: exit %d (want %d)\nstdout:\n%s\nstderr (%d lines):\n%s",
				strings.Join(c.args, " "), code, c.code, stdout, lines, stderr)
		}
	}
	if stdout, _, _ := runBinary(t, "serve", "--help"); strings.Contains(stdout, " value\n") || strings.Contains(stdout, "default )") {
		t.Errorf("serve --help shows a type as value or an empty default:\n%s", stdout)
	}
}
