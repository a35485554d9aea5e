// Package settings builds a relay.Config from, in increasing precedence,
// the defaults, a TOML config file, RUNRIG_* environment variables and
// command-line flags. Every setting exists in all three forms: the flag
// --public-url, the variable RUNRIG_PUBLIC_URL and the file key public_url.
// Unknown file keys and malformed values are errors that name the setting.
package settings

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay"
)

// Log holds the logging settings.
type Log struct {
	// Format is "text" or "json".
	Format string
	// Level is "debug", "info", "warn" or "error".
	Level string
}

// setting is one configurable value.
type setting struct {
	name string // flag name; the env var and file key derive from it
	doc  string
	set  func(c *relay.Config, l *Log, v string) error
	get  func(c *relay.Config, l *Log) string
	bool bool
}

// Env returns the environment variable of a setting.
func envName(name string) string {
	return "RUNRIG_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func fileKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

func str(f func(c *relay.Config, l *Log) *string) (func(*relay.Config, *Log, string) error, func(*relay.Config, *Log) string) {
	return func(c *relay.Config, l *Log, v string) error { *f(c, l) = v; return nil },
		func(c *relay.Config, l *Log) string { return *f(c, l) }
}

func dur(f func(c *relay.Config) *time.Duration) (func(*relay.Config, *Log, string) error, func(*relay.Config, *Log) string) {
	return func(c *relay.Config, _ *Log, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 30s or 5m, got %q", v)
		}
		*f(c) = d
		return nil
	}, func(c *relay.Config, _ *Log) string { return f(c).String() }
}

func num(f func(c *relay.Config) *int) (func(*relay.Config, *Log, string) error, func(*relay.Config, *Log) string) {
	return func(c *relay.Config, _ *Log, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a whole number, got %q", v)
		}
		*f(c) = n
		return nil
	}, func(c *relay.Config, _ *Log) string { return strconv.Itoa(*f(c)) }
}

func num64(f func(c *relay.Config) *int64) (func(*relay.Config, *Log, string) error, func(*relay.Config, *Log) string) {
	return func(c *relay.Config, _ *Log, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("want a positive whole number, got %q", v)
		}
		*f(c) = n
		return nil
	}, func(c *relay.Config, _ *Log) string { return strconv.FormatInt(*f(c), 10) }
}

// settingList collects settings.
type settingList []setting

// addBool appends a true/false setting, which as a flag may be given
// without a value.
func (l *settingList) addBool(name, doc string, f func(c *relay.Config) *bool) {
	*l = append(*l, setting{name: name, bool: true, doc: doc,
		set: func(c *relay.Config, _ *Log, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*f(c) = b
			return nil
		},
		get: func(c *relay.Config, _ *Log) string { return strconv.FormatBool(*f(c)) }})
}

// add appends a setting.
func (l *settingList) add(name, doc string, set func(*relay.Config, *Log, string) error, get func(*relay.Config, *Log) string) {
	*l = append(*l, setting{name: name, doc: doc, set: set, get: get})
}

// all returns every setting, in the order usage shows them.
func all() []setting {
	var l settingList
	l.serverSettings()
	l.moderationSettings()
	l.discoverySettings()
	l.listingSettings()
	l.deliverySettings()
	return l
}

