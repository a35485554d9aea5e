package main

// Interop with Fedify 2.3.6 (../shared/interop/fedify): a real ActivityPub
// implementation that signs with RFC 9421 first (falling back to
// draft-cavage on 401), publishes Ed25519 Multikeys and puts FEP-8b32
// eddsa-jcs-2022 proofs on what it sends. Two Fedify actors subscribe to
// the real relay binary and one posts; the other must receive it. Skips
// where the script is absent, or with RUNRIG_INTEROP=off; needs the npm
// registry the first time (the script installs Fedify and a Node 22).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fedifyEvent is one line the Fedify peers print.
type fedifyEvent struct {
	Who  string `json:"who"`
	Ev   string `json:"ev"`
	Rest []any  `json:"rest"`
}

func fedifyScript(t *testing.T) string {
	dir := os.Getenv(interopEnv)
	if dir == "off" {
		t.Skip("interop: off (" + interopEnv + "=off)")
	}
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "interop")
	}
	script, err := filepath.Abs(filepath.Join(dir, "fedify", "fedify"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Skipf("interop: no Fedify at %s", script)
	}
	return script
}

// TestInteropFedifyRFC9421AndProofs: Fedify's first knock (RFC 9421) is
// taken, so no request of theirs is refused; the proof on alice's Create
// verifies against her published Ed25519 key; bob receives the post; and
// the relay, having seen Fedify sign with RFC 9421, signs to it that way.
func TestInteropFedifyRFC9421AndProofs(t *testing.T) {
	script := fedifyScript(t)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	install := filepath.Join(cache, "runrig-interop-fedify")
	if out, err := exec.Command(script, "install", install).CombinedOutput(); err != nil {
		t.Fatalf("installing Fedify (needs the npm registry once): %v\n%s", err, out)
	}
	addr := freeAddr(t)
	url := "http://" + addr
	dir := t.TempDir()
	relay := meshRelay{url: url, data: filepath.Join(dir, "data")}
	relay.p = startServe(t, dir, url, []string{"RUNRIG_ALLOW_PRIVATE_NETWORKS=true"},
		"--listen", addr, "--public-url", url, "--data", relay.data)

	base := freePortPair(t)
	out, err := exec.Command(script, "peers", install, url, strconv.Itoa(base)).Output()
	if err != nil {
		t.Fatalf("fedify peers: %v\n%s", err, out)
	}
	var events []fedifyEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e fedifyEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			events = append(events, e)
		}
	}
	t.Logf("Fedify said:\n%s", out)
	has := func(who, ev string) bool {
		for _, e := range events {
			if e.Who == who && e.Ev == ev {
				return true
			}
		}
		return false
	}
	for _, who := range []string{"alice", "bob"} {
		if !has(who, "accept") {
			t.Errorf("%s's subscription was not accepted", who)
		}
	}
	if !has("bob", "create") && !has("bob", "announce") {
		t.Error("bob did not receive alice's post through the relay")
	}
	if has("alice", "follow-error") || has("bob", "follow-error") || has("alice", "create-error") {
		t.Error("Fedify failed to send")
	}
	if n := metric(t, relay, `runrig_signatures_verified_total{kind="rfc9421"}`); n < 3 {
		t.Errorf("%v RFC 9421 signatures verified, want the two Follows and the Create; %s", n,
			metricsOf(t, relay, "runrig_signature_failures_total"))
	}
	if failed := metricsOf(t, relay, "runrig_signature_failures_total"); strings.Contains(failed, "} 1") || strings.Contains(failed, "} 2") {
		t.Errorf("signatures refused: %s", failed)
	}
	if n := metric(t, relay, "runrig_proofs_verified_total"); n < 1 {
		t.Error("the proof on alice's Create was not verified")
	}
	// Every POST the relay made to Fedify after its first was signed with
	// RFC 9421, learned from how Fedify signs.
	var schemes []string
	for _, e := range events {
		if e.Ev == "http" && len(e.Rest) >= 4 && e.Rest[0] == "POST" {
			schemes = append(schemes, fmt.Sprint(e.Rest[3]))
		}
	}
	if len(schemes) == 0 || strings.Contains(strings.Join(schemes, " "), "cavage") {
		t.Errorf("the relay's POSTs to Fedify were signed %v, want rfc9421 throughout", schemes)
	}
}

// freePortPair finds two consecutive free loopback ports.
func freePortPair(t *testing.T) int {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		ln.Close()
		if err == nil {
			ln2.Close()
			return port
		}
	}
	t.Fatal("no two consecutive free ports")
	return 0
}
