package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store/postgres/pgtest"
)

// docCommand is a command shown in a shell block of the documentation.
type docCommand struct {
	where string // file:line
	text  string
}

// docCommands extracts the commands of every ```sh block of README.md and
// docs/*.md, in order, continuation lines joined and comments dropped.
func docCommands(t *testing.T) []docCommand {
	repo := filepath.Join("..", "..")
	files, _ := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	files = append([]string{filepath.Join(repo, "README.md")}, files...)
	var out []docCommand
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in, cur := false, ""
		for i, line := range strings.Split(string(b), "\n") {
			trim := strings.TrimSpace(line)
			if strings.HasPrefix(trim, "```") {
				in = !in && trim == "```sh"
				continue
			}
			if !in || trim == "" || strings.HasPrefix(trim, "#") {
				continue
			}
			if c := strings.Index(trim, "  #"); c > 0 {
				trim = strings.TrimSpace(trim[:c])
			}
			cur += trim
			if strings.HasSuffix(cur, "\\") {
				cur = strings.TrimSuffix(cur, "\\") + " "
				continue
			}
			// ./runrig is the binary just built in the current directory.
			out = append(out, docCommand{where: filepath.Base(f) + ":" + strconv.Itoa(i+1), text: strings.TrimPrefix(cur, "./")})
			cur = ""
		}
	}
	return out
}

// notRun are the other tools the docs show, and what covers them instead:
// the docs test runs every runrig and curl command, not these.
var notRun = map[string]string{
	"make":                            "make test is CI itself; make run builds bin/runrig and serves, run by TestMakeRunStopsCleanlyOnCtrlC; make demo runs runrig demo, run by TestDemo",
	"go":                              "go build is what TestMain does",
	"mix":                             "another project's tool (Pleroma)",
	"./bin/pleroma_ctl":               "another project's tool (Akkoma)",
	"eval":                            "starts the throwaway PostgreSQL cluster CI itself starts (.ci/run)",
	"deploy/postgres/test-cluster.sh": "CI itself starts and stops the cluster with it (.ci/run)",
	"pg_dump":                         "PostgreSQL's own tool; migrate-store and the postgres store tests cover what runrig puts in the database",
	"pg_restore":                      "PostgreSQL's own tool, the other half of pg_dump",
	"createdb":                        "PostgreSQL's own tool; the tests make their databases with CREATE DATABASE (pgtest)",
	"psql":                            "PostgreSQL's own client, for PostgreSQL's own statements",
	"docker":                          "deploy_test parses the compose files the way docker compose reads them",
	"kubectl":                         "deploy_test parses the Kubernetes manifests",
}

// docPostgres is the PostgreSQL URL the docs show; the docs test puts a
// fresh database of the test server in its place, or, with none, names
// the commands that need one and runs the rest.
const docPostgres = "postgres://runrig:secret@db.example:5432/runrig"

// Every runrig and curl command the documentation shows runs against a
// live relay and succeeds: documentation that stops matching the program
// fails here. Paths and hosts of the examples are mapped to the test's.
func TestDocsCommands(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "var", "lib", "runrig")
	for _, d := range []string{"etc/runrig", "var/backups", "relay/listing/testdata"} {
		os.MkdirAll(filepath.Join(work, d), 0o755)
	}
	testdata, _ := filepath.Glob(filepath.Join("..", "..", "relay", "listing", "testdata", "*.json"))
	for _, f := range testdata {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(work, "relay", "listing", "testdata", filepath.Base(f)), b, 0o644)
	}
	const csv = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nspam-farm.example,suspend,false,false,spam,false\n"
	os.WriteFile(filepath.Join(work, "blocks.csv"), []byte(csv), 0o644)
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(csv)) }))
	defer lists.Close()
	// The DFC catalog the bridge examples read: OFN's real FDC catalog,
	// behind the token the examples' token file holds.
	catalog, err := os.ReadFile(filepath.Join("..", "..", "relay", "dfc", "testdata", "fdc-catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "etc", "runrig", "ofn-token"), []byte("ofn-secret\n"), 0o600)
	ofn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Token") != "ofn-secret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write(catalog)
	}))
	defer ofn.Close()

	addr := freeAddr(t)
	url := "http://" + addr
	startServe(t, work, url, testEnv, "--listen", addr, "--public-url", url, "--data", data, "--approval", "manual",
		"--regions", "it-bg")
	coop := newInstance(t)
	os.WriteFile(filepath.Join(work, "my-listing.json"), coop.Listing("offer", time.Now().Add(48*time.Hour), nil), 0o644)
	if _, status, err := coop.Follow(t.Context(), url+"/actor", url+"/inbox"); err != nil || status != 202 {
		t.Fatalf("Follow: %d %v", status, err)
	}

	subst := strings.NewReplacer(
		"/var/lib/runrig-restored", filepath.Join(work, "restored"),
		"/var/lib/runrig", data,
		"/etc/runrig", filepath.Join(work, "etc", "runrig"),
		"/var/backups", filepath.Join(work, "var", "backups"),
		"https://relay.example", url,
		"https://lists.example", lists.URL,
		"https://ofn.example", ofn.URL,
		"coop.example", coop.Host(),
	)
	env := append(cleanEnv(testEnv...), "RUNRIG_DATA="+data, "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"))
	ran := runDocCommands(t, work, data, env, subst)
	if ran < 40 {
		t.Errorf("ran only %d documented commands", ran)
	}
	t.Logf("ran %d documented commands", ran)
}