// serverSettings adds where the relay listens, who it is, its data, approval and logs.
func (l *settingList) serverSettings() {
	s, g := str(func(c *relay.Config, _ *Log) *string { return &c.Listen })
	l.add("listen", "address the public HTTP server listens on", s, g)
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.PublicURL })
	l.add("public-url", "scheme and host peers reach this relay at, e.g. https://relay.example; left unset, http:// and the listen address", s, g)
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.DataDir })
	l.add("data", "directory holding the store, the actor key and the admin socket", s, g)
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.Database })
	l.add("database", "PostgreSQL URL (postgres://user:password@host/db) holding the store instead of SQLite in the data directory; relays with the same database and public-url are replicas of one relay", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.Replicas.Heartbeat })
	l.add("replica-heartbeat", "with --database: how often a replica records that it is alive and renews its singleton leases", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.Replicas.DeadAfter })
	l.add("replica-dead-after", "with --database: how long a replica may go unseen before the others take over its deliveries and singletons (at least three heartbeats)", s, g)
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.Name })
	l.add("name", "the relay's name on its front page and actor", s, g)
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.Description })
	l.add("description", "a paragraph about this relay for its front page: who runs it, for which region", s, g)
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.Contact })
	l.add("contact", "how to reach the operator (e-mail or fediverse account), shown on the front page and in NodeInfo", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.ShutdownDelay })
	l.add("shutdown-delay", "on shutdown, keep serving this long with /readyz answering 503 so load balancers stop sending first", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.ShutdownTimeout })
	l.add("shutdown-timeout", "how long a graceful shutdown may take, for the HTTP servers and again for background work; what is queued stays in the store", s, g)
	s, g = num64(func(c *relay.Config) *int64 { return &c.MaxBody })
	l.add("max-body", "largest inbox request body accepted, in bytes (larger: 413)", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.SeenRetention })
	l.add("seen-retention", "how long activity ids are remembered, so that a replay within it is a duplicate", s, g)
	l.addBool("allow-private-networks", "let fetches and deliveries reach loopback and private addresses (tests and local demos only)",
		func(c *relay.Config) *bool { return &c.AllowPrivateNetworks })
	l.add("trusted-proxies", "reverse proxies (addresses or CIDR prefixes, comma separated) whose X-Forwarded-For names the client for per-address limits (inbox, key fetches, console sign-ins); loopback is always trusted",
		func(c *relay.Config, _ *Log, v string) error {
			ps, err := relay.ParseProxies(v)
			if err == nil {
				c.TrustedProxies = ps
			}
			return err
		}, func(c *relay.Config, _ *Log) string { return relay.FormatProxies(c.TrustedProxies) })
	l.add("approval", "auto: accept subscriptions at once; manual: hold them until an operator approves",
		func(c *relay.Config, _ *Log, v string) error {
			if v != string(relay.ApproveAuto) && v != string(relay.ApproveManual) {
				return fmt.Errorf("want auto or manual, got %q", v)
			}
			c.Approval = relay.Approval(v)
			return nil
		}, func(c *relay.Config, _ *Log) string { return string(c.Approval) })
	l.add("log-format", "log format: text or json", func(_ *relay.Config, l *Log, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("want text or json, got %q", v)
		}
		l.Format = v
		return nil
	}, func(_ *relay.Config, l *Log) string { return l.Format })
	l.add("log-level", "log level: debug, info, warn or error", func(_ *relay.Config, l *Log, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			l.Level = v
			return nil
		}
		return fmt.Errorf("want debug, info, warn or error, got %q", v)
	}, func(_ *relay.Config, l *Log) string { return l.Level })
}

// moderationSettings adds the federation mode and inbound rate limits.
func (l *settingList) moderationSettings() {
	l.add("federation-mode", "blocklist: federate with everyone not blocked; allowlist: only with allowed peers",
		func(c *relay.Config, _ *Log, v string) error {
			m, err := policy.ParseMode(v)
			c.FederationMode = m
			return err
		}, func(c *relay.Config, _ *Log) string { return string(c.FederationMode) })
	for _, f := range []struct {
		name, doc string
		ptr       func(c *relay.Config) *float64
	}{
		{"inbound-rate", "activities per second a peer of normal trust may send (trusted peers 5x, limited 0.2x, untrusted 0.05x)",
			func(c *relay.Config) *float64 { return &c.InboundRate }},
		{"inbound-burst", "activities a peer of normal trust may send at once, scaled like the rate: a big server flushing its queue after an outage sends about this many",
			func(c *relay.Config) *float64 { return &c.InboundBurst }},
	} {
		ptr := f.ptr
		l.add(f.name, f.doc, func(c *relay.Config, _ *Log, v string) error {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x <= 0 {
				return fmt.Errorf("want a positive number, got %q", v)
			}
			*ptr(c) = x
			return nil
		}, func(c *relay.Config, _ *Log) string { return strconv.FormatFloat(*ptr(c), 'g', -1, 64) })
	}
}

