package main

import (
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C on `make run` stops the relay cleanly and make with it, without
// "make: *** Error 1" (issue 17, point 11: `go run` exited 1).
func TestMakeRunStopsCleanlyOnCtrlC(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	addr := freeAddr(t)
	cmd := exec.Command("make", "-s", "-C", filepath.Join("..", ".."), "run")
	cmd.Env = cleanEnv("RUNRIG_LISTEN="+addr, "RUNRIG_DATA="+filepath.Join(t.TempDir(), "data"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, as a terminal's
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "make run to serve", 3*time.Minute, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C: the whole group
	cmd.Wait()
	// make, signalled with its child, ends by the same signal (a shell
	// prints nothing for it) or with 0: either way without an error line.
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	clean := ws.Exited() && ws.ExitStatus() == 0 || ws.Signaled() && ws.Signal() == syscall.SIGINT
	if !clean || strings.Contains(out.String(), "make: ***") || !strings.Contains(out.String(), "shutting down") {
		t.Errorf("make run after Ctrl-C: %v\n%s", cmd.ProcessState, out.String())
	}
}
