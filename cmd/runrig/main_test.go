package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

// binary is the runrig command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runrig-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "runrig")
	// -buildvcs=auto: the commit the relay reports is the checkout's (GOFLAGS may say false).
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building runrig: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	stopGTSRig()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuf is a buffer safe to read while a process writes it.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running runrig serve.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuf
	logs   *syncBuf // standard error: the relay's log
	url    string
	data   string
	done   chan error
}

func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RUNRIG_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `runrig serve` in dir with args and env and waits until
// it is ready at url; the process is killed when the test ends.
func startServe(t testing.TB, dir, url string, env []string, args ...string) *proc {
	t.Helper()
	p, err := launch(dir, url, env, args...)
	if p != nil {
		t.Cleanup(func() {
			p.stop()
			if t.Failed() {
				t.Logf("runrig logs:\n%s", p.logs.String())
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launch runs `runrig serve` in dir with args and env and waits until it
// is ready at url. On error the process, if any, is returned stopped.
func launch(dir, url string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	p := &proc{cmd: cmd, stdout: &syncBuf{}, logs: &syncBuf{}, url: url, done: make(chan error, 1)}
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.stdout.Write([]byte(sc.Text() + "\n"))
		}
		p.done <- cmd.Wait()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return p, fmt.Errorf("runrig did not become ready at %s; logs:\n%s", url, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the process if it still runs.
func (p *proc) stop() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) kill9(t testing.TB) {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runrig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func actorKey(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/actor")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ PublicKey struct{ PublicKeyPem string } }
	json.NewDecoder(resp.Body).Decode(&doc)
	return doc.PublicKey.PublicKeyPem
}

// `runrig serve` with no flags: embedded store in ./data, 127.0.0.1:8080,
// a key created once and kept, the URLs to paste printed, SIGTERM honoured.
func TestServeWithNoFlags(t *testing.T) {
	dir := t.TempDir()
	const url = "http://127.0.0.1:8080"
	p := startServe(t, dir, url, nil)
	for _, want := range []string{"actor: " + url + "/actor", "inbox: " + url + "/inbox"} {
		if !strings.Contains(p.stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, p.stdout.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "runrig.db")); err != nil {
		t.Fatalf("store not in ./data: %v", err)
	}
	key := actorKey(t, url)
	if !strings.Contains(key, "PUBLIC KEY") {
		t.Fatalf("actor key = %q", key)
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no exit within 25s of SIGTERM")
	}
	t.Logf("graceful shutdown took %v", time.Since(start).Round(time.Millisecond))

	p = startServe(t, dir, url, nil)
	if got := actorKey(t, url); got != key {
		t.Fatal("actor key changed across restarts")
	}
	p.kill9(t)
}

func TestBadSettingsAreNamed(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--approval", "maybe")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "approval") || !strings.Contains(string(out), "want auto or manual") {
		t.Fatalf("bad --approval: %v\n%s", err, out)
	}
	cmd = exec.Command(binary, "admin", "--data", t.TempDir(), "subscribers")
	cmd.Env = cleanEnv()
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no running relay") {
		t.Fatalf("admin without a relay: %v\n%s", err, out)
	}
}

func newInstance(t *testing.T) *relaytest.Instance {
	in, err := relaytest.New(relaytest.Mastodon, relaytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return in
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func follow(t *testing.T, in *relaytest.Instance, url string) {
	t.Helper()
	if _, status, err := in.Follow(context.Background(), url+"/actor", url+"/inbox"); err != nil || status != 202 {
		t.Fatalf("Follow: %d %v", status, err)
	}
	waitFor(t, "Accept", 15*time.Second, func() bool { return len(in.ReceivedOf("Accept")) == 1 })
}

func announcedObjects(in *relaytest.Instance) map[string]int {
	m := map[string]int{}
	for _, a := range in.ReceivedOf("Announce") {
		m[a.ObjectID()]++
	}
	return m
}

var testEnv = []string{"RUNRIG_RETRY_BASE=100ms", "RUNRIG_RETRY_MAX=500ms", "RUNRIG_CIRCUIT_PAUSE=200ms",
	"RUNRIG_ALLOW_PRIVATE_NETWORKS=true"}

// Killed with -9 while one subscriber still has deliveries in flight, the
// relay restarts and finishes them; subscribers that had acknowledged get
// nothing twice.
func TestKilledMidFanOutLosesNothing(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	args := []string{"--listen", addr, "--public-url", url, "--data", data}
	p := startServe(t, dir, url, testEnv, args...)

	pub, b, c, held := newInstance(t), newInstance(t), newInstance(t), newInstance(t)
	for _, in := range []*relaytest.Instance{pub, b, c, held} {
		follow(t, in, url)
	}
	held.Hold()
	const n = 20
	var want []string
	for i := 0; i < n; i++ {
		note := pub.Note("", fmt.Sprintf("offer %d", i), nil)
		var doc struct{ Object struct{ ID string } }
		json.Unmarshal(note, &doc)
		want = append(want, doc.Object.ID)
		if status, text, err := pub.Post(context.Background(), url+"/inbox", note); err != nil || status != 202 {
			t.Fatalf("publish: %d %s %v", status, text, err)
		}
	}
	for _, in := range []*relaytest.Instance{b, c} {
		waitFor(t, "fast subscribers served", 15*time.Second, func() bool { return len(in.ReceivedOf("Announce")) == n })
	}
	// Wait until the store shows only the held subscriber's deliveries left.
	waitFor(t, "acknowledgements recorded", 15*time.Second, func() bool {
		var d admin.Deliveries
		json.Unmarshal([]byte(runCLI(t, "admin", "--data", data, "deliveries", "--json")), &d)
		total := d.Counts["queued"] + d.Counts["retrying"]
		for _, x := range d.Deliveries {
			if x.Peer != held.Host() {
				return false
			}
		}
		return total == n
	})
	p.kill9(t)

	p = startServe(t, dir, url, testEnv, args...)
	held.Release()
	waitFor(t, "held subscriber gets everything after restart", 30*time.Second, func() bool {
		return len(announcedObjects(held)) == n
	})
	for _, id := range want {
		if announcedObjects(held)[id] == 0 {
			t.Errorf("lost %s", id)
		}
	}
	for _, in := range []*relaytest.Instance{b, c} {
		for id, k := range announcedObjects(in) {
			if k != 1 {
				t.Errorf("%s received %s %d times after acknowledging it", in.Host(), id, k)
			}
		}
	}
	out := runCLI(t, "admin", "--data", data, "subscribers")
	if !strings.Contains(out, held.Host()) || !strings.Contains(out, "accepted") {
		t.Errorf("admin subscribers:\n%s", out)
	}
	p.kill9(t)
}

// Killed at an arbitrary moment right after accepting a burst, the relay
// delivers every accepted activity to every subscriber at least once.
func TestKilledAnyMomentDeliversAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	args := []string{"--listen", addr, "--public-url", url, "--data", filepath.Join(dir, "data")}
	p := startServe(t, dir, url, testEnv, args...)
	pub := newInstance(t)
	subs := []*relaytest.Instance{newInstance(t), newInstance(t), newInstance(t), newInstance(t)}
	follow(t, pub, url)
	for _, in := range subs {
		follow(t, in, url)
		in.InboxDelay.Store(int64(5 * time.Millisecond))
	}
	const n = 30
	for i := 0; i < n; i++ {
		if status, _, err := pub.Post(context.Background(), url+"/inbox", pub.Note("", "burst", nil)); err != nil || status != 202 {
			t.Fatalf("publish: %d %v", status, err)
		}
	}
	p.kill9(t)
	delivered := 0
	for _, in := range subs {
		delivered += len(announcedObjects(in))
	}
	t.Logf("killed with %d of %d deliveries made", delivered, n*len(subs))
	p = startServe(t, dir, url, testEnv, args...)
	dups := 0
	for _, in := range subs {
		waitFor(t, "every activity at every subscriber", 30*time.Second, func() bool { return len(announcedObjects(in)) == n })
		for _, k := range announcedObjects(in) {
			dups += k - 1
		}
	}
	t.Logf("redelivered after the crash: %d (at-least-once allows these)", dups)
	p.kill9(t)
}

// The offline checker gives the relay's verdict, with JSON paths, and an
// exit status scripts can use.
func TestListingValidate(t *testing.T) {
	td := filepath.Join("..", "..", "relay", "listing", "testdata")
	out := runCLI(t, "listing", "validate", "--now", "2025-10-08T10:00:00Z",
		filepath.Join(td, "offer.json"), filepath.Join(td, "request.json"), filepath.Join(td, "surplus.json"))
	for _, want := range []string{"offer.json: valid offer", "request.json: valid request", "surplus.json: valid surplus"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	b, _ := os.ReadFile(filepath.Join(td, "offer.json"))
	os.WriteFile(bad, []byte(strings.Replace(string(b), `"purpose": "offer"`, `"purpose": "barter"`, 1)), 0o600)
	cmd := exec.Command(binary, "listing", "validate", "--now", "2025-10-08T10:00:00Z", "--json", bad)
	o, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("invalid listing: exit %v", err)
	}
	var res []struct {
		Valid    bool
		Problems []struct{ Path, Reason string }
	}
	if err := json.Unmarshal(o, &res); err != nil || len(res) != 1 || res[0].Valid ||
		res[0].Problems[0].Path != "$.object.purpose" || res[0].Problems[0].Reason != "bad_purpose" {
		t.Fatalf("JSON output %s: %v", o, err)
	}
}

// Moderators work through the CLI: block with a preview, list and show
// rules, read and export the audit log; the block takes effect at once.
func TestModerationCLI(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	p := startServe(t, dir, url, testEnv, "--listen", addr, "--public-url", url, "--data", data)
	pub, bad := newInstance(t), newInstance(t)
	follow(t, pub, url)
	follow(t, bad, url)

	out := runCLI(t, "admin", "--data", data, "block", bad.Host(), "--severity", "reject", "--reason", "spam", "--preview")
	if !strings.Contains(out, "would affect 1 subscriptions") {
		t.Errorf("preview: %s", out)
	}
	out = runCLI(t, "admin", "--data", data, "block", bad.Host(), "--severity", "reject", "--reason", "spam",
		"--public-comment", "spam wave", "--json")
	var rule struct {
		ID     int64
		Action string
	}
	if err := json.Unmarshal([]byte(out), &rule); err != nil || rule.ID == 0 || rule.Action != "reject" {
		t.Fatalf("block --json: %s %v", out, err)
	}
	if status, _, _ := bad.Post(context.Background(), url+"/inbox", bad.Note("", "x", nil)); status != 403 {
		t.Errorf("blocked peer: %d", status)
	}
	if out := runCLI(t, "admin", "--data", data, "rules"); !strings.Contains(out, bad.Host()) || !strings.Contains(out, "spam wave") {
		t.Errorf("rules list: %s", out)
	}
	if out := runCLI(t, "admin", "--data", data, "rules", "show", fmt.Sprint(rule.ID)); !strings.Contains(out, "reject domain "+bad.Host()) {
		t.Errorf("rules show: %s", out)
	}
	runCLI(t, "admin", "--data", data, "rules", "remove", fmt.Sprint(rule.ID), "--reason", "cleared up")
	if status, _, _ := bad.Post(context.Background(), url+"/inbox", bad.Note("", "y", nil)); status != 202 {
		t.Errorf("unblocked peer: %d", status)
	}
	out = runCLI(t, "admin", "--data", data, "audit", "export")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"what":"rule.add"`) || !strings.Contains(lines[1], `"why":"cleared up"`) {
		t.Errorf("audit export:\n%s", out)
	}
	if out := runCLI(t, "admin", "--data", data, "audit"); !strings.Contains(out, "rule.remove") {
		t.Errorf("audit: %s", out)
	}
	// Lists: import as drafts, review, approve, export.
	csvFile := filepath.Join(dir, "shared.csv")
	os.WriteFile(csvFile, []byte("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nads.example,silence,false,false,Ads,false\n"), 0o600)
	if out := runCLI(t, "admin", "--data", data, "lists", "import", csvFile, "--draft"); !strings.Contains(out, "added 1 rules from list shared") {
		t.Errorf("lists import: %s", out)
	}
	if out := runCLI(t, "admin", "--data", data, "lists", "drafts"); !strings.Contains(out, "limit domain ads.example (source list:shared") {
		t.Errorf("lists drafts: %s", out)
	}
	if out := runCLI(t, "admin", "--data", data, "lists", "approve", "--all"); !strings.Contains(out, "approved 1 draft rules") {
		t.Errorf("lists approve: %s", out)
	}
	if out := runCLI(t, "admin", "--data", data, "lists", "export"); !strings.Contains(out, "ads.example,silence,false,false,Ads,false") {
		t.Errorf("lists export: %s", out)
	}
	if out := runCLI(t, "admin", "--data", data, "lists", "subscriptions"); !strings.Contains(out, "no list subscriptions") {
		t.Errorf("lists subscriptions: %s", out)
	}
	// Flags may follow positional arguments.
	cmd := exec.Command(binary, "admin", "--data", data, "approve", bad.Host(), "--slice", "surplus")
	cmd.Env = cleanEnv()
	if o, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(o), "to surplus") {
		t.Errorf("approve --slice after DOMAIN: %v %s", err, o)
	}
	// runrig admin self prints the announcement exactly as signed: a copy
	// of its output verifies.
	ann := strings.TrimSpace(runCLI(t, "admin", "--data", data, "self"))
	v := discovery.NewVerifier(actorKeys{})
	if _, err := v.Verify(context.Background(), []byte(ann)); err != nil {
		t.Fatalf("self output does not verify: %v\n%s", err, ann)
	}
	if !strings.HasPrefix(ann, `{"record":`) {
		t.Errorf("self output is not the signed document as is:\n%s", ann)
	}
	p.kill9(t)
}

// actorKeys resolves an announcement key from the relay actor's
// assertionMethod, as another relay would (without its safeguards).
type actorKeys struct{}

func (actorKeys) AssertionKey(_ context.Context, keyID string) (discovery.AssertionKey, error) {
	actor, _, _ := strings.Cut(keyID, "#")
	resp, err := http.Get(actor)
	if err != nil {
		return discovery.AssertionKey{}, err
	}
	defer resp.Body.Close()
	var doc struct {
		AssertionMethod []struct{ ID, Controller, PublicKeyMultibase string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return discovery.AssertionKey{}, err
	}
	for _, m := range doc.AssertionMethod {
		if m.ID == keyID {
			pub, err := discovery.DecodeMultikey(m.PublicKeyMultibase)
			return discovery.AssertionKey{ID: m.ID, Controller: m.Controller, Public: pub}, err
		}
	}
	return discovery.AssertionKey{}, fmt.Errorf("no key %s", keyID)
}

// `serve --listen` alone moves the advertised URLs with it, and a relay
// whose public URL is on this machine says, at start and on its front
// page, that no server on the internet can subscribe (issue 17, point 1).
func TestListenMovesThePublicURL(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	p := startServe(t, dir, url, nil, "--listen", addr, "--data", filepath.Join(dir, "data"))
	out := p.stdout.String()
	for _, want := range []string{"actor: " + url + "/actor", "inbox: " + url + "/inbox", "no server on the internet can"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := strings.ReplaceAll(string(body), "<wbr>", "") // where a phone may wrap
	if !strings.Contains(page, "no server on the internet can subscribe") || !strings.Contains(page, url+"/inbox") {
		t.Errorf("the front page does not say the relay is local:\n%s", body)
	}
}
