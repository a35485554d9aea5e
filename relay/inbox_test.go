package relay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

// Every bad input gets its status, a one-line reason and a metric, and
// nothing is relayed.
func TestInboxRefusesBadInput(t *testing.T) {
	r := startRelay(t, nil)
	pub, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, pub)
	subscribe(t, r, sub)
	stranger := newInstance(t, relaytest.Mastodon)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	note := func() []byte { return pub.Note("", "x", nil) }
	// A body that names its id and actor twice: the first pub's, the last
	// sub's. Every reader must see one parse; such a body is refused.
	create := func(tail string) []byte {
		return []byte(`{"id":"` + pub.NewID("activities") + `","type":"Create","actor":"` + pub.ActorID +
			`","to":["` + relaytest.Public + `"],"object":{"id":"` + pub.NewID("notes") + `","type":"Note","attributedTo":"` +
			pub.ActorID + `","content":"x"` + tail)
	}
	nested := strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70)

	tests := []struct {
		name    string
		from    *relaytest.Instance
		body    []byte
		signing relaytest.Signing
		status  int
		reason  string // in the response text
		metric  string // rejected reason label
	}{
		{"too large", pub, bytes.Repeat([]byte(" "), 1<<20+1), relaytest.Signing{}, 413, "exceeds", "too_large"},
		{"invalid JSON", pub, []byte(`{"type":`), relaytest.Signing{}, 400, "invalid JSON", "invalid"},
		{"not an activity", pub, []byte(`{"id":"` + pub.URL() + `/n/1","type":"Note","actor":"` + pub.ActorID + `"}`), relaytest.Signing{}, 400, "not an activity", "invalid"},
		{"no actor", pub, []byte(`{"id":"` + pub.URL() + `/a/1","type":"Create","object":"x"}`), relaytest.Signing{}, 400, "no actor", "invalid"},
		{"JSON array", pub, []byte(`[1,2]`), relaytest.Signing{}, 400, "invalid JSON", "invalid"},
		{"id on another host", pub, []byte(`{"id":"https://elsewhere.example/a/1","type":"Create","actor":"` + pub.ActorID + `","object":"x"}`), relaytest.Signing{}, 400, "not on the actor's host", "invalid"},
		{"unsigned", pub, note(), relaytest.Signing{Unsigned: true}, 401, "no Signature header", "signature"},
		{"body changed after signing", pub, note(), relaytest.Signing{BodyAfterSigning: note()}, 401, "Digest does not match", "signature"},
		{"stale date", pub, note(), relaytest.Signing{Date: time.Now().Add(-14 * time.Hour)}, 401, "Date outside", "signature"},
		{"future date", pub, note(), relaytest.Signing{Date: time.Now().Add(2 * time.Hour)}, 401, "Date outside", "signature"},
		{"digest not signed", pub, note(), relaytest.Signing{Headers: []string{"(request-target)", "host", "date"}}, 401, "required header not signed", "signature"},
		{"signed for another relay", pub, note(), relaytest.Signing{Host: "other-relay.example"}, 401, "not for this relay", "signature"},
		{"wrong key", pub, note(), relaytest.Signing{Key: otherKey}, 401, "does not verify", "signature"},
		{"unknown key id", pub, note(), relaytest.Signing{KeyID: pub.ActorID + "#other-key"}, 401, "no matching public key", "signature"},
		{"key on another host", pub, note(), relaytest.Signing{KeyID: stranger.KeyID, Key: stranger.Key}, 401, "not on the actor's host", "signature"},
		{"not a subscriber", stranger, stranger.Note("", "spam", nil), relaytest.Signing{}, 403, "not an accepted subscriber", "not_subscriber"},
		{"duplicate id and actor", pub, create(`},"id":"` + sub.NewID("activities") + `","actor":"` + sub.ActorID + `"}`), relaytest.Signing{}, 400, "duplicate key", "ambiguous_json"},
		{"duplicate key inside the object", pub, create(`,"attributedTo":"` + sub.ActorID + `"}}`), relaytest.Signing{}, 400, "duplicate key", "ambiguous_json"},
		{"keys differing in case", pub, create(`},"ACTOR":"` + sub.ActorID + `"}`), relaytest.Signing{}, 400, "duplicate key", "ambiguous_json"},
		{"escaped duplicate", pub, create(`},"\u0069d":"` + sub.NewID("activities") + `"}`), relaytest.Signing{}, 400, "duplicate key", "ambiguous_json"},
		{"nested too deeply", pub, create(`,"tag":` + nested + `}}`), relaytest.Signing{}, 400, "nested too deeply", "ambiguous_json"},
		{"object attributed to another subscriber", pub, pub.Note("", "as if from sub", map[string]any{"object": map[string]any{
			"id": pub.NewID("notes"), "type": "Note", "attributedTo": sub.ActorID, "content": "x", "to": []string{relaytest.Public}}}),
			relaytest.Signing{}, 403, "not to the actor", "attribution"},
		{"object of another host", pub, pub.Note("", "sub's note", map[string]any{"object": map[string]any{
			"id": sub.NewID("notes"), "type": "Note", "attributedTo": pub.ActorID, "content": "x", "to": []string{relaytest.Public}}}),
			relaytest.Signing{}, 403, "not on the actor's host", "attribution"},
		{"follow of something else", pub, pub.Activity("Follow", pub.ActorID, "https://elsewhere.example/users/bob", nil), relaytest.Signing{}, 422, "Follow must be of", "follow_object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metric(t, r, `runrig_inbox_rejected_total{reason="`+tt.metric+`"}`)
			status, text, err := tt.from.PostWith(context.Background(), r.Inbox(), tt.body, tt.signing)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || !strings.Contains(text, tt.reason) || strings.Contains(text, "\n") {
				t.Fatalf("got %d %q, want %d containing %q on one line", status, text, tt.status, tt.reason)
			}
			after := metric(t, r, `runrig_inbox_rejected_total{reason="`+tt.metric+`"}`)
			if after == before {
				t.Errorf("metric reason=%s did not move (%q)", tt.metric, after)
			}
		})
	}
	// Nothing above was relayed; a good post still is.
	good := pub.Note("", "good", nil)
	publish(t, r, pub, good, http.StatusAccepted)
	waitFor(t, "good post", func() bool { return len(sub.ReceivedOf("Announce")) >= 1 })
	if n := len(sub.ReceivedOf("Announce")); n != 1 {
		t.Fatalf("subscriber received %d announces, want only the good one", n)
	}
	if v := metric(t, r, `runrig_signature_failures_total{reason="digest_mismatch"}`); v != "1" {
		t.Errorf("signature failure metric digest_mismatch = %q", v)
	}
}

