package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/store"
)

// Errors of a sync, matched with errors.Is.
var (
	// ErrBusy: the bridge is being synced already.
	ErrBusy = errors.New("a sync of this bridge is running")
)

// Bounds of one sync.
const (
	// maxItems bounds the catalog items one bridge lists; the rest are
	// reported as skipped.
	maxItems = 5000
	// maxChanges bounds the listings one sync creates, updates, renews
	// or withdraws; the rest wait for the next sync.
	maxChanges = 1000
)

// Report is what one sync did.
type Report struct {
	// NotModified: the catalog server said nothing changed.
	NotModified bool
	// Created, Updated, Renewed, Deleted, Unchanged count catalog items
	// by what was published for them; SoldOut those not offered for want
	// of stock; Skipped those refused, with Problems saying why.
	Created, Updated, Renewed, Deleted, Unchanged, SoldOut, Skipped int
	Problems                                                        []dfc.Problem
	// Held counts withdrawals held back until a second read agrees (more
	// than half of the bridge's listings would go at once); Deferred the
	// changes left for the next sync (more than maxChanges).
	Held, Deferred int
}

// Sync reads a bridge's catalog now and publishes what changed. A catalog
// that cannot be read or understood changes nothing: its listings stay.
func (s *Service) Sync(ctx context.Context, name string) (Report, error) {
	return s.SyncProgress(ctx, name, nil)
}

// Progress hears how far a sync is: done of total items of a step
// ("reading", "publishing", "withdrawing"); total is 0 while unknown.
type Progress func(step string, done, total int)

func (p Progress) report(step string, done, total int) {
	if p != nil {
		p(step, done, total)
	}
}

// SyncProgress is Sync telling progress (when not nil) how far it is.
func (s *Service) SyncProgress(ctx context.Context, name string, progress Progress) (Report, error) {
	s.mu.Lock()
	if s.syncing[name] {
		s.mu.Unlock()
		return Report{}, fmt.Errorf("bridge %s: %w", name, ErrBusy)
	}
	s.syncing[name] = true
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.syncing, name); s.mu.Unlock() }()

	b, err := s.cfg.Store.Bridge(ctx, name)
	if err != nil {
		return Report{}, err
	}
	if !b.Retired.IsZero() {
		return Report{}, fmt.Errorf("bridge %s is removed: %w", name, ErrNotFound)
	}
	rep, st, err := s.sync(ctx, b, progress)
	st.LastAttempt = time.Now()
	if err != nil {
		st = b.BridgeSync
		st.LastAttempt, st.LastError = time.Now(), shortError(err)
		s.cfg.Sync("failed")
		s.cfg.Log.Warn("bridge sync failed", "bridge", name, "catalog", publicURL(b.CatalogURL), "err", err)
	} else if rep.NotModified {
		s.cfg.Sync("not_modified")
	} else {
		s.cfg.Sync("ok")
	}
	if serr := s.cfg.Store.SaveBridgeSync(ctx, name, st); serr != nil && err == nil {
		err = serr
	}
	if err == nil {
		s.logNewProblems(name, b.Problems, rep.Problems)
	}
	if err == nil && rep.Created+rep.Updated+rep.Renewed+rep.Deleted > 0 {
		s.cfg.Log.Info("bridge synced", "bridge", name, "created", rep.Created, "updated", rep.Updated,
			"deleted", rep.Deleted, "skipped", rep.Skipped, "unchanged", rep.Unchanged)
	}
	return rep, err
}

// maxLoggedProblems bounds the skipped items one sync logs.
const maxLoggedProblems = 20

// logNewProblems logs each skipped item once: those the last good sync
// did not skip already.
func (s *Service) logNewProblems(name string, before []byte, now []dfc.Problem) {
	var old []dfc.Problem
	json.Unmarshal(before, &old)
	known := make(map[string]bool, len(old))
	for _, p := range old {
		known[p.Item+"\x00"+p.Reason] = true
	}
	logged := 0
	for _, p := range now {
		if known[p.Item+"\x00"+p.Reason] {
			continue
		}
		if logged++; logged > maxLoggedProblems {
			s.cfg.Log.Warn("bridge skipped more items", "bridge", name, "not_logged", len(now)-maxLoggedProblems)
			return
		}
		s.cfg.Log.Warn("bridge skipped a catalog item", "bridge", name, "item", p.Item, "field", p.Field, "reason", p.Reason,
			"problem", p.Message)
	}
}

