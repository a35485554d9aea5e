package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/relaytest"
)

var jsonUnmarshal = json.Unmarshal

func TestEndpoints(t *testing.T) {
	r := startRelay(t, nil)
	get := func(path, accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, r.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}

	for _, accept := range []string{"application/activity+json", `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`} {
		resp, b := get("/actor", accept)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, strings.Split(accept, ";")[0]) {
			t.Errorf("Accept %s: Content-Type %s", accept, ct)
		}
		var actor struct {
			ID, Type, Inbox, Outbox, Followers, Following string
			Endpoints                                     struct{ SharedInbox string }
			PublicKey                                     struct{ ID, Owner, PublicKeyPem string }
		}
		if err := json.Unmarshal(b, &actor); err != nil {
			t.Fatal(err)
		}
		if actor.ID != r.Actor() || (actor.Type != "Service" && actor.Type != "Application") ||
			actor.Inbox != r.Inbox() || actor.Endpoints.SharedInbox != r.Inbox() || actor.Outbox == "" ||
			actor.Followers == "" || actor.Following == "" || actor.PublicKey.ID != r.Actor()+"#main-key" ||
			actor.PublicKey.Owner != r.Actor() || !strings.Contains(actor.PublicKey.PublicKeyPem, "PUBLIC KEY") {
			t.Errorf("actor = %+v", actor)
		}
	}

	host := strings.TrimPrefix(r.URL, "http://")
	resp, b := get("/.well-known/webfinger?resource=acct:relay@"+host, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"href":"`+r.Actor()+`"`) {
		t.Errorf("webfinger: %d %s", resp.StatusCode, b)
	}
	if resp, _ := get("/.well-known/webfinger?resource=acct:someone@"+host, ""); resp.StatusCode != 404 {
		t.Errorf("webfinger unknown account: %d", resp.StatusCode)
	}
	if resp, _ := get("/.well-known/webfinger", ""); resp.StatusCode != 400 {
		t.Errorf("webfinger without resource: %d", resp.StatusCode)
	}
	resp, b = get("/.well-known/nodeinfo", "")
	if !strings.Contains(string(b), r.URL+"/nodeinfo/2.1") {
		t.Errorf("nodeinfo index: %s", b)
	}
	resp, b = get("/nodeinfo/2.1", "")
	var ni struct {
		Version  string
		Software struct{ Name string }
	}
	json.Unmarshal(b, &ni)
	if ni.Version != "2.1" || ni.Software.Name != "runrig" {
		t.Errorf("nodeinfo: %s", b)
	}
	if _, b := get("/.well-known/host-meta", ""); !bytes.Contains(b, []byte("/.well-known/webfinger?resource={uri}")) {
		t.Errorf("host-meta: %s", b)
	}
	if resp, b := get("/ns", ""); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"Surplus": "runrig:Surplus"`)) ||
		resp.Header.Get("Content-Type") != "application/ld+json" {
		t.Errorf("/ns: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/healthz", "/readyz", "/followers", "/following", "/outbox", "/listings",
		"/actors/surplus", "/actors/offers/outbox", "/actors/requests/followers"} {
		if resp, _ := get(p, ""); resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if _, b := get("/metrics", ""); !bytes.Contains(b, []byte("runrig_build_info")) {
		t.Errorf("metrics lack runrig_build_info")
	}
	if resp, _ := get("/inbox", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /inbox: %d", resp.StatusCode)
	}
	if resp, _ := get("/actors/nowhere/inbox", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown slice inbox: %d", resp.StatusCode)
	}
	for _, reason := range []string{"method", "not_found"} {
		if v := metric(t, r, `runrig_inbox_rejected_total{reason="`+reason+`"}`); v != "1" {
			t.Errorf("rejected reason=%s = %q", reason, v)
		}
	}
}

// Mastodon and Misskey subscribe with a Follow of as:Public; a Create is
// announced to the others, signed by the relay, never sent back; an
// LD-signed body is forwarded byte for byte.
func TestMastodonStyleSubscribeAndRelay(t *testing.T) {
	r := startRelay(t, nil)
	masto, misskey, third := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Misskey), newInstance(t, relaytest.Mastodon)
	for _, in := range []*relaytest.Instance{masto, misskey, third} {
		subscribe(t, r, in)
		acc := in.ReceivedOf("Accept")[0]
		if acc.SignedBy != r.Actor()+"#main-key" {
			t.Fatalf("%s: Accept not verifiably signed by the relay: %q", in.Kind, acc.VerifyErr)
		}
		if in.ReceivedOf("Follow") != nil {
			t.Errorf("%s: Mastodon-style subscriber got a follow-back", in.Kind)
		}
	}

	note := masto.Note("", "hello from the coop", nil)
	publish(t, r, masto, note, http.StatusAccepted)
	objID := objectIDOf(t, note)
	for _, in := range []*relaytest.Instance{misskey, third} {
		waitFor(t, "Announce at "+string(in.Kind), func() bool { return len(in.ReceivedOf("Announce")) == 1 })
		a := in.ReceivedOf("Announce")[0]
		if a.ObjectID() != objID || a.Doc["actor"] != r.Actor() || a.SignedBy != r.Actor()+"#main-key" {
			t.Errorf("%s got %s (verify: %q)", in.Kind, a.Body, a.VerifyErr)
		}
	}

	signed := misskey.Note("", "signed body", map[string]any{
		"signature": map[string]any{"type": "RsaSignature2017", "creator": misskey.KeyID, "signatureValue": "abc"},
	})
	publish(t, r, misskey, signed, http.StatusAccepted)
	for _, in := range []*relaytest.Instance{masto, third} {
		waitFor(t, "forwarded Create", func() bool { return len(in.ReceivedOf("Create")) == 1 })
		if got := in.ReceivedOf("Create")[0]; !bytes.Equal(got.Body, signed) || got.SignedBy == "" {
			t.Errorf("%s: forwarded body differs or unsigned:\n got %s\nwant %s", in.Kind, got.Body, signed)
		}
	}
	if n := len(masto.ReceivedOf("Announce")) + len(misskey.ReceivedOf("Create")); n != 0 {
		t.Errorf("an activity went back to its origin (%d)", n)
	}
}

