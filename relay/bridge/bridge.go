// Package bridge publishes Data Food Consortium catalogs as listings. Each
// bridge reads one catalog (an Open Food Network enterprise's, a Food Data
// Collaboration shop's, a LiteFarm farm's) on a schedule, maps its catalog
// items to FEP-0837 Proposals with package dfc, checks each with the
// relay's listing rules and publishes what changed, as an actor of its own
// with its own keys: a Create for a new item, an Update for a changed one,
// a Delete for one that vanished or sold out, nothing for one unchanged.
package bridge

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/proof"
	"github.com/runrig/runrig/relay/rsasign"
	"github.com/runrig/runrig/relay/store"
)

// Defaults and bounds of a bridge's settings.
const (
	// DefaultEvery is how often a catalog is read unless told.
	DefaultEvery = 15 * time.Minute
	// MinEvery is the shortest interval allowed: catalog servers are
	// other people's.
	MinEvery = time.Minute
	// MaxBridges bounds how many bridges one relay runs.
	MaxBridges = 500
	// maxProblems bounds the refused items a bridge's status keeps.
	maxProblems = 50
)

// Errors of the bridge service, matched with errors.Is.
var (
	// ErrInvalid: a setting is not acceptable; the message says which.
	ErrInvalid = errors.New("invalid bridge")
	// ErrNotFound: no such bridge.
	ErrNotFound = store.ErrNotFound
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Store is what bridges keep.
type Store = store.Bridges

// Index is the relay's listing index, where bridges find what they
// published before.
type Index interface {
	Listing(ctx context.Context, id string) (store.ListingRecord, error)
}

// Publisher queues a bridge's activity for the relay's subscribers
// (fan-out's Publish).
type Publisher interface {
	Publish(ctx context.Context, p Publication) error
}

// Publication is an activity of a bridge's actor, delivered as it is.
type Publication struct {
	// Body is the activity; ID its id; KeyID the key it is signed with.
	Body      []byte
	ID, KeyID string
	// Listing is the listing a Create or Update puts in the index;
	// Previous the version it replaces or a Delete removes.
	Listing, Previous *store.ListingRecord
	// Delete removes Previous from the index.
	Delete bool
	// Change is what else commits with the deliveries: the bridge's item.
	Change store.Change
}

// Checker checks a listing with the relay's rules and makes its index
// record (fan-out's Listings).
type Checker interface {
	Check(doc []byte, activityID, peer string, now time.Time) (*store.ListingRecord, error)
}

// Config configures the [Service]. Zero fields take the defaults given.
type Config struct {
	// PublicURL is the relay's base URL; Host its authority.
	PublicURL, Host string
	// Context is the @context of the listings bridges publish.
	Context []string
	// SurplusIRI classifies surplus.
	SurplusIRI string
	// Lifetime is how long a bridge's offer runs before it must be
	// renewed, and SurplusLifetime a surplus listing; a sync renews a
	// listing in the last half of its life. Defaults 30 days and 3 days;
	// they must fit within the listing horizons.
	Lifetime, SurplusLifetime time.Duration
	// Egress decides which addresses catalogs may be read from.
	Egress policy.Egress
	// UserAgent is sent with every catalog request.
	UserAgent string
	// Timeout bounds one catalog read, connection to last byte. Default 30 s.
	Timeout time.Duration
	// MaxBytes bounds a catalog. Default dfc.MaxCatalogBytes (8 MiB).
	MaxBytes int64
	// Permit reports whether a host may be contacted (moderation).
	Permit func(peer string) bool
	// SigningBackend is what signs with bridges' RSA keys ("" chooses).
	SigningBackend string
	// Event counts what a sync did, by outcome: "created", "updated",
	// "deleted", "renewed", "unchanged", "skipped", "sold_out"; Sync a
	// sync by result: "ok", "not_modified", "failed".
	Event, Sync func(label string)

	Store     Store
	Index     Index
	Publisher Publisher
	Listings  Checker
	Log       *slog.Logger
}

// Service runs the relay's bridges. It is safe for concurrent use.
type Service struct {
	cfg    Config
	client *http.Client

	// mu guards the following fields.
	mu sync.Mutex
	// signers are the bridges' signers, by actor IRI.
	signers map[string]*httpsig.Signer
	// syncing holds the bridges being synced now: one sync per bridge
	// at a time.
	syncing map[string]bool
	// withdrawals holds, by bridge, the hash of a catalog that would
	// withdraw most of its listings, awaiting a second read.
	withdrawals map[string]string
}

// New returns the bridge service; [Service.Load] readies its signers.
func New(cfg Config) *Service {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 30 * 24 * time.Hour
	}
	if cfg.SurplusLifetime <= 0 {
		cfg.SurplusLifetime = 3 * 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = maxCatalogBytes
	}
	if cfg.Event == nil {
		cfg.Event = func(string) {}
	}
	if cfg.Sync == nil {
		cfg.Sync = func(string) {}
	}
	if cfg.Permit == nil {
		cfg.Permit = func(string) bool { return true }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, client: newClient(cfg), signers: map[string]*httpsig.Signer{}, syncing: map[string]bool{},
		withdrawals: map[string]string{}}
}

