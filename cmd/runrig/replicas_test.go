package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
)

// balancer is a small loopback load balancer: round robin over the
// replicas it has not been told are down, the Host header kept (peers sign
// it).
type balancer struct {
	next atomic.Uint64
	// mu guards the following fields.
	mu       sync.Mutex
	backends []*httputil.ReverseProxy
	down     map[int]bool
}

func (b *balancer) add(rawURL string) {
	u, _ := url.Parse(rawURL)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, httputil.NewSingleHostReverseProxy(u))
}

func (b *balancer) setDown(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down[i] = true
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	var live []*httputil.ReverseProxy
	for i, p := range b.backends {
		if !b.down[i] {
			live = append(live, p)
		}
	}
	b.mu.Unlock()
	live[b.next.Add(1)%uint64(len(live))].ServeHTTP(w, r)
}

// replicaSet is several `runrig serve` processes on one PostgreSQL
// database behind one balancer: one relay.
type replicaSet struct {
	url   string // the balancer's: the relay's public URL
	db    string
	lb    *balancer
	procs []*proc
	dirs  []string
}

func startReplicas(t *testing.T, srv *pgtest.Srv, n int) *replicaSet {
	t.Helper()
	db := srv.Database(t, "replicas")
	lb := &balancer{down: map[int]bool{}}
	front := httptest.NewServer(lb)
	t.Cleanup(front.Close)
	rs := &replicaSet{url: front.URL, db: db, lb: lb}
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		addr := freeAddr(t)
		p := startServe(t, dir, "http://"+addr, testEnv, "--listen", addr, "--public-url", front.URL,
			"--data", filepath.Join(dir, "data"), "--database", db)
		rs.procs = append(rs.procs, p)
		rs.dirs = append(rs.dirs, filepath.Join(dir, "data"))
		lb.add("http://" + addr)
	}
	return rs
}

// status is `admin replicas` asked of replica i.
func (rs *replicaSet) status(t *testing.T, i int) admin.Replicas {
	t.Helper()
	var out admin.Replicas
	if err := json.Unmarshal([]byte(runCLI(t, "admin", "--data", rs.dirs[i], "replicas", "--json")), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// publish posts n notes through the balancer and returns their ids.
func publish(t *testing.T, pub *relaytest.Instance, to string, n int, text string) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		note := pub.Note("", fmt.Sprintf("%s %d", text, i), nil)
		var doc struct{ Object struct{ ID string } }
		json.Unmarshal(note, &doc)
		ids = append(ids, doc.Object.ID)
		if status, body, err := pub.Post(context.Background(), to+"/inbox", note); err != nil || status != 202 {
			t.Fatalf("publish: %d %s %v", status, body, err)
		}
	}
	return ids
}