// runDocCommands runs every documented command it knows how to, with the
// examples' paths and hosts replaced by subst, and returns how many ran.
func runDocCommands(t *testing.T, work, data string, env []string, subst *strings.Replacer) int {
	ran, pg := 0, &docDatabase{}
	for _, c := range docCommands(t) {
		name, text := strings.Fields(c.text)[0], subst.Replace(c.text)
		text, ok := pg.substitute(t, c, text)
		if !ok {
			continue
		}
		if strings.HasPrefix(c.text, "runrig migrate-store") {
			// It moves a stopped relay's store: a copy of the running one's.
			text = strings.Replace(text, data, stoppedCopy(t, env, data), 1)
		}
		switch {
		case strings.HasPrefix(c.text, "runrig serve"):
			runDocServe(t, c, text, env)
		case name == "runrig" || name == "curl":
			cmd := exec.Command("sh", "-c", strings.Replace(text, "curl ", "curl -fsS ", 1))
			cmd.Dir, cmd.Env = work, env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %s\n%v\n%s", c.where, c.text, err, out)
			}
		default:
			if notRun[name] == "" {
				t.Errorf("%s: the docs show %q, which this test neither runs nor knows", c.where, c.text)
			}
			continue
		}
		ran++
	}
	return ran
}

// docDatabase is the test server's database the docs' PostgreSQL URL
// stands for, made at its first use.
type docDatabase struct{ url string }

// substitute puts the database's URL in place of the docs' in text; ok is
// false when text needs PostgreSQL and there is none to test on.
func (d *docDatabase) substitute(t *testing.T, c docCommand, text string) (_ string, ok bool) {
	if !strings.Contains(text, docPostgres) {
		return text, true
	}
	if os.Getenv(pgtest.Env) == "" {
		t.Logf("%s: not run, it needs PostgreSQL (%s is not set): %s", c.where, pgtest.Env, c.text)
		return "", false
	}
	if d.url == "" {
		d.url = pgtest.Server(t).Database(t, "docs")
	}
	return strings.ReplaceAll(text, docPostgres, "'"+d.url+"'"), true
}

// stoppedCopy backs the running relay on data up and restores the backup
// into a new data directory, which no relay runs on.
func stoppedCopy(t *testing.T, env []string, data string) string {
	dir := t.TempDir()
	stopped := filepath.Join(dir, "stopped")
	for _, args := range [][]string{
		{"backup", filepath.Join(dir, "copy.db"), "--data", data},
		{"restore", filepath.Join(dir, "copy.db"), "--data", stopped},
	} {
		cmd := exec.Command(binary, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("runrig %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return stopped
}

// runDocServe runs a documented `runrig serve` on a fresh data directory
// and a free port until it is ready, then stops it with SIGTERM.
func runDocServe(t *testing.T, c docCommand, text string, env []string) {
	addr := freeAddr(t)
	args := strings.Fields(text)[1:]
	for i := range args {
		args[i] = strings.Trim(args[i], "'") // no shell runs it
		if i > 0 && args[i-1] == "--data" {
			args[i] = t.TempDir()
		}
		if i > 0 && args[i-1] == "--public-url" {
			args[i] = "http://" + addr
		}
	}
	cmd := exec.Command(binary, append(args, "--listen", addr)...)
	cmd.Env = env
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	go func() {
		for sc.Scan() {
		}
	}()
	waitFor(t, c.where+" to serve", 20*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("%s: %s: %v", c.where, c.text, err)
	}
}