// Pleroma follows the relay actor: the relay Accepts and Follows back, and
// delivers to it without waiting for the follow-back to be accepted.
func TestLitePubSubscribeAndFollowBack(t *testing.T) {
	r := startRelay(t, nil)
	pleroma := newInstance(t, relaytest.Pleroma)
	pleroma.AnswerFollowBack.Store(false)
	masto := newInstance(t, relaytest.Mastodon)
	subscribe(t, r, pleroma)
	subscribe(t, r, masto)
	waitFor(t, "follow-back", func() bool { return len(pleroma.ReceivedOf("Follow")) == 1 })
	fb := pleroma.ReceivedOf("Follow")[0]
	if fb.Doc["actor"] != r.Actor() || fb.ObjectID() != pleroma.ActorID || fb.SignedBy == "" {
		t.Fatalf("follow-back = %s (%s)", fb.Body, fb.VerifyErr)
	}
	// Not yet accepted: relayed traffic flows anyway.
	publish(t, r, masto, masto.Note("", "to pleroma", nil), http.StatusAccepted)
	waitFor(t, "delivery before follow-back accepted", func() bool { return len(pleroma.ReceivedOf("Announce")) == 1 })

	// Pleroma accepts the follow-back; the relay records it.
	accept := pleroma.Accept(fb)
	publish(t, r, pleroma, accept, http.StatusAccepted)
	subs, err := r.Admin.Subscribers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if s.Peer == pleroma.Host() && (s.Style != "litepub" || s.FollowBack != "accepted") {
			t.Errorf("pleroma subscription = %+v", s)
		}
	}
	// Pleroma's /relay announces a public post's IRI to its followers
	// only; the relay, one of them, re-announces it.
	obj := objectIDOf(t, pleroma.Note(pleroma.URL()+"/users/alice", "public, from Pleroma", nil))
	publish(t, r, pleroma, pleroma.Announce("", obj), http.StatusAccepted)
	// Addressed to followers only, nothing else is relayed: not a post its
	// server serves as followers-only, not a Mastodon-style subscriber's.
	hidden := pleroma.NewID("objects")
	pleroma.Serve(hidden, []byte(`{"id":"`+hidden+`","type":"Note","to":["`+pleroma.URL()+`/users/alice/followers"]}`))
	publish(t, r, pleroma, pleroma.Announce("", hidden), http.StatusAccepted)
	private := masto.Activity("Announce", masto.ActorID, masto.NewID("objects"), []string{masto.ActorID + "/followers"})
	publish(t, r, masto, private, http.StatusAccepted)
	if v := metric(t, r, `runrig_inbox_activities_total{result="not_public",type="Announce"}`); v != "2" {
		t.Errorf("followers-only Announces of a private post and from a Mastodon-style subscriber: not_public = %q, want 2", v)
	}
	// An object its server cannot serve now: the sender is told to retry.
	publish(t, r, pleroma, pleroma.Announce("", pleroma.NewID("objects")), http.StatusBadGateway)
	waitFor(t, "re-announce", func() bool {
		for _, a := range masto.ReceivedOf("Announce") {
			if a.ObjectID() == obj && a.Doc["actor"] == r.Actor() {
				return true
			}
		}
		return false
	})
}

