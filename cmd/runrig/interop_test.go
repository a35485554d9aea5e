package main

// Interop tests: two real GoToSocial instances (the binary in
// ../shared/interop, driven by its gts script) subscribe to the real relay
// binary and exchange posts through it. Run only these with `make interop`.
// Where that directory is absent they skip, saying so; where it is present
// they run, and fail when they cannot (they need root, since each instance
// listens on port 80 of its own loopback address, and curl), unless
// RUNRIG_INTEROP=off.

import (
	"bytes"
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
	"testing"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

// interopEnv names the directory holding the real servers; the default is
// the shared/ folder beside the repository.
const interopEnv = "RUNRIG_INTEROP"

// The two GoToSocial instances: A pushes its posts to the relay, B
// subscribes to it. Addresses kept apart from the gts script's examples so
// a developer's own instances do not collide with the tests'.
const (
	gtsA = "127.0.20.2"
	gtsB = "127.0.20.3"
)

// gtsWait bounds each wait for something to travel between the instances
// and the relay (GoToSocial delivers from background workers).
const gtsWait = 45 * time.Second

// emptyULID makes GoToSocial read its public timeline from the database:
// v0.22.0-rc2 keeps a page it served in memory and does not add statuses
// that arrive through a relay to it.
const emptyULID = "00000000000000000000000000"

// gtsRig is the shared fixture: started by the first test that needs it,
// stopped by TestMain.
type gtsRig struct {
	script string // the gts script
	dir    string // its instances, binary and web files
	relay  *proc
	admin  string // the relay's data dir, for runrig admin
	token  map[string]string

	subscribeOnce sync.Once
	subscribeErr  error
}

var (
	rigOnce sync.Once
	rig     *gtsRig
	rigErr  error
	rigSkip string
)

// interopDir finds the real servers' gts script. skip says why the tests
// skip (the servers are not here, or RUNRIG_INTEROP=off); err why they
// cannot run although the servers are here.
func interopDir() (script, skip string, err error) {
	dir := os.Getenv(interopEnv)
	if dir == "off" {
		return "", "interop: off (" + interopEnv + "=off)", nil
	}
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "interop")
	}
	script = filepath.Join(dir, "gotosocial", "gts")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Sprintf("interop: no real GoToSocial at %s; put shared/interop beside the repository "+
			"(or set %s=DIR) and run `make interop`", script, interopEnv), nil
	}
	if os.Geteuid() != 0 {
		return "", "", errors.New("GoToSocial instances listen on port 80 of 127.0.20.x, which needs root: " +
			"run `make interop` as root, or set " + interopEnv + "=off to skip them")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		return "", "", errors.New("the gts script needs curl: apt-get install curl")
	}
	script, err = filepath.Abs(script)
	return script, "", err
}

// gotosocial starts the fixture once and returns it, skipping the test
// when the real servers are not here.
func gotosocial(t *testing.T) *gtsRig {
	t.Helper()
	rigOnce.Do(func() {
		script, skip, err := interopDir()
		switch {
		case skip != "":
			rigSkip = skip
		case err != nil:
			rigErr = err
		default:
			rig, rigErr = startGTSRig(script)
		}
	})
	if rigSkip != "" {
		t.Skip(rigSkip)
	}
	if rigErr != nil {
		t.Fatalf("starting GoToSocial and the relay: %v", rigErr)
	}
	return rig
}

