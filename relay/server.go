package relay

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/console"
	"github.com/runrig/runrig/relay/delivery"
	"github.com/runrig/runrig/relay/fetch"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// Files the server keeps in its data directory besides the store.
const (
	// AdminSocket is the unix socket of the admin API.
	AdminSocket = admin.SocketFile
	// AdminTokenFile holds the bearer token the admin API requires.
	AdminTokenFile = admin.TokenFile
)

// Timeouts of the public HTTP server.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	pruneInterval     = time.Hour
	settingActorKey   = "actor_key"
	rsaKeyBits        = 2048
	softwareName      = "runrig"
)

// Server is a running relay: it builds the services from a Config, serves
// and stops. What it does with a verified activity is in the services
// (subscription, federation, fanout); its part in discovery is peering,
// embedded here.
type Server struct {
	cfg     Config
	log     *slog.Logger
	peerLog *peerLog
	store   store.Store

	// Identity: the relay actor and its key.
	host    string // public authority
	actorID string
	inboxID string
	keyID   string
	pubPEM  string
	signer  *httpsig.Signer
	// signing is what signs with the RSA key and how each peer host takes
	// signatures.
	signing signing

	// svc handles verified activities: subscriptions, relay federation
	// and fan-out.
	svc services
	// peering is the relay's part in discovery.
	*peering

	// Peers: fetching, key cache, deliveries.
	fetch      *fetch.Client
	listFetch  *fetch.Client // larger bodies, for shared lists
	keys       *trust.Keys
	dispatcher *delivery.Dispatcher

	// slices are the followable actors besides the relay, by name.
	slices *slices.Set
	// mod holds moderation: the current rule set and trust levels, and
	// every moderator's change; limiter enforces the inbound rates the
	// trust levels scale.
	mod        *policy.Moderator
	limiter    *trust.Limiter
	pins       *trust.Pins
	rejections peerCounts // inbox refusals per peer since start

	metrics *metrics
	inbox   *inbox.Pipeline // the verified inbox
	// accounts and console are the moderator web console under /admin/.
	accounts   *console.Accounts
	console    *console.Console
	recent     *console.Recent // deliveries and refusals of the last day
	adminToken string
	ready      atomic.Bool
	// approval is how new subscriptions are handled now (the
	// configuration's, or an admin's choice in the console).
	approval       atomic.Pointer[Approval]
	approvalWrites sync.Mutex // serializes changes of approval
	bg             background // goroutines that use the store
	// repl joins this process to the replicas sharing the store.
	repl *replication
}

