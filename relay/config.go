// Package relay is a federation relay: fediverse and FMP servers subscribe
// to it with the Mastodon or LitePub relay handshake, and every public
// activity one subscriber sends it is delivered, signed, to all the others.
//
// The root package only wires services together: the verified inbox
// (relay/inbox) checks what peers send; processing (relay/subscription,
// relay/fanout, relay/federation) decides what it means; the durable queue
// (relay/store) holds the resulting work; the dispatcher (relay/delivery)
// sends it; relay/web and relay/adminapi serve peers' and operators' reads.
package relay

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/delivery"
	"github.com/runrig/runrig/relay/replica"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/trust"
)

// Approval is how new subscriptions are handled.
type Approval string

// Approval modes.
const (
	// ApproveAuto accepts every subscription that passes verification.
	ApproveAuto Approval = "auto"
	// ApproveManual holds subscriptions as pending until an operator
	// approves them with `runrig admin approve`.
	ApproveManual Approval = "manual"
)

// Config configures a [Server].
type Config struct {
	// Listen is the TCP address the public HTTP server listens on.
	// Default "127.0.0.1:8080".
	Listen string
	// PublicURL is the scheme and authority peers reach the relay at, e.g.
	// "https://relay.example". Every IRI the relay publishes is under it.
	// Default "http://127.0.0.1:8080".
	PublicURL string
	// Name is the relay's name on its front page and actor. Default
	// "Runrig relay".
	Name string
	// Description, when set, is a paragraph about this relay on its front
	// page (who runs it, for which region).
	Description string
	// Contact, when set, is how to reach the operator (an e-mail address
	// or a fediverse account), shown on the front page and in NodeInfo.
	Contact string
	// DataDir holds the store, the admin socket and its token. Default
	// "./data".
	DataDir string
	// Database, when set, is a PostgreSQL URL (postgres://user@host/db)
	// holding the store instead of SQLite in DataDir; relay processes
	// with the same Database and PublicURL are replicas of one relay.
	// Default "" (SQLite).
	Database string
	// AllowPrivateNetworks lets fetches and deliveries reach loopback and
	// private addresses. Off by default; tests and local demos need it.
	AllowPrivateNetworks bool
	// TrustedProxies are the reverse proxies (addresses or CIDR prefixes)
	// whose X-Forwarded-For names the client, for the per-address limits:
	// the inbox's unfinished bodies and key fetches, and the console's
	// sign-ins. Loopback is always trusted. Default none.
	TrustedProxies []netip.Prefix
	// Approval decides whether subscriptions need an operator's approval.
	// Default auto.
	Approval Approval

	// MaxBody bounds an inbox request body in bytes. Default 1 MiB.
	MaxBody int64
	// SignatureWindow bounds how old (Past) or how far ahead (Future) a
	// signed request's Date may be. Default 13h past, 1h future.
	SignaturePast, SignatureFuture time.Duration
	// KeyRefetch is the shortest interval between two fetches of one
	// peer key, bounding the fetches bad signatures can cause; a signature
	// that fails with a cached key refetches it once (rotation). Default 1m.
	KeyRefetch time.Duration
	// SigningBackend signs with the RSA key: "openssl" (the system's
	// libcrypto, about three times faster; needs a cgo build), "go"
	// (crypto/rsa) or "" for the fastest this binary has. Default "".
	SigningBackend string
	// SeenRetention is how long activity ids are remembered to drop
	// replays. Default 7 days (longer than the signature window).
	SeenRetention time.Duration
	// ShutdownTimeout bounds a graceful shutdown. Default 20s.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long, on shutdown, the relay keeps serving
	// with /readyz answering 503 before it stops accepting requests, so
	// that load balancers take it out of rotation first. Default 0.
	ShutdownDelay time.Duration

	// FederationMode is blocklist (federate with everyone not blocked,
	// the default) or allowlist (only with allowed peers).
	FederationMode policy.Mode

	// InboundRate is the sustained rate of activities per second a peer of
	// normal trust may send; trusted peers get 5×, limited 0.2×, untrusted
	// 0.05×. Default 20.
	InboundRate float64
	// InboundBurst is how many activities a normal peer may send at once,
	// scaled the same way. Default 1000.
	InboundBurst float64

	// Gossip joins a regional memberlist cluster when Gossip.Bind is set.
	Gossip GossipConfig
	// DHT joins the wide-area Kademlia DHT when DHT.Listen is set.
	DHT DHTConfig
	// Federation subscribes this relay to the relays it discovers.
	Federation FederationConfig

	// Regions are the regions this relay serves, each with a followable
	// actor; listings are routed to them. Default none.
	Regions []Region

	// ListingHorizon bounds how far ahead an offer or request may end.
	// Default 90 days.
	ListingHorizon time.Duration
	// SurplusHorizon bounds how far ahead surplus may end. Default 7 days.
	SurplusHorizon time.Duration

	// Delivery tunes the dispatcher (retries, concurrency, circuit
	// breaker). Default [delivery.DefaultConfig]; zero fields take it too.
	Delivery delivery.Config

	// Replicas times the replicas sharing a PostgreSQL store (Database).
	Replicas ReplicasConfig
}