// discoverySettings adds gossip and the regions served.
func (l *settingList) discoverySettings() {
	s, g := str(func(c *relay.Config, _ *Log) *string { return &c.Gossip.Bind })
	l.add("gossip-bind", "host:port for regional gossip (memberlist, UDP and TCP); off when unset", s, g)
	s, g = commaList(func(c *relay.Config) *[]string { return &c.Gossip.Join }, nil)
	l.add("gossip-join", "gossip members to join, host:port separated by commas", s, g)
	l.add("gossip-profile", "gossip timing: lan, wan or local", func(c *relay.Config, _ *Log, v string) error {
		if v != "lan" && v != "wan" && v != "local" {
			return fmt.Errorf("want lan, wan or local, got %q", v)
		}
		c.Gossip.Profile = v
		return nil
	}, func(c *relay.Config, _ *Log) string { return c.Gossip.Profile })
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.Gossip.Key })
	l.add("gossip-key", "the gossip cluster's encryption key, base64 of 16, 24 or 32 bytes (every member needs it)", s, g)
	l.addBool("gossip-insecure", "run gossip without a key, so that anyone who reaches gossip-bind joins: only where every host is trusted",
		func(c *relay.Config) *bool { return &c.Gossip.Insecure })
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.Gossip.Label })
	l.add("gossip-label", "a label separating gossip clusters that share a network", s, g)
	s, g = commaList(func(c *relay.Config) *[]string { return &c.DHT.Listen }, checkMultiaddr(false))
	l.add("dht-listen", "libp2p multiaddrs for the wide-area DHT, separated by commas (e.g. /ip4/0.0.0.0/tcp/4001); off when unset", s, g)
	s, g = commaList(func(c *relay.Config) *[]string { return &c.DHT.Bootstrap }, checkMultiaddr(true))
	l.add("dht-bootstrap", "DHT nodes to join through: full multiaddrs ending in /p2p/PEER-ID, separated by commas (runrig admin self prints a relay's)", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.DHT.LookupInterval })
	l.add("dht-lookup-interval", "how often the relay looks up peers in the DHT", s, g)
	l.addBool("federate-relays", "subscribe automatically to discovered, verified relays that the moderation rules accept (allowlist mode: only allowed ones)",
		func(c *relay.Config) *bool { return &c.Federation.Relays })
	s, g = num(func(c *relay.Config) *int { return &c.Federation.MaxHops })
	l.add("max-hops", "how many relays an activity may cross before it is no longer passed to other relays", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.Federation.Interval })
	l.add("federation-interval", "how often the directory is checked for relays to follow", s, g)
	l.add("regions", "regions served, each with a followable actor: CODE or CODE=minLat,minLon,maxLat,maxLon, separated by ;",
		func(c *relay.Config, _ *Log, v string) error {
			rs, err := relay.ParseRegions(v)
			if err == nil {
				c.Regions = rs
			}
			return err
		}, func(c *relay.Config, _ *Log) string { return relay.FormatRegions(c.Regions) })
}

// listingSettings adds listing horizons.
func (l *settingList) listingSettings() {
	s, g := dur(func(c *relay.Config) *time.Duration { return &c.ListingHorizon })
	l.add("listing-horizon", "longest an offer or wholesale request may run", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.SurplusHorizon })
	l.add("surplus-horizon", "longest a surplus listing may run", s, g)
}