// GoToSocial's instance actor subscribes LitePub-style, requires signed
// GETs, and pushes its users' posts signed with the instance key.
func TestGoToSocialInstanceActorSigning(t *testing.T) {
	r := startRelay(t, nil)
	gts, masto := newInstance(t, relaytest.GoToSocial), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, gts)
	subscribe(t, r, masto)
	alice := gts.URL() + "/users/alice"
	note := gts.Note(alice, "from a GoToSocial user", nil)
	publish(t, r, gts, note, http.StatusAccepted)
	waitFor(t, "GoToSocial post relayed", func() bool { return len(masto.ReceivedOf("Announce")) == 1 })
	if got := masto.ReceivedOf("Announce")[0].ObjectID(); got != objectIDOf(t, note) {
		t.Errorf("announced %s", got)
	}
	waitFor(t, "software recorded", func() bool {
		subs, _ := r.Admin.Subscribers(context.Background())
		for _, s := range subs {
			// GoToSocial v0.22.0-rc2's NodeInfo gives no version.
			if s.Peer == gts.Host() && s.Software == "gotosocial" {
				return true
			}
		}
		return false
	})
}

func TestReplayIsIdempotent(t *testing.T) {
	r := startRelay(t, nil)
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, b)
	note := a.Note("", "once", nil)
	publish(t, r, a, note, http.StatusAccepted)
	publish(t, r, a, note, http.StatusAccepted)
	waitFor(t, "delivery", func() bool { return len(b.ReceivedOf("Announce")) >= 1 })
	marker := a.Note("", "marker", nil)
	publish(t, r, a, marker, http.StatusAccepted)
	waitFor(t, "marker", func() bool { return len(b.ReceivedOf("Announce")) >= 2 })
	if n := len(b.ReceivedOf("Announce")); n != 2 {
		t.Fatalf("received %d announces, want 2 (replay delivered again)", n)
	}
	if v := metric(t, r, `runrig_inbox_activities_total{result="duplicate",type="Create"}`); v != "1" {
		t.Errorf("duplicate metric = %q", v)
	}
}

func TestUnsubscribe(t *testing.T) {
	r := startRelay(t, nil)
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Pleroma)
	subscribe(t, r, a)
	followB := subscribe(t, r, b)
	if status, err := b.Unfollow(context.Background(), r.Actor(), r.Inbox(), followB); err != nil || status != 202 {
		t.Fatalf("Undo: %d %v", status, err)
	}
	publish(t, r, a, a.Note("", "after unfollow", nil), http.StatusAccepted)
	publish(t, r, b, b.Note("", "from a former subscriber", nil), http.StatusForbidden)
	subs, _ := r.Admin.Subscribers(context.Background())
	if len(subs) != 1 || subs[0].Peer != a.Host() {
		t.Fatalf("subscribers after Undo = %+v", subs)
	}
	d, _ := r.Admin.Deliveries(context.Background(), "", "", 0)
	if d.Counts["queued"]+d.Counts["retrying"] != 0 {
		t.Errorf("deliveries queued for nobody: %+v", d)
	}
	if n := len(b.ReceivedOf("Announce")); n != 0 {
		t.Errorf("unsubscribed peer received %d", n)
	}
}

