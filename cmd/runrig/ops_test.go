package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

// An online backup of a running relay, restored into an empty data
// directory on another "machine", resumes the relay with its key, its
// subscribers, its moderation rules and its delivery queue.
func TestBackupRestoreResumes(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	p := startServe(t, dir, url, testEnv, "--listen", addr, "--public-url", url, "--data", data)
	key := actorKey(t, url)

	pub, held := newInstance(t), newInstance(t)
	follow(t, pub, url)
	follow(t, held, url)
	runCLI(t, "admin", "--data", data, "block", "spam.example", "--severity", "suspend", "--reason", "spam")
	held.Hold()
	note := pub.Note("", "potatoes", nil)
	if status, text, err := pub.Post(context.Background(), url+"/inbox", note); err != nil || status != 202 {
		t.Fatalf("publish: %d %s %v", status, text, err)
	}
	var doc struct{ Object struct{ ID string } }
	json.Unmarshal(note, &doc)
	waitFor(t, "the held delivery queued", 15*time.Second, func() bool {
		var d admin.Deliveries
		json.Unmarshal([]byte(runCLI(t, "admin", "--data", data, "deliveries", "--json")), &d)
		return len(d.Deliveries) == 1 && d.Deliveries[0].Peer == held.Host()
	})

	backup := filepath.Join(t.TempDir(), "runrig-backup.db")
	out := runCLI(t, "backup", backup, "--data", data)
	if !strings.Contains(out, "from the running relay") {
		t.Errorf("backup: %s", out)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if err := exec.Command(binary, "backup", backup, "--data", data).Run(); err == nil {
		t.Error("a backup overwrote an existing file")
	}
	p.kill9(t)

	// The other machine: an empty data directory.
	dir2 := t.TempDir()
	data2 := filepath.Join(dir2, "data")
	runCLI(t, "restore", backup, "--data", data2)
	if err := exec.Command(binary, "restore", backup, "--data", data2).Run(); err == nil {
		t.Error("restore overwrote a store")
	}
	startServe(t, dir2, url, testEnv, "--listen", addr, "--public-url", url, "--data", data2)
	if got := actorKey(t, url); got != key {
		t.Error("the restored relay has another key")
	}
	if out := runCLI(t, "admin", "--data", data2, "subscribers"); !strings.Contains(out, pub.Host()) || !strings.Contains(out, held.Host()) {
		t.Errorf("subscribers after restore:\n%s", out)
	}
	if out := runCLI(t, "admin", "--data", data2, "rules"); !strings.Contains(out, "spam.example") {
		t.Errorf("rules after restore:\n%s", out)
	}
	held.Release()
	waitFor(t, "the queued delivery after restore", 30*time.Second, func() bool {
		return announcedObjects(held)[doc.Object.ID] == 1
	})

	// A file that is not a backup is refused, and nothing is created.
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	data3 := filepath.Join(t.TempDir(), "data")
	if out, err := exec.Command(binary, "restore", junk, "--data", data3).CombinedOutput(); err == nil {
		t.Errorf("restored junk: %s", out)
	}
	if _, err := os.Stat(filepath.Join(data3, "runrig.db")); err == nil {
		t.Error("a refused restore left a store behind")
	}
}

// With no relay running, backup opens the store itself.
func TestBackupOffline(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	p := startServe(t, dir, url, testEnv, "--listen", addr, "--public-url", url, "--data", data)
	p.kill9(t)
	backup := filepath.Join(t.TempDir(), "b.db")
	if out := runCLI(t, "backup", backup, "--data", data); !strings.Contains(out, "no relay running") {
		t.Errorf("offline backup: %s", out)
	}
}

// config check names the bad key and why; config example is valid.
func TestConfigCommands(t *testing.T) {
	example := filepath.Join(t.TempDir(), "runrig.toml")
	os.WriteFile(example, []byte(runCLI(t, "config", "example")), 0o600)
	if out := runCLI(t, "config", "check", example); !strings.Contains(out, "is valid") {
		t.Errorf("config check of the example: %s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("listen = \"127.0.0.1:8080\"\nmax_hops = -2\n"), 0o600)
	out, err := exec.Command(binary, "config", "check", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "max_hops") || !strings.Contains(string(out), "whole number") {
		t.Errorf("config check of a bad file: %v %s", err, out)
	}
}