func startGTSRig(script string) (*gtsRig, error) {
	dir, err := os.MkdirTemp("", "runrig-interop")
	if err != nil {
		return nil, err
	}
	r := &gtsRig{script: script, dir: dir, token: map[string]string{}}
	if err := r.gts("install", dir); err != nil {
		return r, err
	}
	for _, ip := range []string{gtsA, gtsB} {
		if ln, err := net.Listen("tcp", ip+":80"); err != nil {
			return r, fmt.Errorf("port 80 on %s is taken (%v): stop whatever listens there", ip, err)
		} else {
			ln.Close()
		}
		if err := r.gts("mk", dir, ip, ip); err != nil {
			return r, err
		}
	}
	// Both instances start (migrations) and get an admin token side by
	// side: about 30 s instead of 60.
	var wg sync.WaitGroup
	errs, tokens := make([]error, 2), make([]string, 2)
	for i, ip := range []string{gtsA, gtsB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = r.gts("start", dir, ip); errs[i] != nil {
				return
			}
			out, err := exec.Command(script, "admin", dir, ip).Output()
			if err != nil {
				errs[i] = fmt.Errorf("gts admin %s: %w", ip, err)
				return
			}
			tokens[i] = strings.TrimSpace(string(out))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	r.token[gtsA], r.token[gtsB] = tokens[0], tokens[1]
	addr, err := freeLoopback()
	if err != nil {
		return r, err
	}
	r.admin = filepath.Join(dir, "relay", "data")
	if err := os.MkdirAll(r.admin, 0o700); err != nil {
		return r, err
	}
	url := "http://" + addr
	r.relay, err = launch(filepath.Dir(r.admin), url, append(testEnv, "RUNRIG_PUBLIC_URL="+url, "RUNRIG_LISTEN="+addr,
		"RUNRIG_DATA="+r.admin), "--approval", "manual", "--name", "Interop relay")
	return r, err
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// stopGTSRig stops the instances and the relay; TestMain calls it.
func stopGTSRig() {
	if rig == nil {
		return
	}
	for _, ip := range []string{gtsA, gtsB} {
		rig.gts("stop", rig.dir, ip)
	}
	if rig.relay != nil {
		rig.relay.stop()
	}
	os.RemoveAll(rig.dir)
}

func (r *gtsRig) gts(args ...string) error {
	out, err := exec.Command(r.script, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("gts %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// api calls an instance's client API with its admin token and decodes the
// JSON answer into v (when not nil).
func (r *gtsRig) api(ip, method, path string, body any, v any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+ip+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token[ip])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s on %s: %d %s", method, path, ip, resp.StatusCode, text)
	}
	if v != nil {
		return json.Unmarshal(text, v)
	}
	return nil
}

// gtsRelay is one entry of GoToSocial's relay subscriptions or pushes.
type gtsRelay struct {
	ID         string `json:"id"`
	RelayActor string `json:"relay_actor_uri"`
	Approved   bool   `json:"approved"`
}

// relayAPI is where an instance keeps its relay entries: B subscribes
// (admin), A pushes.
func relayAPI(ip string) string {
	if ip == gtsB {
		return "/api/v1/admin/relay_subscriptions"
	}
	return "/api/v1/relay_pushes"
}

func (r *gtsRig) relayEntry(ip string) (gtsRelay, error) {
	var list []gtsRelay
	if err := r.api(ip, http.MethodGet, relayAPI(ip), nil, &list); err != nil {
		return gtsRelay{}, err
	}
	for _, e := range list {
		if e.RelayActor == r.relay.url+"/actor" {
			return e, nil
		}
	}
	return gtsRelay{}, fmt.Errorf("%s lists no relay entry for %s", ip, r.relay.url)
}

func (r *gtsRig) addRelay(ip string) error {
	body := map[string]any{"relay_actor_uri": r.relay.url + "/actor", "public": true, "unlisted": true, "match_by_default": true}
	return r.api(ip, http.MethodPost, relayAPI(ip), body, nil)
}

// subscribers reads `runrig admin subscribers --json`.
func (r *gtsRig) subscribers() (map[string]admin.Subscriber, error) {
	out, err := exec.Command(binary, "admin", "--data", r.admin, "subscribers", "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("runrig admin subscribers: %w", err)
	}
	var subs []admin.Subscriber
	if err := json.Unmarshal(out, &subs); err != nil {
		return nil, err
	}
	m := map[string]admin.Subscriber{}
	for _, s := range subs {
		m[s.Peer] = s
	}
	return m, nil
}

func (r *gtsRig) runrigAdmin(args ...string) error {
	out, err := exec.Command(binary, append([]string{"admin", "--data", r.admin}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("runrig admin %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// eventually polls cond until it holds or gtsWait passes; the error says
// what was awaited and what was last seen.
func eventually(what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(gtsWait)
	for {
		ok, seen := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v still waiting for %s; last seen: %s", gtsWait, what, seen)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// subscribed runs the subscription with approval once: B subscribes, A
// pushes, both wait for `runrig admin approve`, then both are approved.
// Every test that needs the instances subscribed calls it.
func (r *gtsRig) subscribed(t *testing.T) {
	t.Helper()
	r.subscribeOnce.Do(func() { r.subscribeErr = r.subscribe() })
	if r.subscribeErr != nil {
		t.Fatalf("subscribing with approval: %v\nrelay log:\n%s", r.subscribeErr, r.relay.logs.String())
	}
}

func (r *gtsRig) subscribe() error {
	for _, ip := range []string{gtsB, gtsA} {
		if err := r.addRelay(ip); err != nil {
			return err
		}
	}
	err := eventually("both instances pending in `runrig admin subscribers`", func() (bool, string) {
		subs, err := r.subscribers()
		if err != nil {
			return false, err.Error()
		}
		return subs[gtsA].State == "pending" && subs[gtsB].State == "pending", fmt.Sprint(subs)
	})
	if err != nil {
		return err
	}
	for _, ip := range []string{gtsA, gtsB} {
		if e, err := r.relayEntry(ip); err != nil || e.Approved {
			return fmt.Errorf("%s before approval: %+v %v (want approved false)", ip, e, err)
		}
	}
	for _, ip := range []string{gtsA, gtsB} {
		if err := r.runrigAdmin("approve", ip); err != nil {
			return err
		}
	}
	return eventually("GoToSocial to report both relay entries approved", func() (bool, string) {
		a, errA := r.relayEntry(gtsA)
		b, errB := r.relayEntry(gtsB)
		return errA == nil && errB == nil && a.Approved && b.Approved, fmt.Sprintf("A %+v %v, B %+v %v", a, errA, b, errB)
	})
}

// gtsStatus is a status as the client API shows it.
type gtsStatus struct {
	ID       string `json:"id"`
	URI      string `json:"uri"`
	Content  string `json:"content"`
	EditedAt string `json:"edited_at"`
}

func (r *gtsRig) post(ip, text string) (gtsStatus, error) {
	var st gtsStatus
	err := r.api(ip, http.MethodPost, "/api/v1/statuses", map[string]any{"status": text, "visibility": "public"}, &st)
	return st, err
}

// publicTimeline reads B's public timeline from its database.
func (r *gtsRig) publicTimeline(ip string) ([]gtsStatus, error) {
	var list []gtsStatus
	err := r.api(ip, http.MethodGet, "/api/v1/timelines/public?limit=40&min_id="+emptyULID, nil, &list)
	return list, err
}

// waitInTimeline waits until ip's public timeline shows the status with
// uri and content containing text.
func (r *gtsRig) waitInTimeline(ip, uri, text string) error {
	return eventually(fmt.Sprintf("%s in %s's public timeline with %q", uri, ip, text), func() (bool, string) {
		list, err := r.publicTimeline(ip)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range list {
			if s.URI == uri && strings.Contains(s.Content, text) {
				return true, ""
			}
		}
		return false, fmt.Sprint(list)
	})
}

// mustReachB fails the test, with the relay's log, unless B's public
// timeline comes to show the status uri with text.
func (r *gtsRig) mustReachB(t *testing.T, what, uri, text string) {
	t.Helper()
	if err := r.waitInTimeline(gtsB, uri, text); err != nil {
		t.Fatalf("%s: %v\nrelay log:\n%s", what, err, r.relay.logs.String())
	}
}

// A subscription from a real GoToSocial (B, relay_subscriptions) and a push
// (A, relay_pushes) wait for the operator with --approval manual, on both
// sides, until `runrig admin approve`.
func TestInteropGoToSocialSubscribeWithApproval(t *testing.T) {
	r := gotosocial(t)
	r.subscribed(t)
	subs, err := r.subscribers()
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{gtsA, gtsB} {
		s := subs[ip]
		if s.State != "accepted" || s.Style != "litepub" || s.Actor != "http://"+ip+"/users/"+ip {
			t.Errorf("relay's record of %s = %+v, want accepted litepub subscription of its instance actor", ip, s)
		}
		if s.Inbox != "http://"+ip+"/users/"+ip+"/inbox" {
			t.Errorf("%s delivers to %q, want the instance actor's inbox from its actor document", ip, s.Inbox)
		}
	}
}

// A public post on A reaches B's public timeline, and so does its edit.
func TestInteropGoToSocialPostAndEditReachB(t *testing.T) {
	r := gotosocial(t)
	r.subscribed(t)
	st, err := r.post(gtsA, "Surplus apples at the Tuesday market, through the relay")
	if err != nil {
		t.Fatal(err)
	}
	r.mustReachB(t, "post", st.URI, "Surplus apples")
	err = r.api(gtsA, http.MethodPut, "/api/v1/statuses/"+st.ID, map[string]any{"status": "Surplus apples and pears, edited"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.mustReachB(t, "edit", st.URI, "apples and pears, edited")
}

// B removes its relay subscription and adds it again: it is approved again
// and receives A's next post. (GoToSocial v0.22.0-rc2 sends no Undo when a
// subscription is removed and reuses its accepted Follow when it is added
// again; the relay never sees the churn. The relay's own handling of an
// Undo followed by a new Follow is TestFollowAgainAfterUndo.)
func TestInteropGoToSocialResubscribe(t *testing.T) {
	r := gotosocial(t)
	r.subscribed(t)
	e, err := r.relayEntry(gtsB)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.api(gtsB, http.MethodDelete, relayAPI(gtsB)+"/"+e.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.addRelay(gtsB); err != nil {
		t.Fatal(err)
	}
	err = eventually("B's new subscription approved", func() (bool, string) {
		if subs, err := r.subscribers(); err == nil && subs[gtsB].State == "pending" {
			r.runrigAdmin("approve", gtsB) // if it did send a new Follow, it waits like any new subscriber
		}
		e, err := r.relayEntry(gtsB)
		return err == nil && e.Approved, fmt.Sprintf("%+v %v", e, err)
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.post(gtsA, "Wholesale oats wanted, after B subscribed again")
	if err != nil {
		t.Fatal(err)
	}
	r.mustReachB(t, "after subscribing again", st.URI, "Wholesale oats")
}

// GoToSocial resolves the relay's actor through WebFinger as a bot account
// with the relay's name and description, and lists it in its admin API.
// (GoToSocial v0.22.0-rc2 never read the relay's NodeInfo in these runs: it
// keeps no instance entry for a host with a port.)
func TestInteropGoToSocialResolvesRelayActor(t *testing.T) {
	r := gotosocial(t)
	r.subscribed(t)
	host := strings.TrimPrefix(r.relay.url, "http://")
	var acct struct {
		Username    string `json:"username"`
		Acct        string `json:"acct"`
		DisplayName string `json:"display_name"`
		Bot         bool   `json:"bot"`
		Note        string `json:"note"`
		URL         string `json:"url"`
	}
	if err := r.api(gtsB, http.MethodGet, "/api/v1/accounts/lookup?acct=relay@"+host, nil, &acct); err != nil {
		t.Fatal(err)
	}
	if acct.Username != "relay" || acct.Acct != "relay@"+host || acct.DisplayName != "Interop relay" || !acct.Bot {
		t.Errorf("GoToSocial sees the relay as %+v; want username relay, acct relay@%s, name %q, bot", acct, host, "Interop relay")
	}
	if acct.URL != r.relay.url+"/" || acct.Note == "" {
		t.Errorf("GoToSocial's relay account url %q note %q; want the front page and the description", acct.URL, acct.Note)
	}
	// Its admin API lists the relay among the remote accounts it knows.
	var remote []struct {
		Username string `json:"username"`
		Domain   string `json:"domain"`
	}
	if err := r.api(gtsB, http.MethodGet, "/api/v2/admin/accounts?origin=remote&limit=50", nil, &remote); err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, a := range remote {
		listed = listed || (a.Username == "relay" && a.Domain == host)
	}
	if !listed {
		t.Errorf("GoToSocial's admin API does not list relay@%s among its remote accounts: %+v", host, remote)
	}
}

// After `runrig admin block A --severity suspend`, A's next post reaches
// nobody and A's delivery is refused with 403 and the reason. It runs last:
// A stays suspended.
func TestInteropGoToSocialSuspendedReachesNobody(t *testing.T) {
	r := gotosocial(t)
	r.subscribed(t)
	if err := r.runrigAdmin("block", gtsA, "--severity", "suspend", "--reason", "interop: spam"); err != nil {
		t.Fatal(err)
	}
	subs, err := r.subscribers()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := subs[gtsA]; ok {
		t.Errorf("A is still subscribed after its suspension: %+v", subs[gtsA])
	}
	logPath := filepath.Join(r.dir, gtsA, "server.log")
	before, _ := os.ReadFile(logPath)
	logged := len(before)
	st, err := r.post(gtsA, "Posted while suspended")
	if err != nil {
		t.Fatal(err)
	}
	err = eventually("A's log to show the relay refusing its delivery with 403", func() (bool, string) {
		b, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(b[min(logged, len(b)):]), "\n") {
			if strings.Contains(line, " method=POST url="+r.relay.url+"/inbox ") && strings.Contains(line, `msg="403 Forbidden"`) {
				return true, ""
			}
		}
		return false, "no such line in " + logPath + " since the post"
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.relay.logs.String(), "suspend") {
		t.Errorf("the relay logged no refusal naming the suspension:\n%s", r.relay.logs.String())
	}
	list, err := r.publicTimeline(gtsB)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.URI == st.URI {
			t.Fatalf("B received %s from suspended A", st.URI)
		}
	}
}