// deliverySettings adds retries, concurrency and the circuit breaker.
func (l *settingList) deliverySettings() {
	s, g := dur(func(c *relay.Config) *time.Duration { return &c.Delivery.RetryBase })
	l.add("retry-base", "delay before a failed delivery's first retry (doubles each time)", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.Delivery.RetryMax })
	l.add("retry-max", "longest delay between retries", s, g)
	s, g = num(func(c *relay.Config) *int { return &c.Delivery.MaxAttempts })
	l.add("max-attempts", "attempts before a delivery is dead", s, g)
	s, g = num(func(c *relay.Config) *int { return &c.Delivery.PerPeerConcurrency })
	l.add("peer-concurrency", "simultaneous deliveries to one subscriber", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.Delivery.RequestTimeout })
	l.add("delivery-timeout", "time limit of one delivery request", s, g)
	s, g = num(func(c *relay.Config) *int { return &c.Delivery.CircuitThreshold })
	l.add("circuit-threshold", "consecutive failures that pause deliveries to a subscriber", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.Delivery.CircuitBase })
	l.add("circuit-pause", "first pause after the circuit opens (doubles while its probes fail)", s, g)
	s, g = str(func(c *relay.Config, _ *Log) *string { return &c.SigningBackend })
	l.add("signing-backend", "what signs with the RSA key: openssl (the system's libcrypto, about 3x faster) or go; empty picks the fastest this binary has", s, g)
	s, g = num(func(c *relay.Config) *int { return &c.Delivery.MaxInFlight })
	l.add("max-in-flight", "deliveries held in memory at once, in all", s, g)
	s, g = dur(func(c *relay.Config) *time.Duration { return &c.Delivery.Lease })
	l.add("delivery-lease", "how long claimed deliveries stay reserved for this process; after a crash they are retried when it ends", s, g)
}

