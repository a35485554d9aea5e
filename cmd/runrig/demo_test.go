package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `runrig demo` runs for a bounded time as a newcomer would run it:
// listings reach the index, deliveries succeed, the front page counts the
// approved platforms, and Ctrl-C stops it cleanly (issue 17, point 2).
func TestDemo(t *testing.T) {
	addr := freeAddr(t)
	url := "http://" + addr
	cmd := exec.Command(binary, "demo", "--listen", addr, "--every", "200ms")
	cmd.Env = cleanEnv()
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	get := func(path string) string {
		resp, err := http.Get(url + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	delivered := regexp.MustCompile(`runrig_deliveries_total\{result="delivered"\} (\d+)`)
	waitFor(t, "listings in the index and deliveries made", 2*time.Minute, func() bool {
		m := delivered.FindStringSubmatch(get("/metrics"))
		n := 0
		if m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		return n >= 6 && strings.Contains(get("/listings"), "/proposals/")
	})
	if page := get("/"); !strings.Contains(page, "3 servers subscribed") {
		t.Errorf("the front page does not count the three approved platforms:\n%s", page)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo after Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("demo did not stop within 30 s of Ctrl-C\n%s", out.String())
	}
	for _, want := range []string{"stays pending", "publishes an offer", "signs a copy for each subscriber", "stopped cleanly"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's explanation lacks %q:\n%s", want, out.String())
		}
	}
}

// A demo whose port is taken says so at once, instead of waiting on the
// other listener (it waited for ever) and naming a log it had removed.
func TestDemoOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cmd := exec.Command(binary, "demo", "--listen", taken.Addr().String())
	cmd.Env = cleanEnv()
	done := make(chan []byte, 1)
	go func() { out, _ := cmd.CombinedOutput(); done <- out }()
	select {
	case out := <-done:
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "address already in use") {
			t.Errorf("demo on a taken port: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("demo on a taken port still runs after a minute")
	}
}
