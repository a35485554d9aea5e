package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The real binary: `admin moderators add` prints a setup link that works
// in the console of the running relay, `moderators list` shows the
// account with its password set, and the audit log names who added it.
func TestModeratorsCLI(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	data := filepath.Join(dir, "data")
	startServe(t, dir, base, testEnv, "--listen", addr, "--public-url", base, "--data", data)

	out := runCLI(t, "admin", "--data", data, "moderators", "add", "ana", "--role", "admin")
	link := regexp.MustCompile(`http://\S+/admin/setup/\S+`).FindString(out)
	if link == "" {
		t.Fatalf("no setup link in:\n%s", out)
	}
	if !strings.Contains(runCLI(t, "admin", "--data", data, "moderators"), "ana   admin  false") {
		t.Errorf("list before setup: %s", runCLI(t, "admin", "--data", data, "moderators"))
	}
	form := url.Values{"password": {"a long phrase of words"}, "confirm": {"a long phrase of words"}}
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).PostForm(link, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Signed in as ana") {
		t.Fatalf("setup through the printed link: %d\n%s", resp.StatusCode, body)
	}
	if list := runCLI(t, "admin", "--data", data, "moderators"); !strings.Contains(list, "ana   admin  true") {
		t.Errorf("list after setup:\n%s", list)
	}
	if audit := runCLI(t, "admin", "--data", data, "audit"); !strings.Contains(audit, "moderator.add") {
		t.Errorf("audit lacks moderator.add:\n%s", audit)
	}
}

func TestListNameOf(t *testing.T) {
	for in, want := range map[string]string{
		"blocks.csv": "blocks", "/tmp/Coop Blocks (2026).csv": "coop-blocks-2026", "___.txt": "list",
		"x/" + strings.Repeat("ab-", 40) + ".csv": strings.TrimSuffix(strings.Repeat("ab-", 22)[:64], "-"),
	} {
		if got := listNameOf(in); got != want {
			t.Errorf("listNameOf(%q) = %q, want %q", in, got, want)
		}
	}
}
