package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/relaytest"
	"github.com/runrig/runrig/relay/store/sqlite"
)

// Demo limits.
const (
	// demoReady bounds the wait for the demo relay to serve.
	demoReady = 30 * time.Second
	// demoCall bounds each simulated platform's request.
	demoCall = 15 * time.Second
)

// demoPlatform is a simulated food platform or fediverse server: a real
// signing instance on loopback (relay/relaytest), serving the documents
// its kind of server serves.
type demoPlatform struct {
	name  string
	slice string // "" for the relay actor
	kind  relaytest.Kind
	in    *relaytest.Instance
}

// demoCmd: demo [--listen ADDR] [--every D] — a relay and simulated
// platforms on loopback, publishing until Ctrl-C, so that a newcomer sees
// relaying happen without a public server.
func demoCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "address of the demo relay (loopback)")
	every := fs.Duration("every", 4*time.Second, "how often a simulated platform publishes")
	if _, err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "runrig-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "runrig demo:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	url := "http://" + *listen
	done, err := startDemoRelay(ctx, dir, *listen, url)
	if err != nil {
		fmt.Fprintln(stderr, "runrig demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Runrig demo: a relay on %s and four simulated platforms on loopback.\n"+
		"Its log is in %s; Ctrl-C stops everything and removes it.\n\n", url, filepath.Join(dir, "relay.log"))
	platforms, err := startPlatforms(ctx, stdout, dir, url)
	defer func() {
		for _, p := range platforms {
			p.in.Close()
		}
	}()
	if err == nil {
		fmt.Fprintf(stdout, "\nLook around while it runs:\n  %s/            the front page\n  %s/listings    the listings relayed\n"+
			"  runrig admin --data %s subscribers\n  runrig admin --data %s deliveries\n  %s/metrics     the counters\n\n",
			url, url, filepath.Join(dir, "data"), filepath.Join(dir, "data"), url)
		publishLoop(ctx, stdout, url, platforms, *every)
	}
	stop()
	if rerr := <-done; rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		fmt.Fprintln(stderr, "runrig demo:", err)
		return 1
	}
	fmt.Fprintln(stdout, "\nThe demo relay stopped cleanly.")
	return 0
}

// startDemoRelay runs a relay on a fresh store in dir, logging to
// dir/relay.log, and waits until it is ready; done reports how Run ended.
func startDemoRelay(ctx context.Context, dir, listen, url string) (<-chan error, error) {
	logFile, err := os.Create(filepath.Join(dir, "relay.log"))
	if err != nil {
		return nil, err
	}
	cfg := relay.Defaults()
	cfg.Listen, cfg.PublicURL, cfg.DataDir = listen, url, filepath.Join(dir, "data")
	cfg.AllowPrivateNetworks, cfg.Approval = true, relay.ApproveManual
	cfg.Name, cfg.Description = "Runrig demo relay", "A relay and simulated platforms on this machine only (runrig demo)."
	st, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	srv, err := relay.New(ctx, cfg, st, slog.New(slog.NewTextHandler(logFile, nil)))
	if err != nil {
		st.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Run(ctx)
		st.Close()
		logFile.Close()
		done <- err
	}()
	for deadline := time.Now().Add(demoReady); ; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-done: // it stopped before serving (the port taken, say)
			done <- err
			return done, fmt.Errorf("the demo relay stopped at start: %w", err)
		default:
		}
		if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return done, nil
			}
		}
		if time.Now().After(deadline) {
			return done, fmt.Errorf("the demo relay did not become ready on %s within %v (see %s)", url, demoReady, logFile.Name())
		}
	}
}

// startPlatforms starts the simulated platforms, subscribes them and
// approves all but the newcomer, explaining each step.
func startPlatforms(ctx context.Context, out io.Writer, dir, url string) ([]*demoPlatform, error) {
	platforms := []*demoPlatform{
		{name: "Valley Food Hub (Mastodon)", kind: relaytest.Mastodon},
		{name: "Hill Farms Coop (GoToSocial)", kind: relaytest.GoToSocial},
		{name: "City Market (Mastodon), offers only", slice: "offers", kind: relaytest.Mastodon},
		{name: "Newcomer Coop (Misskey)", kind: relaytest.Misskey},
	}
	c, err := admin.Dial(filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	for i, p := range platforms {
		if p.in, err = relaytest.New(p.kind, relaytest.Config{}); err != nil {
			return platforms[:i], err
		}
		actor, inbox := url+"/actor", url+"/inbox"
		if p.slice != "" {
			actor = url + "/actors/" + p.slice
			inbox = actor + "/inbox"
		}
		cctx, cancel := context.WithTimeout(ctx, demoCall)
		_, status, err := p.in.Follow(cctx, actor, inbox)
		cancel()
		if err == nil && status/100 != 2 {
			err = fmt.Errorf("the relay answered %d", status)
		}
		if err != nil {
			return platforms[:i+1], fmt.Errorf("%s subscribing: %w", p.name, err)
		}
		fmt.Fprintf(out, "%s at %s follows %s: %d, held for approval (approval = manual)\n", p.name, p.in.Host(), actor, status)
		if i == len(platforms)-1 {
			fmt.Fprintf(out, "  %s stays pending: approve it with  runrig admin --data %s approve %s\n",
				p.name, filepath.Join(dir, "data"), p.in.Host())
			continue
		}
		cctx, cancel = context.WithTimeout(ctx, demoCall)
		_, err = c.Approve(cctx, p.in.Host(), p.slice)
		cancel()
		if err != nil {
			return platforms[:i+1], fmt.Errorf("approving %s: %w", p.name, err)
		}
		fmt.Fprintf(out, "  a moderator approves it; the relay sends an Accept, signed\n")
	}
	return platforms, nil
}

// publishLoop has the approved platforms publish in turn, every interval,
// until ctx ends: offers, wholesale requests, surplus and posts.
func publishLoop(ctx context.Context, out io.Writer, url string, platforms []*demoPlatform, interval time.Duration) {
	type act struct {
		who  int
		what string
		doc  func(in *relaytest.Instance) []byte
	}
	week := func() time.Time { return time.Now().Add(7 * 24 * time.Hour) }
	acts := []act{
		{1, "an offer of 10 kg of apples (FEP-0837 listing)", func(in *relaytest.Instance) []byte { return in.Listing("offer", week(), nil) }},
		{0, "a wholesale request", func(in *relaytest.Instance) []byte { return in.Listing("request", week(), nil) }},
		{1, "shared surplus, ending in two days", func(in *relaytest.Instance) []byte {
			return in.Listing("surplus", time.Now().Add(48*time.Hour), nil)
		}},
		{0, "a public post", func(in *relaytest.Instance) []byte {
			return in.Note("", "Market day on Saturday: bring your own bags.", nil)
		}},
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 0; ; n++ {
		a := acts[n%len(acts)]
		p := platforms[a.who]
		cctx, cancel := context.WithTimeout(ctx, demoCall)
		status, body, err := p.in.Post(cctx, url+"/inbox", a.doc(p.in))
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			fmt.Fprintf(out, "%s publishes %s: %v\n", p.name, a.what, err)
		case status == http.StatusAccepted:
			fmt.Fprintf(out, "%s publishes %s: %d; the relay checked its signature and content, and signs a copy for each subscriber\n",
				p.name, a.what, status)
		default:
			fmt.Fprintf(out, "%s publishes %s: refused, %d %s\n", p.name, a.what, status, body)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
