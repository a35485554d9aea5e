package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
)

// A relay's announcement is verified by another relay against the
// announcer's own actor (FEP-521a assertionMethod); replays, tampering and
// blocked domains are refused and counted.
func TestAnnouncementsVerifiedAgainstTheDomain(t *testing.T) {
	a := startRelay(t, func(c *relay.Config) { c.Regions, _ = relay.ParseRegions("it-bg") })
	b := startRelay(t, nil)
	ctx := context.Background()

	resp, err := http.Get(a.Actor())
	if err != nil {
		t.Fatal(err)
	}
	var actor struct {
		AssertionMethod []struct{ ID, Type, Controller, PublicKeyMultibase string }
	}
	json.NewDecoder(resp.Body).Decode(&actor)
	resp.Body.Close()
	if len(actor.AssertionMethod) != 1 || actor.AssertionMethod[0].Type != "Multikey" ||
		actor.AssertionMethod[0].Controller != a.Actor() || !strings.HasPrefix(actor.AssertionMethod[0].PublicKeyMultibase, "z6Mk") {
		t.Fatalf("assertionMethod = %+v", actor.AssertionMethod)
	}

	ann, err := a.Admin.Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := b.VerifyAnnouncement(ctx, ann)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rec.Actor != a.Actor() || rec.Inbox != a.Inbox() || len(rec.Regions) != 1 || rec.Regions[0] != "it-bg" ||
		len(rec.Kinds) != 3 || rec.Expires.Sub(rec.Issued) > discovery.MaxValidity {
		t.Errorf("record = %+v", rec)
	}
	if _, err := b.VerifyAnnouncement(ctx, ann); !errors.Is(err, discovery.ErrReplay) {
		t.Errorf("replay: %v", err)
	}
	newer, _ := a.Admin.Self(ctx)
	forged := []byte(strings.Replace(string(newer), "it-bg", "it-mi", 1))
	if _, err := b.VerifyAnnouncement(ctx, forged); !errors.Is(err, discovery.ErrForged) {
		t.Errorf("forged: %v", err)
	}
	if _, _, err := b.Admin.Block(ctx, admin.Block{Domain: strings.TrimPrefix(a.URL, "http://"), Severity: "reject", Reason: "left"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.VerifyAnnouncement(ctx, newer); !errors.Is(err, discovery.ErrBlocked) {
		t.Errorf("blocked: %v", err)
	}
	for _, m := range []string{`runrig_discovery_announcements_total{result="verified"}`, `runrig_discovery_announcements_total{result="replay"}`,
		`runrig_discovery_announcements_total{result="forged"}`, `runrig_discovery_announcements_total{result="blocked"}`} {
		if metric(t, b, m) != "1" {
			t.Errorf("%s = %q", m, metric(t, b, m))
		}
	}
}

// Announcements made in quick succession (the gossip join's and the first
// re-announcement, the DHT's) never share a sequence number, which would
// make the later one a replay.
func TestAnnouncementSequenceIncreases(t *testing.T) {
	r := startRelay(t, nil)
	var last uint64
	for i := 0; i < 50; i++ {
		b, err := r.Announcement(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, rec, err := discovery.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Seq <= last {
			t.Fatalf("announcement %d has seq %d after %d", i, rec.Seq, last)
		}
		last = rec.Seq
	}
}
