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
	if !strings.Contains(string(body), "<wbr>") {
		t.Error("the front page's URLs cannot wrap at their separators")
	}
	page := strings.ReplaceAll(string(body), "<wbr>", "") // where a phone may wrap
	host := strings.TrimPrefix(r.URL, "http://")
	for _, want := range []string{
		"<h1>Po Valley relay</h1>", "<code>" + r.Inbox() + "</code>", "1 server subscribed",
		"admin@relay.example", "surplus@" + host, "region-it-bg@" + host, r.URL + "/actors/offers/inbox",
		"<td>spam.example</td><td>suspend</td><td>sells fake organic labels</td>", "Federation mode: <strong>blocklist</strong>",
		"accepted at once", `<a href="mailto:admin@relay.example">admin@relay.example</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("front page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("front page uses scripts")
	}
	if strings.Contains(page, "directory@"+host) {
		t.Error("the front page lists the directory actor, which carries no traffic, as a slice")
	}
	// A person opening the actor's address in a browser gets this page.
	req, _ := http.NewRequest("GET", r.URL+"/actor", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != r.URL+"/" {
		t.Errorf("GET /actor from a browser = %v %v", resp, err)
	}
	req.Header.Set("Accept", "application/activity+json, application/ld+json")
	if resp, err := noFollow.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /actor from a server = %v %v", resp, err)
	}
	if resp, err := http.Get(r.URL + "/no-such-page"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /no-such-page = %v %v", resp.StatusCode, err)
	}
}
