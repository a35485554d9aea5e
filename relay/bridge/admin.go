package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/store"
)

// How a catalog server is asked for the catalog.
const (
	// AuthAPIToken sends the token in an X-Api-Token header, as Open Food
	// Network's DFC API takes it.
	AuthAPIToken = "api-token"
	// AuthBearer sends it as an OIDC bearer token.
	AuthBearer = "bearer"
)

// maxToken bounds a catalog token.
const maxToken = 4096

var regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Settings are what an operator gives a new bridge.
type Settings struct {
	// Name names the bridge and its actor (bridge-NAME): lower-case
	// letters, digits and dashes.
	Name string
	// Catalog is the catalog's URL, e.g. an OFN enterprise's
	// /api/dfc/enterprises/ID/catalog_items.
	Catalog string
	// Auth is "", AuthAPIToken or AuthBearer; Token the secret.
	Auth, Token string
	// Every is how often the catalog is read. Default DefaultEvery, at
	// least MinEvery.
	Every time.Duration
	// Region is the region code the listings are for ("" for none).
	Region string
	// Kind is "offer" (default) or "surplus".
	Kind string
}

// validate checks and normalises settings.
func (s *Service) validate(set *Settings) error {
	set.Name = strings.ToLower(strings.TrimSpace(set.Name))
	set.Region = strings.ToLower(strings.TrimSpace(set.Region))
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if !nameRE.MatchString(set.Name) {
		return bad("name %q: use 1 to 40 lower-case letters, digits and dashes", trunc(set.Name))
	}
	u, err := url.Parse(set.Catalog)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return bad("catalog %q is not an http(s) URL", trunc(set.Catalog))
	}
	if u.Scheme == "http" && !s.cfg.Egress.AllowPrivate {
		return bad("catalog %q: use https (plain http is only for local networks with --allow-private-networks)", trunc(set.Catalog))
	}
	if u.User != nil {
		return bad("catalog URL carries credentials: give the token with --api-token-file or --bearer-token-file")
	}
	switch set.Auth {
	case "":
		set.Token = ""
	case AuthAPIToken, AuthBearer:
		set.Token = strings.TrimSpace(set.Token)
		if set.Token == "" || len(set.Token) > maxToken || strings.ContainsAny(set.Token, "\r\n\x00") {
			return bad("the token must be one line of 1 to %d characters", maxToken)
		}
	default:
		return bad("auth %q: use %s or %s", trunc(set.Auth), AuthAPIToken, AuthBearer)
	}
	switch {
	case set.Every == 0:
		set.Every = DefaultEvery
	case set.Every < MinEvery:
		return bad("every %s: at least %s", set.Every, MinEvery)
	}
	if set.Region != "" && !regionRE.MatchString(set.Region) {
		return bad("region %q: a code of letters, digits and dashes", trunc(set.Region))
	}
	switch set.Kind {
	case "":
		set.Kind = kindOffer
	case kindOffer, kindSurplus:
	default:
		return bad("kind %q: offer or surplus (a catalog offers; requests are not catalogs)", trunc(set.Kind))
	}
	return nil
}

// Add creates a bridge with fresh keys (or brings a removed one back with
// its old keys), audited; its first sync runs at the next scheduler tick
// or with Sync.
func (s *Service) Add(ctx context.Context, op policy.Operator, set Settings) (Status, error) {
	if err := s.validate(&set); err != nil {
		return Status{}, err
	}
	bs, err := s.cfg.Store.Bridges(ctx)
	if err != nil {
		return Status{}, err
	}
	if len(bs) >= MaxBridges {
		return Status{}, fmt.Errorf("%w: this relay runs %d bridges, the most it may", ErrInvalid, MaxBridges)
	}
	keyPEM, seed, err := newKeys()
	if err != nil {
		return Status{}, err
	}
	b := store.Bridge{Name: set.Name, CatalogURL: set.Catalog, Auth: set.Auth, Token: set.Token, Every: set.Every,
		Region: set.Region, Kind: set.Kind, KeyPEM: keyPEM, Ed25519Seed: seed, Created: time.Now()}
	details, _ := json.Marshal(map[string]any{"catalog": publicURL(set.Catalog), "auth": set.Auth, "every": set.Every.String(),
		"region": set.Region, "kind": set.Kind})
	if err := s.cfg.Store.CreateBridge(ctx, b, store.AuditEntry{Who: op.Who, What: "bridge.add", Subject: set.Name,
		Why: op.Why, Source: "manual", Details: details}); err != nil {
		return Status{}, err
	}
	if b, err = s.cfg.Store.Bridge(ctx, set.Name); err != nil {
		return Status{}, err
	}
	if _, err := s.signer(b); err != nil {
		return Status{}, err
	}
	s.cfg.Log.Info("bridge added", "bridge", set.Name, "catalog", publicURL(set.Catalog), "by", op.Who)
	return s.status(b), nil
}

// Remove stops a bridge and withdraws its listings: a Delete of each is
// delivered, signed by the bridge's actor, which stays to answer for them.
// It returns how many were withdrawn.
func (s *Service) Remove(ctx context.Context, op policy.Operator, name string) (int, error) {
	err := s.cfg.Store.RetireBridge(ctx, name, store.AuditEntry{Who: op.Who, What: "bridge.remove", Subject: name,
		Why: op.Why, Source: "manual"})
	b, gerr := s.cfg.Store.Bridge(ctx, name)
	switch {
	case gerr != nil:
		return 0, gerr
	case err != nil && (!errors.Is(err, store.ErrNotFound) || b.Retired.IsZero()):
		return 0, err
	}
	// Removed already (perhaps by a removal that stopped half-way): what
	// is left of its listings is withdrawn now.
	items, err := s.cfg.Store.BridgeItems(ctx, name)
	if err != nil {
		return 0, err
	}
	rep, err := s.withdrawAll(ctx, b, items, time.Now())
	if err != nil {
		return rep.Deleted, err
	}
	s.cfg.Log.Info("bridge removed", "bridge", name, "withdrawn", rep.Deleted, "by", op.Who)
	return rep.Deleted, nil
}

// Status is how a bridge stands.
type Status struct {
	Name, Actor, DisplayName string
	Catalog, Auth            string
	Every                    time.Duration
	Region, Kind             string
	Created                  time.Time
	Retired                  bool
	store.BridgeSync
	// Problems are the refused items of the last good sync.
	Problems []dfc.Problem
	// NextSync is when the scheduler reads the catalog next.
	NextSync time.Time
}

func (s *Service) status(b store.Bridge) Status {
	st := Status{Name: b.Name, Actor: s.ActorID(b.Name), DisplayName: b.ActorName, Catalog: b.CatalogURL, Auth: b.Auth,
		Every: b.Every, Region: b.Region, Kind: b.Kind, Created: b.Created, Retired: !b.Retired.IsZero(),
		BridgeSync: b.BridgeSync}
	json.Unmarshal(b.Problems, &st.Problems)
	st.BridgeSync.Problems = nil
	if !st.Retired {
		st.NextSync = b.LastAttempt.Add(b.Every)
	}
	return st
}

// List returns every bridge's status.
func (s *Service) List(ctx context.Context) ([]Status, error) {
	bs, err := s.cfg.Store.Bridges(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(bs))
	for _, b := range bs {
		out = append(out, s.status(b))
	}
	return out, nil
}

// Get returns one bridge's status.
func (s *Service) Get(ctx context.Context, name string) (Status, error) {
	b, err := s.cfg.Store.Bridge(ctx, name)
	return s.status(b), err
}