// New prepares a relay on st, creating its actor key on first start.
func New(ctx context.Context, cfg Config, st store.Store, log *slog.Logger) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.PublicURL)
	s := &Server{
		cfg:     cfg,
		log:     log,
		peerLog: newPeerLog(log),
		store:   st,
		host:    u.Host,
		actorID: cfg.PublicURL + "/actor",
		inboxID: cfg.PublicURL + "/inbox",

		slices:  slices.New(cfg.PublicURL, cfg.PublicURL+"/actor", cfg.Regions),
		limiter: trust.NewLimiter(trust.RateConfig{PerSecond: cfg.InboundRate, Burst: cfg.InboundBurst}),
	}
	s.peering = &peering{Server: s}
	s.keyID = s.actorID + "#main-key"
	if err := s.loadApproval(ctx); err != nil {
		return nil, err
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	var err error
	egress := policy.Egress{AllowPrivate: cfg.AllowPrivateNetworks}
	ua := fmt.Sprintf("%s/%s (+%s)", softwareName, Version, cfg.PublicURL)
	s.fetch = fetch.New(fetch.Config{Egress: egress, Signer: s.signer, UserAgent: ua, Permit: s.permitPeer, Schemes: s.signing.schemes})
	s.listFetch = fetch.New(fetch.Config{Egress: egress, UserAgent: ua, MaxBody: policy.MaxListBytes, Timeout: 30 * time.Second})
	s.pins = trust.NewPins(pinStore{st}, trust.PinsConfig{AllowPlainHTTP: cfg.AllowPrivateNetworks,
		OnRotated: func(k trust.PinnedKey) {
			s.log.Warn("peer key rotated", "peer", k.Peer, "key", k.KeyID, "rotations", k.Rotations)
		}})
	s.keys = trust.NewKeys(s.fetch, trust.KeysConfig{MinRefetch: cfg.KeyRefetch, HostOf: func(keyID string) string {
		p, _ := policy.PeerOf(keyID)
		return p
	}})
	s.repl = newReplication(s)
	dc := cfg.Delivery
	dc.Signer, dc.Egress, dc.UserAgent, dc.Schemes = s.signer, egress, ua, s.signing.schemes
	dc.Owner, dc.Shard = s.repl.member.ID(), s.repl.member.Shard
	s.dispatcher = delivery.New(st, dc, log.With("component", "delivery"))
	s.metrics = newMetrics(s)
	s.signing.verified = func(k httpsig.Kind) { s.metrics.verified.WithLabelValues(string(k)).Inc() }
	if s.mod, err = policy.NewModerator(ctx, st, moderationSubscriptions{st}, policy.ModeratorConfig{
		Mode: cfg.FederationMode, Lists: s.listFetch, Documents: s.fetch, AllowPlainHTTP: cfg.AllowPrivateNetworks,
		Logger: log.With("component", "moderation"),
		Fingerprints: func(ctx context.Context, keyID string) (string, bool) {
			fp, ok, _ := s.pins.Fingerprint(ctx, keyID)
			return fp, ok
		}}); err != nil {
		return nil, err
	}
	s.announcements = discovery.NewVerifier(s.fetch)
	s.announcements.Permit = s.permitPeer
	s.directory = discovery.NewDirectory()
	// A node with no layers until Serve joins those configured: it signs
	// the announcement served at /.well-known/runrig-announcement.
	n, err := discovery.StartNode(ctx, discovery.NodeConfig{Validity: announceValidity}, s.describe, s.signAnnouncement,
		s.VerifyAnnouncement, s.directory)
	if err != nil {
		return nil, err
	}
	s.node.Store(n)
	s.svc = s.newServices()
	if err := s.svc.bridges.Load(ctx); err != nil {
		return nil, fmt.Errorf("bridges: %w", err)
	}
	s.inbox = s.newInbox()
	s.newConsole()
	s.hookDispatcher()
	return s, nil
}

// loadKeys loads (or makes, on a new store) the actor's and the
// announcements' keys, and the signer that uses them.
func (s *Server) loadKeys(ctx context.Context) error {
	key, err := s.loadKey(ctx)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	s.pubPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if s.announceKey, err = s.loadAnnounceKey(ctx); err != nil {
		return err
	}
	return s.newSigner(ctx, key)
}

// hookDispatcher tells the dispatcher what the relay wants to hear of
// deliveries and whom it may still deliver to.
func (s *Server) hookDispatcher() {
	s.dispatcher.OnResult = s.onDeliveryResult
	s.dispatcher.Permit = s.permitPeer
	s.dispatcher.OnExpired = func(n int) { s.metrics.deliveries.WithLabelValues("expired").Add(float64(n)) }
	s.dispatcher.OnKnock = func(_ string, k httpsig.Kind) { s.metrics.knocks.WithLabelValues(string(k)).Inc() }
}

// newConsole builds the moderator console over the relay's services.
func (s *Server) newConsole() {
	st := s.store
	s.accounts, s.recent = console.NewAccounts(st.Accounts(), s.cfg.PublicURL), console.NewRecent()
	s.console = console.New(console.Config{PublicURL: s.cfg.PublicURL, Name: s.cfg.Name, TrustedProxies: s.cfg.TrustedProxies, Accounts: s.accounts,
		Sessions: st.Accounts(), Subscriptions: operatorActions{s.svc.subs, s}, Moderation: s.mod, Lists: s.mod,
		Peers: s, Endorsements: s.mod, Settings: s, Reads: st, Bridges: bridgeAdmin{s.svc.bridges}, Recent: s.recent, Log: s.log.With("component", "console"),
		Refused: func(reason string) { s.metrics.console.WithLabelValues(reason).Inc() }, PeerLog: s.peerLog})
}