func TestManualApproval(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) { c.Approval = "manual" })
	ctx := context.Background()
	a, b, c := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Pleroma), newInstance(t, relaytest.Mastodon)
	for _, in := range []*relaytest.Instance{a, b, c} {
		if _, status, err := in.Follow(ctx, r.Actor(), r.Inbox()); err != nil || status != 202 {
			t.Fatalf("Follow: %d %v", status, err)
		}
	}
	subs, _ := r.Admin.Subscribers(ctx)
	if len(subs) != 3 {
		t.Fatalf("subscribers = %+v", subs)
	}
	for _, s := range subs {
		if s.State != "pending" {
			t.Errorf("%s is %s before approval", s.Peer, s.State)
		}
	}
	publish(t, r, a, a.Note("", "too early", nil), http.StatusForbidden)
	if got := a.ReceivedOf("Accept"); len(got) != 0 {
		t.Fatalf("Accept before approval")
	}

	for _, in := range []*relaytest.Instance{a, b} {
		if _, err := r.Admin.Approve(ctx, in.Host(), ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "Accept after approval", func() bool { return len(in.ReceivedOf("Accept")) == 1 })
	}
	waitFor(t, "follow-back after approval", func() bool { return len(b.ReceivedOf("Follow")) == 1 })
	if _, err := r.Admin.Reject(ctx, c.Host(), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Reject", func() bool { return len(c.ReceivedOf("Reject")) == 1 })
	publish(t, r, a, a.Note("", "now approved", nil), http.StatusAccepted)
	waitFor(t, "delivery to approved", func() bool { return len(b.ReceivedOf("Announce")) == 1 })
	publish(t, r, c, c.Note("", "rejected peer", nil), http.StatusForbidden)
	if len(c.ReceivedOf("Announce")) != 0 {
		t.Error("rejected peer received relayed traffic")
	}
	if _, err := r.Admin.Approve(ctx, "nobody.example", ""); err == nil || !strings.Contains(err.Error(), "no such subscription") {
		t.Errorf("approve unknown peer: %v", err)
	}
	if err := r.Admin.Remove(ctx, b.Host(), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Reject on removal", func() bool { return len(b.ReceivedOf("Reject")) == 1 })
}

// Rejecting a subscriber drops what was queued for it: it gets the Reject
// and nothing else.
func TestRejectDropsQueuedDeliveries(t *testing.T) {
	r := startRelay(t, nil)
	ctx := context.Background()
	a, c := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	subscribe(t, r, c)
	c.InboxStatus.Store(http.StatusServiceUnavailable)
	for i := 0; i < 3; i++ {
		publish(t, r, a, a.Note("", "queued for c", nil), http.StatusAccepted)
	}
	waitFor(t, "queued for c", func() bool {
		d, _ := r.Admin.Deliveries(ctx, "", c.Host(), 0)
		return len(d.Deliveries) == 3
	})
	if _, err := r.Admin.Reject(ctx, c.Host(), ""); err != nil {
		t.Fatal(err)
	}
	// A request already on the wire when the reject landed cannot be
	// recalled: let it get its 503 before the peer accepts again.
	time.Sleep(300 * time.Millisecond)
	c.InboxStatus.Store(http.StatusAccepted)
	waitFor(t, "Reject", func() bool { return len(c.ReceivedOf("Reject")) == 1 })
	waitFor(t, "queue for c drained", func() bool {
		d, _ := r.Admin.Deliveries(ctx, "", c.Host(), 0)
		return len(d.Deliveries) == 0
	})
	if n := len(c.ReceivedOf("Announce")); n != 0 {
		t.Fatalf("rejected peer received %d relayed activities", n)
	}
}

// A LitePub subscriber that follows again (a restart, a re-enabled relay)
// is answered again, without a second follow-back once it accepted one.
func TestRepeatedLitePubFollow(t *testing.T) {
	r := startRelay(t, nil)
	pleroma := newInstance(t, relaytest.Pleroma)
	subscribe(t, r, pleroma)
	waitFor(t, "follow-back accepted", func() bool {
		subs, _ := r.Admin.Subscribers(context.Background())
		return len(subs) == 1 && subs[0].FollowBack == "accepted"
	})
	if _, status, err := pleroma.Follow(context.Background(), r.Actor(), r.Inbox()); err != nil || status != 202 {
		t.Fatalf("second Follow: %d %v", status, err)
	}
	waitFor(t, "second Accept", func() bool { return len(pleroma.ReceivedOf("Accept")) == 2 })
	waitFor(t, "queue drained", func() bool {
		d, _ := r.Admin.Deliveries(context.Background(), "", pleroma.Host(), 0)
		return len(d.Deliveries) == 0
	})
	if n := len(pleroma.ReceivedOf("Follow")); n != 1 {
		t.Fatalf("follow-backs = %d, want 1", n)
	}
}

// A server that unsubscribes and follows again at once (an operator
// switching the relay off and on) is accepted at once, receives what is
// published after its new Follow, and nothing queued before its Undo.
func TestFollowAgainAfterUndo(t *testing.T) {
	r := startRelay(t, nil)
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	followB := subscribe(t, r, b)
	ctx := context.Background()

	b.InboxStatus.Store(http.StatusInternalServerError) // b is down: the first post waits for a retry
	before := a.Note("", "queued before the Undo", nil)
	publish(t, r, a, before, http.StatusAccepted)
	waitFor(t, "a failed delivery to b", func() bool {
		d, _ := r.Admin.Deliveries(ctx, "retrying", b.Host(), 0)
		return len(d.Deliveries) == 1
	})
	if status, err := b.Unfollow(ctx, r.Actor(), r.Inbox(), followB); err != nil || status != http.StatusAccepted {
		t.Fatalf("Undo: %d %v", status, err)
	}
	if d, _ := r.Admin.Deliveries(ctx, "", b.Host(), 0); len(d.Deliveries) != 0 {
		t.Fatalf("deliveries queued before the Undo outlive it: %+v", d.Deliveries)
	}
	b.InboxStatus.Store(http.StatusAccepted)
	subscribe(t, r, b) // fails the test unless the new Follow's Accept arrives
	after := a.Note("", "published after the new Follow", nil)
	publish(t, r, a, after, http.StatusAccepted)
	waitFor(t, "b receives the post made after its new Follow", func() bool {
		return announced(b, objectIDOf(t, after)) == 1
	})
	if n := announced(b, objectIDOf(t, before)); n != 0 {
		t.Errorf("b received %d copies of a post queued before its Undo", n)
	}
	// What b acknowledged is recorded shortly after; nothing else stays.
	waitFor(t, "no delivery left for b", func() bool {
		d, _ := r.Admin.Deliveries(ctx, "", b.Host(), 0)
		return len(d.Deliveries) == 0
	})
}

// announced counts the Announces of object that reached in.
func announced(in *relaytest.Instance, object string) int {
	n := 0
	for _, a := range in.ReceivedOf("Announce") {
		if a.ObjectID() == object {
			n++
		}
	}
	return n
}

// Mastodon signs every Delete with its author's LD signature; the relay
// forwards it byte for byte, so receivers can check it without trusting
// the relay. GoToSocial's unsigned Delete of a bare IRI is forwarded as it
// came too.
func TestDeletesAsServersSendThem(t *testing.T) {
	r := startRelay(t, nil)
	masto, gts, sub := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.GoToSocial), newInstance(t, relaytest.Misskey)
	for _, in := range []*relaytest.Instance{masto, gts, sub} {
		subscribe(t, r, in)
	}
	note := masto.Note(masto.URL()+"/users/alice", "to be deleted", nil)
	publish(t, r, masto, note, http.StatusAccepted)
	del := masto.Delete(masto.URL()+"/users/alice", objectIDOf(t, note))
	publish(t, r, masto, del, http.StatusAccepted)
	waitFor(t, "Mastodon's Delete forwarded", func() bool { return len(sub.ReceivedOf("Delete")) == 1 })
	if got := sub.ReceivedOf("Delete")[0]; !bytes.Equal(got.Body, del) || got.SignedBy != r.Actor()+"#main-key" {
		t.Errorf("forwarded Delete differs or is not signed by the relay:\n got %s\nwant %s", got.Body, del)
	}
	gtsUser := gts.URL() + "/users/admin"
	gNote := gts.Note(gtsUser, "gone soon", nil)
	publish(t, r, gts, gNote, http.StatusAccepted)
	publish(t, r, gts, gts.Delete(gtsUser, objectIDOf(t, gNote)), http.StatusAccepted)
	waitFor(t, "GoToSocial's Delete relayed", func() bool { return len(sub.ReceivedOf("Delete")) == 2 })
}