// Three replicas on one database are one relay: every subscriber gets
// every activity whichever replica took it; a block made on one replica
// stops deliveries from all; a replica killed with -9 in the middle of a
// fan-out loses nothing, and redelivers only what it had leased and not
// recorded; a dead replica's singletons move to the living.
func TestReplicasShareTheWork(t *testing.T) {
	rs := startReplicas(t, pgtest.Server(t), 3)
	ids := make([]string, len(rs.procs)) // replica id by process
	for i := range rs.procs {
		ids[i] = rs.status(t, i).This
	}
	pub := newInstance(t)
	subs := make([]*relaytest.Instance, 6)
	for i := range subs {
		subs[i] = newInstance(t)
	}
	follow(t, pub, rs.url)
	for _, in := range subs {
		follow(t, in, rs.url)
	}
	if st := rs.status(t, 2); len(st.Replicas) != 3 {
		t.Fatalf("admin replicas lists %d replicas: %+v", len(st.Replicas), st)
	}
	all := publish(t, pub, rs.url, 12, "offer")
	waitAll(t, subs, all, "every subscriber gets every activity")

	// A block made on replica 1 holds on the others too.
	blocked, subs := subs[5], subs[:5]
	runCLI(t, "admin", "--data", rs.dirs[1], "block", blocked.Host(), "--reason", "test")
	time.Sleep(time.Second) // the bound: every replica applies a block within a second
	after := publish(t, pub, rs.url, 6, "after the block")
	all = append(all, after...)
	waitAll(t, subs, all, "deliveries after the block")
	got := announcedObjects(blocked)
	for _, id := range after {
		if got[id] > 0 {
			t.Errorf("the blocked subscriber got %s, published after the block", id)
		}
	}

	// Kill the replica holding most deliveries in the middle of a slow
	// fan-out.
	for _, in := range subs {
		in.InboxDelay.Store(int64(100 * time.Millisecond))
	}
	all = append(all, publish(t, pub, rs.url, 24, "surplus")...)
	var victim string
	waitFor(t, "a replica holding deliveries", 30*time.Second, func() bool {
		victim = busiest(t, rs.db)
		return victim != ""
	})
	v := slices.Index(ids, victim)
	rs.lb.setDown(v)
	rs.procs[v].kill9(t)
	leased := leasedBy(t, rs.db, victim)
	for _, in := range subs {
		in.InboxDelay.Store(0)
	}
	waitAll(t, subs, all, "every activity at every subscriber after the kill")
	dups := 0
	for _, in := range subs {
		got := announcedObjects(in)
		for _, id := range all {
			dups += max(got[id]-1, 0)
		}
	}
	t.Logf("the killed replica held %d leased deliveries; %d were delivered twice", leased, dups)
	if dups > leased {
		t.Errorf("%d duplicates, but the killed replica held only %d unrecorded deliveries", dups, leased)
	}

	// Kill whichever live replica runs the singletons; they move to the
	// last one.
	rs.killSingletonHolder(t, ids)
	more := publish(t, pub, rs.url, 4, "after the kills")
	waitAll(t, subs, append(all, more...), "deliveries by the last replica")
}

// killSingletonHolder kills (-9) the live replica running the singletons
// and waits until they run on the one left.
func (rs *replicaSet) killSingletonHolder(t *testing.T, ids []string) {
	t.Helper()
	live := slices.IndexFunc(rs.procs, func(p *proc) bool { return p.cmd.ProcessState == nil })
	st := rs.status(t, live)
	owner := ""
	for _, l := range st.Singletons {
		owner = l.Owner
	}
	if i := slices.Index(ids, owner); i >= 0 && rs.procs[i].cmd.ProcessState == nil {
		rs.lb.setDown(i)
		rs.procs[i].kill9(t)
		t.Logf("killed replica %s, which ran the singletons", owner)
	}
	last := slices.IndexFunc(rs.procs, func(p *proc) bool { return p.cmd.ProcessState == nil })
	waitFor(t, "the singletons to move to the living replica", 60*time.Second, func() bool {
		s := rs.status(t, last)
		if len(s.Replicas) != 1 || len(s.Singletons) < 4 {
			return false
		}
		for _, l := range s.Singletons {
			if l.Owner != s.This {
				return false
			}
		}
		return true
	})
}

// waitAll waits until every subscriber has every activity of ids.
func waitAll(t *testing.T, subs []*relaytest.Instance, ids []string, what string) {
	t.Helper()
	for _, in := range subs {
		waitFor(t, what, 60*time.Second, func() bool {
			got := announcedObjects(in)
			for _, id := range ids {
				if got[id] == 0 {
					return false
				}
			}
			return true
		})
	}
}