// loadKey returns the actor key, generating and storing it on first start.
func (s *Server) loadKey(ctx context.Context) (*rsa.PrivateKey, error) {
	v, err := s.store.Setting(ctx, settingActorKey)
	if errors.Is(err, store.ErrNotFound) {
		k, gerr := rsa.GenerateKey(rand.Reader, rsaKeyBits)
		if gerr != nil {
			return nil, gerr
		}
		der, gerr := x509.MarshalPKCS8PrivateKey(k)
		if gerr != nil {
			return nil, gerr
		}
		v, err = s.store.InitSetting(ctx, settingActorKey, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
		if err == nil {
			s.log.Info("created the relay actor key", "bits", rsaKeyBits)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("actor key: %w", err)
	}
	block, _ := pem.Decode([]byte(v))
	if block == nil {
		return nil, errors.New("actor key: stored key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("actor key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("actor key: not RSA")
	}
	return rk, nil
}

// ActorID returns the relay actor's IRI.
func (s *Server) ActorID() string { return s.actorID }

// InboxID returns the relay's inbox IRI, the URL operators subscribe to.
func (s *Server) InboxID() string { return s.inboxID }

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting requests, lets deliveries in flight finish or returns them to
// the queue, and returns within the shutdown timeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller made.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	adminLn, err := s.listenAdmin()
	if err != nil {
		ln.Close()
		return err
	}
	pub := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	adm := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: readHeaderTimeout}

	runCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	s.bg.start(runCtx)
	if err := s.startBackground(runCtx); err != nil {
		ln.Close()
		adminLn.Close()
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		s.stopBackground(sctx, stopBG) // what did start is done with the store before the caller closes it
		os.Remove(filepath.Join(s.cfg.DataDir, AdminSocket))
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- pub.Serve(ln) }()
	go func() { errc <- adm.Serve(adminLn) }()
	s.ready.Store(true)
	s.log.Info("relay ready", "listen", ln.Addr().String(), "actor", s.actorID, "inbox", s.inboxID,
		"approval", s.approvalMode(), "admin_socket", filepath.Join(s.cfg.DataDir, AdminSocket))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.ready.Store(false)
	s.log.Info("shutting down", "delay", s.cfg.ShutdownDelay)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if serveErr == nil && s.cfg.ShutdownDelay > 0 {
		time.Sleep(s.cfg.ShutdownDelay) // still serving, not ready
	}
	pub.Shutdown(sctx)
	adm.Shutdown(sctx)
	// Background work gets a budget of its own: the store closes after
	// Serve returns, so what delivers must have ended by then.
	bctx, bcancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer bcancel()
	s.stopBackground(bctx, stopBG)
	os.Remove(filepath.Join(s.cfg.DataDir, AdminSocket))
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// stopBackground ends the background work and waits for it until ctx
// ends.
func (s *Server) stopBackground(ctx context.Context, stop context.CancelFunc) {
	stop()
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("shutdown timed out; queued work stays in the store")
	}
	// Every outcome is recorded: the other replicas may take the rest.
	s.repl.member.Leave(context.WithoutCancel(ctx))
}

// startBackground starts the relay's background work: the dispatcher,
// the periodic loops, relay federation, and the discovery layers that are
// configured. It all stops when ctx ends.
func (s *Server) startBackground(ctx context.Context) error {
	type loop struct {
		// singleton names the lease that lets one replica run the loop
		// ("": every replica runs it).
		singleton string
		interval  time.Duration
		now       bool // run at once, not only after the first interval
		what      string
		f         func(context.Context) error
	}
	loops := []loop{
		// Lists wait for the first tick: start-up does no list fetching.
		{singletonLists, listCheckInterval, false, "syncing shared lists", func(ctx context.Context) error { _, err := s.mod.SyncDue(ctx); return err }},
		{singletonPrune, pruneInterval, true, "pruning the store", s.prune},
		// Rebuilt now and then so expired rules stop applying without a change.
		{"", policyReloadInterval, false, "reloading moderation rules", s.mod.Reload},
		// Bridges wait for the first tick too: start-up reads no catalog.
		{singletonBridges, bridgeCheckInterval, false, "syncing DFC bridges", s.svc.bridges.SyncDue},
	}
	if s.cfg.Federation.Relays {
		loops = append(loops, loop{singletonFederation, s.cfg.Federation.Interval, false, "following discovered relays", s.federate})
	}
	if err := s.repl.start(ctx); err != nil {
		return fmt.Errorf("joining the replicas: %w", err)
	}
	s.bg.Go(func() { s.dispatcher.Run(ctx) })
	s.bg.Go(func() { s.signing.schemes.Run(ctx) })
	for _, l := range loops {
		run := func(ctx context.Context) { s.every(ctx, l.interval, l.now, l.what, l.f) }
		if l.singleton == "" {
			s.bg.Go(func() { run(ctx) })
			continue
		}
		s.repl.singleton(ctx, l.singleton, run)
	}
	if s.repl.shared {
		// One replica at a time is this relay's node in the DHT and
		// gossip (they share one identity); a failure to start is logged
		// and tried again at the next renewal.
		s.repl.singleton(ctx, singletonDiscovery, func(ctx context.Context) {
			if err := s.startDiscovery(ctx, false); err != nil {
				s.log.Error("starting discovery", "err", err)
			}
			<-ctx.Done()
		})
		return nil
	}
	if err := s.startDiscovery(ctx, true); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	return nil
}

// listenAdmin opens the admin socket, reachable only by the operator's user
// (mode 0600), and writes a fresh bearer token beside it (also 0600) that
// every admin request must carry.
func (s *Server) listenAdmin() (net.Listener, error) {
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	s.adminToken = hex.EncodeToString(tok)
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	tokPath := filepath.Join(s.cfg.DataDir, AdminTokenFile)
	if err := os.WriteFile(tokPath+".tmp", []byte(s.adminToken+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	if err := os.Rename(tokPath+".tmp", tokPath); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	sock := filepath.Join(s.cfg.DataDir, AdminSocket)
	os.Remove(sock) // left by a process that was killed; the store lock proves it is gone
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// every runs f every interval until ctx is done (first at once when now
// is set), logging its errors as what.
func (s *Server) every(ctx context.Context, interval time.Duration, now bool, what string, f func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if now {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(what, "err", err)
			}
		}
		now = true
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune forgets old activity ids, orphaned payloads, ended listings, idle
// console sessions and expired setup links.
func (s *Server) prune(ctx context.Context) error {
	now := time.Now()
	if err := s.store.Accounts().PruneSessions(ctx, now.Add(-console.IdleTimeout), now); err != nil {
		return err
	}
	return s.store.Prune(ctx, now.Add(-s.cfg.SeenRetention), now)
}

func (s *Server) onDeliveryResult(r delivery.Result) {
	s.metrics.observeDelivery(r)
	s.repl.counted(r.Outcome)
	o := r.Outcome
	if o.Dropped == "" && !o.Deferred {
		s.recent.Delivered(o.Delivered)
	}
	switch {
	case o.Dead:
		s.log.Warn("delivery dead after its last attempt", "peer", o.Delivery.Peer, "activity", o.Delivery.ActivityID,
			"attempts", o.Delivery.Attempts+1, "err", o.Err)
	case !o.Delivered && !o.Deferred:
		s.peerLog.Warn(o.Delivery.Peer, r.Reason, "delivery failed; will retry", "err", o.Err, "next", o.NextAttempt)
	}
}