// An Undo of an earlier Follow (a late retry, or one racing a new Follow
// from a server switching the relay off and on) does not end the
// subscription that the newer Follow made.
func TestStaleUndoKeepsNewerSubscription(t *testing.T) {
	r := startRelay(t, nil)
	a, b := newInstance(t, relaytest.Mastodon), newInstance(t, relaytest.Mastodon)
	subscribe(t, r, a)
	first := subscribe(t, r, b)
	second := subscribe(t, r, b)
	ctx := context.Background()
	if status, err := b.Unfollow(ctx, r.Actor(), r.Inbox(), first); err != nil || status != http.StatusAccepted {
		t.Fatalf("Undo of the first Follow: %d %v", status, err)
	}
	note := a.Note("", "after a stale Undo", nil)
	publish(t, r, a, note, http.StatusAccepted)
	waitFor(t, "b still receives", func() bool { return announced(b, objectIDOf(t, note)) == 1 })
	if status, err := b.Unfollow(ctx, r.Actor(), r.Inbox(), second); err != nil || status != http.StatusAccepted {
		t.Fatalf("Undo of the second Follow: %d %v", status, err)
	}
	subs, _ := r.Admin.Subscribers(ctx)
	if len(subs) != 1 || subs[0].Peer != a.Host() {
		t.Fatalf("subscribers after the current Follow's Undo = %+v", subs)
	}
}