// ActorID is the IRI of a bridge's actor.
func (s *Service) ActorID(name string) string { return s.cfg.PublicURL + "/actors/bridge-" + name }

// KeyID is the id of a bridge's RSA key.
func (s *Service) KeyID(name string) string { return s.ActorID(name) + "#main-key" }

// NameOf maps a bridge actor's IRI, or a key id of it, to the bridge's name.
func (s *Service) NameOf(iri string) (string, bool) {
	iri, _, _ = strings.Cut(iri, "#")
	name, ok := strings.CutPrefix(iri, s.cfg.PublicURL+"/actors/bridge-")
	return name, ok && nameRE.MatchString(name)
}

// Load readies the signers of every bridge, retired ones included (their
// Deletes may still be queued).
func (s *Service) Load(ctx context.Context) error {
	bs, err := s.cfg.Store.Bridges(ctx)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if _, err := s.signer(b); err != nil {
			return fmt.Errorf("bridge %s: %w", b.Name, err)
		}
	}
	return nil
}

// Signer finds the signer of a bridge's key id (httpsig.KeyRing); ours
// reports whether the key id is a bridge's at all, so that one without a
// signer fails rather than being signed with another key.
func (s *Service) Signer(keyID string) (sg *httpsig.Signer, ours bool) {
	if _, ours = s.NameOf(keyID); !ours {
		return nil, false
	}
	actor, _, _ := strings.Cut(keyID, "#")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signers[actor], true
}

// signer returns b's signer, making it once.
func (s *Service) signer(b store.Bridge) (*httpsig.Signer, error) {
	actor := s.ActorID(b.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sg := s.signers[actor]; sg != nil {
		return sg, nil
	}
	key, err := parseRSA(b.KeyPEM)
	if err != nil {
		return nil, err
	}
	if len(b.Ed25519Seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("bridge %s: the Ed25519 seed is %d bytes", b.Name, len(b.Ed25519Seed))
	}
	rk, err := rsasign.New(key, s.cfg.SigningBackend)
	if err != nil {
		return nil, err
	}
	sg := &httpsig.Signer{KeyID: actor + "#main-key", Key: key, RSA: rk, Ed25519: ed25519.NewKeyFromSeed(b.Ed25519Seed)}
	s.signers[actor] = sg
	return sg, nil
}

func parseRSA(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// newKeys makes a bridge's RSA and Ed25519 keys.
func newKeys() (keyPEM string, seed []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	seed = make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", nil, err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), seed, nil
}

// Actor is what a bridge's actor document says.
type Actor struct {
	Name string
	// ID is the actor's IRI; DisplayName the enterprise's name (the
	// bridge's name until a catalog names it).
	ID, DisplayName string
	// Catalog is the catalog's URL, without credentials.
	Catalog string
	// PublicKeyPEM is its RSA key; Multikey its Ed25519 key, multibase.
	PublicKeyPEM, Multikey string
	Retired                bool
}

// Actor returns a bridge's actor; ErrNotFound when there is none.
func (s *Service) Actor(ctx context.Context, name string) (Actor, error) {
	if !nameRE.MatchString(name) {
		return Actor{}, fmt.Errorf("bridge %s: %w", trunc(name), ErrNotFound)
	}
	b, err := s.cfg.Store.Bridge(ctx, name)
	if err != nil {
		return Actor{}, err
	}
	sg, err := s.signer(b)
	if err != nil {
		return Actor{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&sg.Key.PublicKey)
	if err != nil {
		return Actor{}, err
	}
	display := b.ActorName
	if display == "" {
		display = b.Name
	}
	return Actor{Name: b.Name, ID: s.ActorID(b.Name), DisplayName: display, Catalog: publicURL(b.CatalogURL),
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		Multikey:     proof.EncodeMultikey(sg.Ed25519.Public().(ed25519.PublicKey)), Retired: !b.Retired.IsZero()}, nil
}

// publicURL is a catalog's URL as it may be shown to anyone: without its
// query and fragment, where a careless platform might put a token.
func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