// ReplicasConfig times the relay processes sharing one database.
type ReplicasConfig struct {
	// Heartbeat is how often a replica records that it is alive and
	// renews its singleton leases. Default 2s.
	Heartbeat time.Duration
	// DeadAfter is how long a replica may go unseen before the others
	// take its deliveries and singletons; at least three heartbeats.
	// Default 10s.
	DeadAfter time.Duration
	// LeaseTTL is how long a singleton lease lasts unrenewed; more than
	// a heartbeat. Default 15s.
	LeaseTTL time.Duration
}

// Defaults returns the configuration `runrig serve` uses with no settings:
// the one table of the relay's defaults. The help, `runrig config example`
// and [Config] values left at zero all take their defaults from it.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		PublicURL:       "http://127.0.0.1:8080",
		Name:            "Runrig relay",
		DataDir:         "./data",
		Approval:        ApproveAuto,
		MaxBody:         1 << 20,
		SignaturePast:   13 * time.Hour,
		SignatureFuture: time.Hour,
		KeyRefetch:      time.Minute,
		SeenRetention:   7 * 24 * time.Hour,
		ShutdownTimeout: 20 * time.Second,
		FederationMode:  policy.Blocklist,
		// A peer of normal trust may send 20 activities a second for ever
		// and 1,000 at once: a big instance flushing its queue after an
		// outage sends that many in a burst, and every 429 delays its posts
		// by minutes (senders back off). The bucket still bounds a hostile
		// subscriber to 1,000 and then 20/s, after its signature verified.
		InboundRate:    trust.DefaultRate().PerSecond,
		InboundBurst:   trust.DefaultRate().Burst,
		Gossip:         GossipConfig{Profile: "lan"},
		DHT:            DHTConfig{LookupInterval: 10 * time.Minute},
		Federation:     FederationConfig{MaxHops: 3, Interval: time.Minute},
		ListingHorizon: 90 * 24 * time.Hour,
		SurplusHorizon: 7 * 24 * time.Hour,
		Delivery:       delivery.DefaultConfig(),
		Replicas: ReplicasConfig{Heartbeat: replica.DefaultHeartbeat, DeadAfter: replica.DefaultDeadAfter,
			LeaseTTL: replica.DefaultLeaseTTL},
	}
}

// CheckConfig reports the first problem of a configuration that New would
// refuse, naming the setting.
func CheckConfig(c Config) error { return c.validate() }