// Load parses the serve command's settings from args and getenv. The help
// (-h, --help) goes to out, and Load then returns flag.ErrHelp; a bad
// flag is returned, for the caller to report once.
func Load(args []string, getenv func(string) string, out io.Writer) (relay.Config, Log, error) {
	cfg, lg := relay.Defaults(), Log{Format: "text", Level: "info"}
	if err := checkRemoved(args, getenv); err != nil {
		return cfg, lg, err
	}
	ss := all()
	fs := flag.NewFlagSet("runrig serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // printHelp writes the help; errors are returned
	fs.Usage = func() {}
	configPath := fs.String("config", getenv("RUNRIG_CONFIG"), "TOML config file (env RUNRIG_CONFIG)")
	var fromFlags [][2]string
	for _, st := range ss {
		st := st
		if st.bool {
			fs.BoolFunc(st.name, st.doc, func(v string) error {
				fromFlags = append(fromFlags, [2]string{st.name, v})
				return st.set(&relay.Config{}, &Log{}, v)
			})
			continue
		}
		fs.Func(st.name, st.doc, func(v string) error {
			fromFlags = append(fromFlags, [2]string{st.name, v})
			return st.set(&relay.Config{}, &Log{}, v)
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(out, ss, cfg, lg) // flags set scratch configs: cfg still holds the defaults
		}
		return cfg, lg, err
	}
	if fs.NArg() > 0 {
		return cfg, lg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *configPath != "" {
		if err := loadFile(*configPath, ss, &cfg, &lg); err != nil {
			return cfg, lg, err
		}
	}
	for _, st := range ss {
		if v := getenv(envName(st.name)); v != "" {
			if err := st.set(&cfg, &lg, v); err != nil {
				return cfg, lg, fmt.Errorf("%s: %w", envName(st.name), err)
			}
		}
	}
	byName := map[string]setting{}
	for _, st := range ss {
		byName[st.name] = st
	}
	for _, kv := range fromFlags {
		if err := byName[kv[0]].set(&cfg, &lg, kv[1]); err != nil {
			return cfg, lg, fmt.Errorf("--%s: %w", kv[0], err)
		}
	}
	cfg.PublicURL = publicURLOf(cfg, relay.Defaults())
	return cfg, lg, nil
}

// printHelp writes serve's help: every setting as --name TYPE, what it
// does, its variable and its default (shown only when there is one).
func printHelp(w io.Writer, ss []setting, cfg relay.Config, lg Log) {
	fmt.Fprint(w, "Usage: runrig serve [--SETTING VALUE ...]\n\n"+
		"Every setting is also an environment variable (shown) and a key of the --config file\n"+
		"(the name with _ for -); flags win over variables, variables over the file.\n\n"+
		"  --config FILE\n        TOML config file (env RUNRIG_CONFIG)\n")
	for _, st := range ss {
		def := st.get(&cfg, &lg)
		head := "  --" + st.name
		if !st.bool {
			head += " " + kindOf(def)
		}
		tail := fmt.Sprintf("(env %s)", envName(st.name))
		if def != "" {
			tail = fmt.Sprintf("(env %s, default %s)", envName(st.name), def)
		}
		fmt.Fprintf(w, "%s\n        %s %s\n", head, st.doc, tail)
	}
}

// kindOf names the type of a setting's value from its default.
func kindOf(def string) string {
	if _, err := strconv.ParseFloat(def, 64); err == nil {
		return "NUMBER"
	}
	if _, err := time.ParseDuration(def); err == nil {
		return "DURATION"
	}
	return "TEXT"
}

// publicURLOf is the configured public URL or, when it was left at its
// default and the listen address was not, the listen address's: a relay
// moved to another port must not send peers to the default one. An
// address on every interface (":8081", "0.0.0.0:8081") is offered on
// loopback.
func publicURLOf(cfg, d relay.Config) string {
	if cfg.PublicURL != d.PublicURL || cfg.Listen == d.Listen {
		return cfg.PublicURL
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return cfg.PublicURL
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// removed are settings of earlier versions, by file key, with what to use
// instead: a configuration that still names one fails with this hint
// rather than losing it quietly.
var removed = map[string]string{
	"region": `use "regions" (codes separated by ";", each optionally CODE=minLat,minLon,maxLat,maxLon)`,
}

// checkRemoved refuses removed settings given as flags or environment
// variables (an unknown environment variable is otherwise ignored).
func checkRemoved(args []string, getenv func(string) string) error {
	for key, hint := range removed {
		name := strings.ReplaceAll(key, "_", "-")
		if getenv(envName(name)) != "" {
			return fmt.Errorf("%s was removed: %s", envName(name), hint)
		}
		for _, a := range args {
			if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") || a == "-"+name || strings.HasPrefix(a, "-"+name+"=") {
				return fmt.Errorf("--%s was removed: %s", name, hint)
			}
		}
	}
	return nil
}

func loadFile(path string, ss []setting, cfg *relay.Config, lg *Log) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	if len(b) > 1<<20 {
		return fmt.Errorf("config file %s: larger than 1 MiB", path)
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	byKey := map[string]setting{}
	for _, st := range ss {
		byKey[fileKey(st.name)] = st
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		st, ok := byKey[k]
		if hint, gone := removed[k]; gone {
			return fmt.Errorf("config file %s: key %q was removed: %s", path, k, hint)
		}
		if !ok {
			return fmt.Errorf("config file %s: unknown key %q", path, k)
		}
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		case bool:
			v = strconv.FormatBool(x)
		case int64:
			v = strconv.FormatInt(x, 10)
		case float64:
			v = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			return fmt.Errorf("config file %s: %s: unsupported value %v", path, k, x)
		}
		if err := st.set(cfg, lg, v); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, k, err)
		}
	}
	return nil
}

// commaList reads a comma-separated list into the field at ptr, checking
// each element with check (when set).
func commaList(ptr func(*relay.Config) *[]string, check func(string) error) (func(*relay.Config, *Log, string) error, func(*relay.Config, *Log) string) {
	return func(c *relay.Config, _ *Log, v string) error {
			var out []string
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a == "" {
					continue
				}
				if check != nil {
					if err := check(a); err != nil {
						return err
					}
				}
				out = append(out, a)
			}
			*ptr(c) = out
			return nil
		}, func(c *relay.Config, _ *Log) string {
			return strings.Join(*ptr(c), ",")
		}
}

// checkMultiaddr checks a libp2p multiaddr, and that it names a peer when
// withPeer is set.
func checkMultiaddr(withPeer bool) func(string) error {
	return func(s string) error {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("%q is not a multiaddr: %w", s, err)
		}
		if withPeer {
			if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
				return fmt.Errorf("%q must end in /p2p/PEER-ID", s)
			}
		}
		return nil
	}
}
