package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// One version everywhere: `runrig version`, NodeInfo and runrig_build_info
// give the same string, with the commit (issue 17, point 10; they were
// 0.1.0, 0.1.0 and "(devel)").
func TestOneVersionEverywhere(t *testing.T) {
	cli := strings.TrimPrefix(strings.SplitN(runCLI(t, "version"), "\n", 2)[0], "runrig ")
	head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	switch {
	case err != nil: // not a git checkout: no commit to report
		t.Logf("no git checkout (%v): the version has no commit", err)
	case !strings.HasPrefix(cli, "0.1.0-dev+"+strings.TrimSpace(string(head))):
		t.Errorf("runrig version says %q: want the release and this checkout's commit %s", cli, head)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	startServe(t, dir, url, testEnv, "--listen", addr, "--public-url", url, "--data", filepath.Join(dir, "data"))
	var ni struct{ Software struct{ Version string } }
	resp, err := http.Get(url + "/nodeinfo/2.1")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&ni)
	resp.Body.Close()
	if ni.Software.Version != cli {
		t.Errorf("NodeInfo says %q, runrig version %q", ni.Software.Version, cli)
	}
	resp, err = http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`runrig_build_info\{[^}]*version="([^"]*)"`).FindSubmatch(metrics)
	if m == nil || string(m[1]) != cli {
		t.Errorf("runrig_build_info says %q, runrig version %q", m, cli)
	}
}