// validate fills the settings left at zero from [Defaults] and checks the
// rest.
func (c *Config) validate() error {
	d := Defaults()
	switch c.SigningBackend {
	case "", "go", "openssl":
	default:
		return fmt.Errorf("signing-backend: want go or openssl (or empty for the fastest available), got %q", c.SigningBackend)
	}
	fill(&c.MaxBody, d.MaxBody)
	fill(&c.SignaturePast, d.SignaturePast)
	fill(&c.SignatureFuture, d.SignatureFuture)
	fill(&c.KeyRefetch, d.KeyRefetch)
	fill(&c.SeenRetention, d.SeenRetention)
	fill(&c.ShutdownTimeout, d.ShutdownTimeout)
	fill(&c.InboundRate, d.InboundRate)
	fill(&c.InboundBurst, d.InboundBurst)
	fill(&c.Federation.MaxHops, d.Federation.MaxHops)
	fill(&c.Federation.Interval, d.Federation.Interval)
	fill(&c.DHT.LookupInterval, d.DHT.LookupInterval)
	fill(&c.ListingHorizon, d.ListingHorizon)
	fill(&c.SurplusHorizon, d.SurplusHorizon)
	fill(&c.Replicas.Heartbeat, d.Replicas.Heartbeat)
	fill(&c.Replicas.DeadAfter, d.Replicas.DeadAfter)
	fill(&c.Replicas.LeaseTTL, d.Replicas.LeaseTTL)
	if r := c.Replicas; r.DeadAfter < 3*r.Heartbeat || r.LeaseTTL <= r.Heartbeat {
		return fmt.Errorf("replica-dead-after %v: want at least three heartbeats (%v), and singleton leases (%v) longer than one",
			r.DeadAfter, r.Heartbeat, r.LeaseTTL)
	}
	if c.Name == "" {
		c.Name = d.Name
	}
	if c.Gossip.Profile == "" {
		c.Gossip.Profile = d.Gossip.Profile
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay >= c.ShutdownTimeout {
		return fmt.Errorf("shutdown_delay %v: want from 0 to less than the shutdown timeout (%v)", c.ShutdownDelay, c.ShutdownTimeout)
	}
	if c.Approval == "" {
		c.Approval = d.Approval
	}
	if c.FederationMode == "" {
		c.FederationMode = d.FederationMode
	}
	if _, err := policy.ParseMode(string(c.FederationMode)); err != nil {
		return fmt.Errorf("federation_mode: %w", err)
	}
	if c.Approval != ApproveAuto && c.Approval != ApproveManual {
		return fmt.Errorf("approval %q: want auto or manual", c.Approval)
	}
	if c.Gossip.Bind != "" && c.Gossip.Key == "" && !c.Gossip.Insecure {
		return fmt.Errorf("gossip_key: required with gossip_bind, or anyone who reaches the port joins the region's gossip " +
			"(generate one: head -c 32 /dev/urandom | base64); set gossip_insecure = true only where every host is trusted")
	}
	if c.Gossip.Key != "" {
		if k, err := base64.StdEncoding.DecodeString(c.Gossip.Key); err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
			return fmt.Errorf("gossip_key: want base64 of 16, 24 or 32 bytes")
		}
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("public_url %q: want scheme and host only, like https://relay.example", c.PublicURL)
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if c.DataDir == "" {
		return fmt.Errorf("data: the data directory must be set")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return fmt.Errorf("database: want a PostgreSQL URL like postgres://runrig@db.example/runrig, or nothing for SQLite in the data directory")
	}
	return nil
}

// GossipConfig configures the optional regional gossip cluster.
type GossipConfig struct {
	// Bind is the host:port for memberlist's UDP and TCP; empty disables
	// gossip.
	Bind string
	// Join are addresses of cluster members to join.
	Join []string
	// Profile is lan (default), wan or local.
	Profile string
	// Key, when set, is the cluster's AES key, base64 (16, 24 or 32 bytes).
	Key string
	// Label, when set, separates clusters sharing a network.
	Label string
	// Insecure lets gossip run without Key, so that anyone who reaches
	// Bind can join and speak for the region: only on a network where
	// every host is trusted. Default off: gossip needs a key.
	Insecure bool
}

// fill sets *v to def when it is zero or less (unset).
func fill[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// FederationConfig configures relay-to-relay federation.
type FederationConfig struct {
	// Relays makes this relay subscribe automatically to every verified
	// relay in its discovery directory that the moderation rules accept
	// (in allowlist mode: only allowed ones; limited peers are not
	// followed), with the same relay handshake a server uses. Default off.
	Relays bool
	// MaxHops is how many relays an activity may cross: one that has
	// crossed MaxHops relays still reaches this relay's own subscribers
	// but is not passed on to other relays. Default 3.
	MaxHops int
	// Interval is how often the directory is checked for relays to
	// follow. Default one minute.
	Interval time.Duration
}

// Region is a region the operator serves (see slices.Region).
type Region = slices.Region

// ParseRegions parses the regions setting (see slices.ParseRegions).
func ParseRegions(s string) ([]Region, error) { return slices.ParseRegions(s) }

// FormatRegions is the inverse of ParseRegions.
func FormatRegions(rs []Region) string { return slices.FormatRegions(rs) }

// ParseProxies parses the trusted-proxies setting: addresses or CIDR
// prefixes separated by commas.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// FormatProxies is the inverse of ParseProxies.
func FormatProxies(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