// sync reads the catalog and publishes the differences.
func (s *Service) sync(ctx context.Context, b store.Bridge, progress Progress) (Report, store.BridgeSync, error) {
	st := b.BridgeSync
	items, err := s.cfg.Store.BridgeItems(ctx, b.Name)
	if err != nil {
		return Report{}, st, err
	}
	listed := make(map[string]store.BridgeItem, len(items))
	now := time.Now()
	renewDue := false
	for _, it := range items {
		listed[it.Item] = it
		renewDue = renewDue || s.renewDue(b, it, now)
	}
	etag, lastMod := st.ETag, st.LastModified
	if renewDue { // listings to renew need the items: read the catalog whole
		etag, lastMod = "", ""
	}
	progress.report("reading the catalog", 0, 0)
	f, err := s.read(ctx, b.CatalogURL, b.Auth, b.Token, etag, lastMod)
	if errors.Is(err, ErrRefusedHost) {
		// The rules now block the catalog's host: what came from it goes.
		rep, werr := s.withdrawAll(ctx, b, items, now)
		return rep, st, errors.Join(err, werr)
	}
	if err != nil {
		return Report{}, st, err
	}
	if f.notModified {
		st.LastSuccess, st.LastError = now, ""
		return Report{NotModified: true, Unchanged: len(items)}, st, nil
	}
	cat, err := dfc.Read(f.body)
	if err != nil {
		return Report{}, st, err
	}
	p, err := s.newPublication(b, cat)
	if err != nil {
		return Report{}, st, err
	}
	if p.actorName == "" {
		p.actorName = s.enterpriseName(ctx, b, cat, st.ActorName)
	}
	p.hold, p.progress = s.holdWithdrawals(b.Name, cat, listed), progress
	rep, err := p.apply(ctx, s, listed, now)
	st.ActorName = p.actorName
	if err != nil {
		return rep, st, err
	}
	if rep.Held+rep.Deferred == 0 {
		// All done: the next read may be conditional. Work left (held or
		// deferred) needs the catalog whole again.
		st.ETag, st.LastModified = f.etag, f.lastModified
	}
	st.LastSuccess, st.LastError = now, ""
	st.Listed = rep.Created + rep.Updated + rep.Renewed + rep.Unchanged + rep.Held
	st.SoldOut, st.Skipped, st.Held = rep.SoldOut, rep.Skipped, rep.Held
	st.Problems, _ = json.Marshal(rep.Problems[:min(len(rep.Problems), maxProblems)])
	return rep, st, nil
}

// holdWithdrawals reports whether this sync must hold back its
// withdrawals: more than half of the bridge's listings (and more than two)
// would go at once, and the read before did not name the same ones. One
// bad answer of a shop's server withdraws nothing; everything else it
// says is published.
func (s *Service) holdWithdrawals(name string, cat *dfc.Catalog, listed map[string]store.BridgeItem) bool {
	offered := make(map[string]bool, len(cat.Items))
	for _, it := range cat.Items {
		offered[it.ID] = true
	}
	var gone []string
	for id := range listed {
		if !offered[id] {
			gone = append(gone, id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(gone) <= max(2, len(listed)/2) {
		delete(s.withdrawals, name)
		return false
	}
	sort.Strings(gone)
	sum := sha256.Sum256([]byte(strings.Join(gone, "\n")))
	key := hex.EncodeToString(sum[:])
	if s.withdrawals[name] == key {
		delete(s.withdrawals, name)
		return false
	}
	s.withdrawals[name] = key
	return true
}

// renewDue reports whether a listing is in the last half of its life.
func (s *Service) renewDue(b store.Bridge, it store.BridgeItem, now time.Time) bool {
	return it.End.Sub(now) < s.lifetime(b)/2
}

func (s *Service) lifetime(b store.Bridge) time.Duration {
	if b.Kind == kindSurplus {
		return s.cfg.SurplusLifetime
	}
	return s.cfg.Lifetime
}

// enterpriseName reads the name of the enterprise that manages a
// catalog's items when the catalog names it without describing it (as
// OFN's catalog_items do): from its IRI, on the catalog's own host, with
// the bridge's credentials. It keeps the name known before on failure.
func (s *Service) enterpriseName(ctx context.Context, b store.Bridge, cat *dfc.Catalog, known string) string {
	counts, best := map[string]int{}, ""
	for _, it := range cat.Items {
		if counts[it.Enterprise]++; it.Enterprise != "" && counts[it.Enterprise] > counts[best] {
			best = it.Enterprise
		}
	}
	if best == "" || !policy.SameHost(best, b.CatalogURL) {
		return known
	}
	f, err := s.read(ctx, best, b.Auth, b.Token, "", "")
	if err == nil {
		var e dfc.Enterprise
		if e, err = dfc.ReadEnterprise(f.body, best); err == nil && e.Name != "" {
			return e.Name
		}
	}
	s.cfg.Log.Info("the enterprise's name could not be read", "bridge", b.Name, "enterprise", publicURL(best), "err", err)
	return known
}

// SyncDue syncs every bridge whose interval has passed, one at a time.
func (s *Service) SyncDue(ctx context.Context) error {
	bs, err := s.cfg.Store.Bridges(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, b := range bs {
		if !b.Retired.IsZero() || now.Sub(b.LastAttempt) < b.Every {
			continue
		}
		if _, err := s.Sync(ctx, b.Name); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func shortError(err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}