// A key that changed is refetched once and the request accepted.
func TestKeyRotation(t *testing.T) {
	r := startRelay(t, nil)
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, b)
	publish(t, r, a, a.Note("", "old key", nil), http.StatusAccepted)
	if err := a.RotateKey(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // past the test relay's 1ms refetch interval
	publish(t, r, a, a.Note("", "new key", nil), http.StatusAccepted)
	waitFor(t, "both posts", func() bool { return len(b.ReceivedOf("Announce")) == 2 })
	// The first key was pinned; the rotation is recorded and surfaced.
	keys, err := r.Admin.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var rotated *admin.PinnedKey
	for i := range keys {
		if keys[i].KeyID == a.KeyID {
			rotated = &keys[i]
		}
	}
	if rotated == nil || rotated.Rotations != 1 || rotated.PreviousFingerprint == "" ||
		rotated.PreviousFingerprint == rotated.Fingerprint || rotated.Peer != a.Host() {
		t.Fatalf("pinned keys = %+v", keys)
	}
	entries, _ := r.Admin.Audit(context.Background(), 0, 0)
	if len(entries) != 1 || entries[0].What != "key.rotated" || entries[0].Subject != a.KeyID {
		t.Errorf("audit = %+v", entries)
	}
}

// Keys are pinned only for accepted activities: a stranger signing with
// key ids it mints (one per made-up user) pins nothing, however many it
// sends; a subscriber's user key is pinned when its post is accepted.
func TestStrangersPinNoKeys(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	stranger, member := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, member)
	for i := range 5 {
		keyID := fmt.Sprintf("%s/users/minted%d#main-key", stranger.Server.URL, i)
		if status, text, _ := stranger.PostWith(ctx, r.Inbox(), stranger.Note("", "hello", nil), relaytest.Signing{KeyID: keyID}); status != http.StatusForbidden {
			t.Fatalf("a stranger's post: %d %s", status, text)
		}
	}
	// An activity the relay ignores is answered 202 all the same; it
	// pins nothing either.
	like := []byte(fmt.Sprintf(`{"@context":"https://www.w3.org/ns/activitystreams","id":"%s/likes/1","type":"Like",`+
		`"actor":"%s","object":"%s/notes/1"}`, stranger.Server.URL, stranger.ActorID, stranger.Server.URL))
	if status, text, _ := stranger.PostWith(ctx, r.Inbox(), like, relaytest.Signing{KeyID: stranger.Server.URL + "/users/liker#main-key"}); status != http.StatusAccepted {
		t.Fatalf("a stranger's Like: %d %s", status, text)
	}
	userKey := member.Server.URL + "/users/alice#main-key"
	publish := func() int {
		status, _, _ := member.PostWith(ctx, r.Inbox(), member.Note("", "potatoes", nil), relaytest.Signing{KeyID: userKey})
		return status
	}
	if status := publish(); status != http.StatusAccepted {
		t.Fatalf("a subscriber's post signed by a user's key: %d", status)
	}
	keys, err := r.Admin.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string]bool{}
	for _, k := range keys {
		pinned[k.KeyID] = true
		if k.Peer == stranger.Host() {
			t.Errorf("a stranger's refused request pinned %s", k.KeyID)
		}
	}
	if !pinned[userKey] {
		t.Errorf("the subscriber's accepted post did not pin its key; pinned %v", pinned)
	}
}

