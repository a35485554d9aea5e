package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/runrig/runrig/relay/relaytest"
)

// browserTimeout bounds the whole browser session of a test.
const browserTimeout = 3 * time.Minute

// chromium finds the browser the console tests drive: RUNRIG_CHROMIUM, or
// Debian's chromium (CI installs it). The tests skip, saying so, without
// one; RUNRIG_BROWSER=off skips them too.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("RUNRIG_BROWSER") == "off" {
		t.Skip("browser tests off: RUNRIG_BROWSER=off")
	}
	for _, p := range []string{os.Getenv("RUNRIG_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("no Chromium: apt-get install chromium (or set RUNRIG_CHROMIUM)")
	return ""
}

// tab is a real headless Chromium tab with the screenshots it takes.
type tab struct {
	t     *testing.T
	ctx   context.Context
	shots string // directory of screenshots
}

func newTab(t *testing.T) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("disable-breakpad", true), chromedp.WindowSize(1280, 900))
	// The browser is another program starting on a loaded machine: a
	// start that fails is tried again, twice at most.
	var ctx context.Context
	for attempt := 1; ; attempt++ {
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		c, cancel := chromedp.NewContext(actx)
		c, cancelTimeout := context.WithTimeout(c, browserTimeout)
		stop := func() { cancelTimeout(); cancel(); cancelAlloc() }
		err := chromedp.Do(c, chromedp.Navigate("about:blank"))
		if err == nil {
			t.Cleanup(stop)
			ctx = c
			break
		}
		stop()
		if attempt == 3 {
			t.Fatalf("starting Chromium: %v", err)
		}
		t.Logf("starting Chromium (attempt %d): %v", attempt, err)
	}
	shots := os.Getenv("RUNRIG_SCREENSHOTS") // docs/console when refreshing the docs' pictures
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &tab{t: t, ctx: ctx, shots: shots}
}

// do runs browser steps, failing the test on error.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text is the visible text of the page's main element.
func (b *tab) text() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		b.t.Fatalf("reading the page: %v", err)
	}
	return s
}