// busiest returns the replica holding the most leased deliveries, or "".
func busiest(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var owner string
	err = db.QueryRow(`SELECT lease_owner FROM deliveries WHERE lease_owner != '' GROUP BY lease_owner
		ORDER BY COUNT(*) DESC LIMIT 1`).Scan(&owner)
	if err == sql.ErrNoRows {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return owner
}

// leasedBy counts the deliveries a replica holds leased.
func leasedBy(t *testing.T, dsn, owner string) int {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE lease_owner = $1`, owner).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// migrate-store moves a SQLite relay into PostgreSQL: started on the
// database, it is the same relay (actor key, subscribers, rules, audit).
func TestMigrateStoreCarriesTheRelay(t *testing.T) {
	db := pgtest.Server(t).Database(t, "migrate")
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	args := []string{"--listen", addr, "--public-url", url, "--data", data}
	p := startServe(t, dir, url, testEnv, args...)
	sub := newInstance(t)
	follow(t, sub, url)
	runCLI(t, "admin", "--data", data, "block", "spam.example", "--reason", "spam")
	key := actorKey(t, url)
	before := runCLI(t, "admin", "--data", data, "subscribers")
	if out, err := runCLIErr("migrate-store", "--to", db, "--data", data); err == nil {
		t.Fatalf("migrate-store ran while the relay was running:\n%s", out)
	} else if !strings.Contains(out, "stop it first") {
		t.Fatalf("migrate-store on a running relay said:\n%s", out)
	}
	p.stop()
	out := onTerminal(t, "migrate-store", "--to", db, "--data", data) // on a terminal it shows its progress
	if !strings.Contains(out, "every table's count checked") || !strings.Contains(out, "\r\x1b[Kmoving the store: copying ") {
		t.Fatalf("migrate-store said:\n%q", out)
	}
	if out, err := runCLIErr("migrate-store", "--to", db, "--data", data); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("a second migration into the same database: %v\n%s", err, out)
	}
	data2 := filepath.Join(dir, "data2")
	startServe(t, dir, url, testEnv, "--listen", addr, "--public-url", url, "--data", data2, "--database", db)
	if actorKey(t, url) != key {
		t.Fatal("the relay on PostgreSQL has another actor key")
	}
	if after := runCLI(t, "admin", "--data", data2, "subscribers"); !strings.Contains(after, sub.Host()) {
		t.Fatalf("subscribers after the move:\n%s\nbefore:\n%s", after, before)
	}
	if rules := runCLI(t, "admin", "--data", data2, "rules"); !strings.Contains(rules, "spam.example") {
		t.Fatalf("rules after the move:\n%s", rules)
	}
	if audit := runCLI(t, "admin", "--data", data2, "audit"); !strings.Contains(audit, "spam.example") {
		t.Fatalf("audit after the move:\n%s", audit)
	}
}

// runCLIErr runs runrig and returns its output and error.
func runCLIErr(args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A replica stopped gracefully (SIGTERM) in the middle of a slow fan-out
// records what it delivered before it leaves: the others finish the rest
// and no subscriber gets anything twice.
func TestReplicaStoppedGracefullyHandsOver(t *testing.T) {
	rs := startReplicas(t, pgtest.Server(t), 2)
	ids := []string{rs.status(t, 0).This, rs.status(t, 1).This}
	pub := newInstance(t)
	subs := []*relaytest.Instance{newInstance(t), newInstance(t), newInstance(t), newInstance(t)}
	follow(t, pub, rs.url)
	for _, in := range subs {
		follow(t, in, rs.url)
		in.InboxDelay.Store(int64(50 * time.Millisecond))
	}
	all := publish(t, pub, rs.url, 20, "offer")
	var victim string
	waitFor(t, "a replica holding deliveries", 30*time.Second, func() bool {
		victim = busiest(t, rs.db)
		return victim != ""
	})
	v := slices.Index(ids, victim)
	rs.lb.setDown(v)
	rs.procs[v].cmd.Process.Signal(syscall.SIGTERM)
	if err := <-rs.procs[v].done; err != nil {
		t.Fatalf("the stopped replica exited with %v", err)
	}
	if n := leasedBy(t, rs.db, victim); n != 0 {
		t.Errorf("a replica that stopped gracefully still holds %d leases", n)
	}
	for _, in := range subs {
		in.InboxDelay.Store(0)
	}
	waitAll(t, subs, all, "every activity after a graceful stop")
	for _, in := range subs {
		for id, k := range announcedObjects(in) {
			if k != 1 {
				t.Errorf("%s got %s %d times", in.Host(), id, k)
			}
		}
	}
}
