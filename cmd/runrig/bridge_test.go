package main

import (
	"encoding/json"
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

// Killed with -9 in the middle of a bridge's first sync, the relay loses
// nothing: after a restart the next sync publishes what the first did not
// get to (and nothing it did), and the subscriber receives a Create of
// every listing at least once.
func TestKilledMidBridgeSyncLosesNothing(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("..", "..", "relay", "dfc", "testdata", "fdc-catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	const copies = 200 // 1,200 listings: a sync of a second or two
	catalog, err := relaytest.RepeatCatalog(fixture, copies)
	if err != nil {
		t.Fatal(err)
	}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(catalog) }))
	defer shop.Close()

	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	args := []string{"--listen", addr, "--public-url", url, "--data", data}
	p := startServe(t, dir, url, testEnv, args...)
	sub := newInstance(t)
	follow(t, sub, url)
	runCLI(t, "admin", "--data", data, "bridges", "add", "shop", "--catalog", shop.URL+"/catalog")

	syncing := exec.Command(binary, "admin", "--data", data, "bridges", "sync", "shop")
	syncing.Env = cleanEnv()
	if err := syncing.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first Creates", 30*time.Second, func() bool { return len(sub.ReceivedOf("Create")) > 0 })
	p.kill9(t)
	syncing.Wait() // the relay died under it

	p = startServe(t, dir, url, testEnv, args...)
	// A sync publishes at most 1,000 changes; the rest come with the next.
	var rep admin.BridgeSynced
	created := 0
	for i := 0; i < 3 && (i == 0 || rep.Deferred > 0); i++ {
		rep = admin.BridgeSynced{}
		json.Unmarshal([]byte(runCLI(t, "admin", "--data", data, "--json", "bridges", "sync", "shop")), &rep)
		created += rep.Created
		if rep.Updated+rep.Deleted != 0 || rep.Created+rep.Unchanged+rep.Deferred != 6*copies {
			t.Fatalf("sync %d after the restart: %d created, %d unchanged, %d deferred, %d updated, %d deleted",
				i+1, rep.Created, rep.Unchanged, rep.Deferred, rep.Updated, rep.Deleted)
		}
	}
	if rep.Deferred != 0 {
		t.Fatalf("after the syncs: %d still deferred", rep.Deferred)
	}
	rep.Created, rep.Unchanged = created, 6*copies-created
	if rep.Unchanged == 0 || rep.Created == 0 {
		t.Logf("the kill came outside the first sync (%d created after the restart); delivery is still checked", rep.Created)
	}
	creates := func() map[string]int {
		seen := map[string]int{}
		for _, c := range sub.ReceivedOf("Create") {
			seen[c.ObjectID()]++
		}
		return seen
	}
	waitFor(t, "a Create of every listing", 60*time.Second, func() bool { return len(creates()) == 6*copies })
	dups := 0
	for id, n := range creates() {
		if !strings.HasPrefix(id, url+"/bridges/shop/listings/") {
			t.Fatalf("a Create of %s", id)
		}
		dups += n - 1
	}
	t.Logf("%d listings published before the kill and %d after; %d Creates redelivered (at-least-once allows these)",
		rep.Unchanged, rep.Created, dups)
	p.kill9(t)
}