// By default the relay refuses to fetch keys from private addresses, so a
// loopback peer cannot even be verified.
func TestPrivateAddressGuard(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { c.AllowPrivateNetworks = false })
	a := newInstance(t, relaytest.Mastodon)
	_, status, err := a.Follow(context.Background(), r.Actor(), r.Inbox())
	if err != nil || status != http.StatusUnauthorized {
		t.Fatalf("Follow from loopback with the guard on: %d %v", status, err)
	}
	if v := metric(t, r, `runrig_signature_failures_total{reason="key_fetch"}`); v != "1" {
		t.Errorf("key_fetch failures = %q", v)
	}
	if subs, _ := r.Admin.Subscribers(context.Background()); len(subs) != 0 {
		t.Errorf("subscribed despite the guard: %+v", subs)
	}
}

// The admin API refuses requests without the operator's token.
func TestAdminRequiresToken(t *testing.T) {
	r := startRelay(t, nil)
	rec := &statusRecorder{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/subscribers", nil)
	r.AdminHandler().ServeHTTP(rec, req)
	if rec.status != http.StatusUnauthorized {
		t.Fatalf("admin without token: %d", rec.status)
	}
	req.Header.Set("Authorization", "Bearer wrong")
	rec = &statusRecorder{header: http.Header{}}
	r.AdminHandler().ServeHTTP(rec, req)
	if rec.status != http.StatusUnauthorized {
		t.Fatalf("admin with wrong token: %d", rec.status)
	}
	for _, f := range []string{"admin.sock", "admin.token"} {
		fi, err := os.Stat(filepath.Join(r.DataDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	// The public listener does not serve the admin API at all.
	resp, err := http.Get(r.URL + "/subscribers")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("admin API on the public listener: %d", resp.StatusCode)
	}
}

type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int)        { s.status = code }

// A Delete by an account that is gone cannot be verified; it is answered
// 202 (so the sender stops retrying) and not relayed.
func TestDeleteByGoneActorIsDropped(t *testing.T) {
	r := startRelay(t, nil)
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, b)
	bob := a.URL() + "/gone/bob"
	del := a.Activity("Delete", bob, bob, nil)
	status, text, err := a.PostWith(context.Background(), r.Inbox(), del, relaytest.Signing{KeyID: bob + "#main-key"})
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("Delete by gone actor: %d %q %v", status, text, err)
	}
	if v := metric(t, r, `runrig_inbox_activities_total{result="unverifiable",type="Delete"}`); v != "1" {
		t.Errorf("unverifiable metric = %q", v)
	}
	// Any other activity from an unfetchable key is still refused.
	create := a.Note(bob, "from a gone account", nil)
	if status, _, _ := a.PostWith(context.Background(), r.Inbox(), create, relaytest.Signing{KeyID: bob + "#main-key"}); status != http.StatusUnauthorized {
		t.Errorf("Create by gone actor: %d", status)
	}
	publish(t, r, a, a.Note("", "marker", nil), http.StatusAccepted)
	waitFor(t, "marker", func() bool { return len(b.ReceivedOf("Announce")) == 1 })
	if n := len(b.ReceivedOf("Delete")); n != 0 {
		t.Errorf("unverified Delete relayed %d times", n)
	}
}

