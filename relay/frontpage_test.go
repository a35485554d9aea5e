package relay_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
)

// The front page tells a visitor what the relay is, how to subscribe
// (the exact inbox URL), its slices, subscriber count, the operator's
// contact and the published moderation policy, as plain HTML.
func TestFrontPage(t *testing.T) {
	r := startRelay(t, func(c *relay.Config) {
		c.Name, c.Contact = "Po Valley relay", "admin@relay.example"
		c.Regions, _ = relay.ParseRegions("it-bg")
	})
	subscribe(t, r, newInstance(t, relaytest.Mastodon))
	if _, _, err := r.Admin.Block(context.Background(), admin.Block{Domain: "spam.example", Severity: "suspend",
		PublicComment: "sells fake organic labels", Reason: "fraud"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(r.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	host := strings.TrimPrefix(r.URL, "http://")
	for _, want := range []string{
		"<h1>Po Valley relay</h1>", "<code>" + r.Inbox() + "</code>", "1 server subscribed",
		"admin@relay.example", "surplus@" + host, "region-it-bg@" + host, r.URL + "/actors/offers/inbox",
		"<td>spam.example</td><td>suspend</td><td>sells fake organic labels</td>", "Federation mode: <strong>blocklist</strong>",
		"accepted at once",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("front page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("front page uses scripts")
	}
	if resp, err := http.Get(r.URL + "/no-such-page"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /no-such-page = %v %v", resp.StatusCode, err)
	}
}