// submit clicks a button and waits for the page it leads to to show want
// (while the browser navigates, the old page's nodes vanish: reading them
// then is no answer yet).
func (b *tab) submit(button, want string) {
	b.t.Helper()
	b.do("clicking "+button, chromedp.Click(chromedp.CSS(button)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		if err == nil && strings.Contains(s, want) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("after clicking %s, no page with %q; the page says:\n%s", button, want, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shoot saves the page at desktop and phone widths as NAME-desktop.png and
// NAME-phone.png.
func (b *tab) shoot(name string) {
	b.t.Helper()
	for _, v := range []struct {
		suffix        string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 900, false}, {"phone", 390, 844, true}} {
		var opts []chromedp.EmulateViewportOption
		if v.mobile {
			opts = append(opts, chromedp.EmulateScale(2))
		}
		png, err := chromedp.Run(b.ctx, chromedp.Action[[]byte](func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(v.width, v.height, opts...)); err != nil {
				return nil, err
			}
			return chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		// Readable on a phone: nothing wider than the screen but tables,
		// which scroll inside their box.
		if width, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); err != nil || width > int(v.width) {
			b.t.Errorf("the %s page is %d px wide at a %d px screen (%v)", name, width, v.width, err)
		}
		if err := os.WriteFile(filepath.Join(b.shots, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 900))
}

// A moderator who never opens a terminal: created with the CLI, they follow
// the setup link in a real browser, approve pending subscribers, block one
// after a preview (and it stops receiving), retry a dead letter, find each
// act in the audit log, sign out and sign in again.
func TestConsoleInBrowser(t *testing.T) {
	b := newTab(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	data := filepath.Join(dir, "data")
	startServe(t, dir, base, testEnv, "--listen", addr, "--public-url", base, "--data", data, "--approval", "manual")
	pub, spam, gone := newInstance(t), newInstance(t), newInstance(t)
	for _, in := range []*relaytest.Instance{pub, spam, gone} {
		if _, status, err := in.Follow(context.Background(), base+"/actor", base+"/inbox"); err != nil || status != http.StatusAccepted {
			t.Fatalf("Follow: %d %v", status, err)
		}
	}
	out := runCLI(t, "admin", "--data", data, "moderators", "add", "ana", "--role", "moderator")
	link := regexp.MustCompile(`http://\S+/admin/setup/\S+`).FindString(out)
	if link == "" {
		t.Fatalf("no setup link in:\n%s", out)
	}

	const pw = "a long phrase of words"
	b.do("opening the setup link", chromedp.Navigate(link))
	b.shoot("setup")
	b.do("choosing a password", chromedp.SendKeys(chromedp.CSS("#password"), pw), chromedp.SendKeys(chromedp.CSS("#confirm"), pw))
	b.submit("main button[type=submit]", "Waiting for approval")
	if txt := b.text(); !strings.Contains(txt, pub.Host()) || !strings.Contains(txt, spam.Host()) {
		t.Fatalf("the overview does not list the pending subscribers:\n%s", txt)
	}

	b.do("opening subscribers", chromedp.Navigate(base+"/admin/subscribers"))
	b.shoot("subscribers")
	for _, in := range []*relaytest.Instance{pub, spam, gone} {
		b.do("selecting "+in.Host(), chromedp.Click(chromedp.CSS(`input[value="|`+in.Host()+`"]`)))
	}
	b.submit(`button[value="approve"]`, "3 subscription(s) approve")
	for _, in := range []*relaytest.Instance{pub, spam, gone} {
		waitFor(t, "Accept", 15*time.Second, func() bool { return len(in.ReceivedOf("Accept")) == 1 })
	}

	gone.InboxStatus.Store(http.StatusGone) // its deliveries die at once
	postNote(t, pub, base, "before the block")
	waitFor(t, "the note to reach spam", 15*time.Second, func() bool { return len(spam.ReceivedOf("Announce")) == 1 })

	b.do("opening rules", chromedp.Navigate(base+"/admin/rules"),
		chromedp.SendKeys(chromedp.CSS("#domain"), spam.Host()), chromedp.SendKeys(chromedp.CSS("#reason"), "spam waves"))
	b.submit("main form.stack button[type=submit]", "What this rule would do")
	if !strings.Contains(b.text(), spam.Host()) {
		t.Fatalf("the preview does not name the affected subscriber:\n%s", b.text())
	}
	b.shoot("rule-preview")
	b.submit("main form.stack button[type=submit]", "added")
	b.shoot("rules")
	postNote(t, pub, base, "after the block")
	waitFor(t, "the dead letter", 15*time.Second, func() bool {
		return strings.Contains(runCLI(t, "admin", "--data", data, "deliveries", "--state", "dead"), gone.Host())
	})
	if n := len(spam.ReceivedOf("Announce")); n != 1 {
		t.Errorf("the blocked subscriber received %d announces, want 1 (from before the block)", n)
	}

	b.do("opening dead letters", chromedp.Navigate(base+"/admin/deliveries"))
	if txt := b.text(); !regexp.MustCompile(regexp.QuoteMeta(gone.Host()) + ` \([1-9]\d*\)`).MatchString(txt) {
		t.Errorf("the dead letters page does not list %s with its dead letter:\n%s", gone.Host(), txt)
	}
	b.shoot("deliveries")
	b.submit(`button[name="all"]`, "queued again")

	b.do("opening the audit log", chromedp.Navigate(base+"/admin/audit?who=ana"))
	txt := b.text()
	for _, want := range []string{"subscriber.approve", "rule.add", "spam waves", "deliveries.retry"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the audit page lacks %q:\n%s", want, txt)
		}
	}
	b.shoot("audit")

	csv := filepath.Join(dir, "coop-blocks.csv")
	os.WriteFile(csv, []byte("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"+
		"ads.example,suspend,false,false,advertising,false\nscam.example,suspend,false,false,fraud,false\n"), 0o644)
	b.do("uploading a list", chromedp.Navigate(base+"/admin/lists"), chromedp.SendKeys(chromedp.CSS("#list-name"), "coop"),
		chromedp.SetUploadFiles(chromedp.CSS("#list-file"), []string{csv}))
	b.shoot("lists")
	b.submit(`section[aria-labelledby="import"] button[type=submit]`, "What this import would do")
	b.shoot("list-import-preview")
	b.submit("main form.stack button[type=submit]", "2 rule(s) added")
	for _, d := range []string{"ads.example", "scam.example"} {
		b.do("selecting the draft "+d, chromedp.Click(chromedp.CSS(`input[aria-label="Select `+d+`"]`)))
	}
	b.submit(`button[value="approve"]`, "2 draft(s) approved")
	if rules := runCLI(t, "admin", "--data", data, "rules"); !strings.Contains(rules, "scam.example") || strings.Contains(rules, "draft") {
		t.Errorf("after approving the drafts, the rules are:\n%s", rules)
	}
	b.do("opening the overview", chromedp.Navigate(base+"/admin/"))
	if txt := b.text(); !strings.Contains(txt, "Deliveries: ") || strings.Contains(txt, "Deliveries: 0") {
		t.Errorf("the overview draws no deliveries:\n%s", txt)
	}
	b.shoot("overview")
	b.do("opening peers", chromedp.Navigate(base+"/admin/peers"))
	b.shoot("peers")
	b.do("opening the account", chromedp.Navigate(base+"/admin/account"))
	b.shoot("account")

	b.submit(".signout button", "Sign in")
	b.shoot("login")
	b.do("signing in", chromedp.SendKeys(chromedp.CSS("#name"), "ana"), chromedp.SendKeys(chromedp.CSS("#password"), pw))
	b.submit("main button[type=submit]", "Delivery queue")
}

// postNote publishes a public note from in through the relay at base.
func postNote(t *testing.T, in *relaytest.Instance, base, text string) {
	t.Helper()
	if status, body, err := in.Post(context.Background(), base+"/inbox", in.Note("", text, nil)); err != nil || status != http.StatusAccepted {
		t.Fatalf("publish: %d %s %v", status, body, err)
	}
}