// When maxInboxInFlight requests are already being handled (here: stuck on
// a key fetch from a server that does not answer), further ones get 503
// with Retry-After instead of piling up.
func TestInboxBusy(t *testing.T) {
	r := startRelay(t, nil)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
		http.NotFound(w, req)
	}))
	defer hang.Close()
	defer free()
	signer := newInstance(t, relaytest.Mastodon)
	actor := hang.URL + "/actor"
	body := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"id":"%s/a/%d","type":"Create","actor":"%s","to":["%s"],"object":"%s/n/%d"}`,
			hang.URL, i, actor, relaytest.Public, hang.URL, i))
	}
	const stuck = 300 // more than the inbox takes at once (256)
	var refused atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < stuck; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, err := signer.PostWith(context.Background(), r.Inbox(), body(i), relaytest.Signing{KeyID: actor + "#main-key"})
			if err == nil && status == http.StatusServiceUnavailable {
				refused.Add(1)
			}
		}()
	}
	waitFor(t, "requests beyond the bound refused", func() bool { return refused.Load() == stuck-256 })
	req, _ := signer.SignedRequest(context.Background(), r.Inbox(), body(-2), relaytest.Signing{KeyID: actor + "#main-key"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("full inbox: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if v := metric(t, r, `runrig_inbox_rejected_total{reason="busy"}`); v != fmt.Sprint(stuck-256+1) {
		t.Errorf("busy metric = %q", v)
	}
	free()
	wg.Wait()
	waitFor(t, "inbox free again", func() bool {
		status, _, _ := signer.PostWith(context.Background(), r.Inbox(), body(-3), relaytest.Signing{KeyID: actor + "#main-key"})
		return status == http.StatusUnauthorized // key not found: handled again
	})
}

// Clients that send their bodies a byte at a time hold no inbox slot: with
// more of them than the inbox has slots, a subscriber's signed Create still
// gets through; and an address with too many unfinished bodies is turned
// away at once.
func TestSlowBodiesDoNotStarveSubscribers(t *testing.T) {
	r := startRelay(t, nil)
	pub, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, pub)
	subscribe(t, r, sub)
	host := strings.TrimPrefix(r.URL, "http://")
	drip := func(from string) {
		dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		conn, err := dialer.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "POST /inbox HTTP/1.1\r\nHost: %s\r\nContent-Type: application/activity+json\r\nContent-Length: 1000\r\n\r\n{", host)
	}
	const addrs, perAddr = 5, 64 // 320 slow bodies, more than the inbox's 256 slots
	for a := range addrs {
		for range perAddr {
			drip(fmt.Sprintf("127.0.0.%d", a+2))
		}
	}
	waitFor(t, "every slow body being read", func() bool {
		return metric(t, r, "runrig_inbox_bodies_reading") == fmt.Sprint(addrs*perAddr)
	})
	note := pub.Note("", "through the flood", nil)
	publish(t, r, pub, note, http.StatusAccepted)
	waitFor(t, "delivery", func() bool { return len(sub.ReceivedOf("Announce")) == 1 })
	drip("127.0.0.2") // one more from an address at its bound
	waitFor(t, "the address at its bound turned away", func() bool {
		return metric(t, r, `runrig_inbox_rejected_total{reason="slow_client"}`) == "1"
	})
}
