package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/store"
)

// Errors of a sync, matched with errors.Is.
var (
	// ErrBusy: the bridge is being synced already.
	ErrBusy = errors.New("a sync of this bridge is running")
	// ErrMassWithdrawal: the catalog would withdraw most of the bridge's
	// listings at once; that is done only when the next read says the
	// same, so one bad answer of a shop's server withdraws nothing.
	ErrMassWithdrawal = errors.New("the catalog would withdraw most of the bridge's listings")
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
}

// Sync reads a bridge's catalog now and publishes what changed. A catalog
// that cannot be read or understood changes nothing: its listings stay.
func (s *Service) Sync(ctx context.Context, name string) (Report, error) {
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
	rep, st, err := s.sync(ctx, b)
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
func (s *Service) sync(ctx context.Context, b store.Bridge) (Report, store.BridgeSync, error) {
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
	f, err := s.read(ctx, b.CatalogURL, b.Auth, b.Token, etag, lastMod)
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
	if err := s.confirmWithdrawals(b.Name, cat, listed, f.body); err != nil {
		return Report{}, st, err
	}
	rep, err := p.apply(ctx, s, listed, now)
	st.ETag, st.LastModified, st.ActorName = f.etag, f.lastModified, p.actorName
	if err != nil {
		return rep, st, err
	}
	st.LastSuccess, st.LastError = now, ""
	st.Listed = rep.Created + rep.Updated + rep.Renewed + rep.Unchanged
	st.SoldOut, st.Skipped = rep.SoldOut, rep.Skipped
	st.Problems, _ = json.Marshal(rep.Problems[:min(len(rep.Problems), maxProblems)])
	return rep, st, nil
}

// confirmWithdrawals lets a sync withdraw more than half of a bridge's
// listings (and more than two) only when the catalog read before said the
// same, byte for byte.
func (s *Service) confirmWithdrawals(name string, cat *dfc.Catalog, listed map[string]store.BridgeItem, body []byte) error {
	offered := make(map[string]bool, len(cat.Items))
	for _, it := range cat.Items {
		offered[it.ID] = true
	}
	gone := 0
	for id := range listed {
		if !offered[id] {
			gone++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if gone <= max(2, len(listed)/2) {
		delete(s.withdrawals, name)
		return nil
	}
	sum := sha256.Sum256(body)
	if s.withdrawals[name] == hex.EncodeToString(sum[:]) {
		delete(s.withdrawals, name)
		return nil
	}
	s.withdrawals[name] = hex.EncodeToString(sum[:])
	return fmt.Errorf("%w (%d of %d): they are withdrawn if the next read of the catalog says the same", ErrMassWithdrawal,
		gone, len(listed))
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

// publication is one sync's work on a catalog.
type publication struct {
	b         store.Bridge
	cat       *dfc.Catalog
	actorName string
}

func (s *Service) newPublication(b store.Bridge, cat *dfc.Catalog) (*publication, error) {
	p := &publication{b: b, cat: cat}
	// The bridge is named after the enterprise whose items it lists.
	counts := map[string]int{}
	for _, it := range cat.Items {
		counts[it.Enterprise]++
	}
	best := -1
	for _, e := range cat.Enterprises {
		if counts[e.ID] > best && e.Name != "" {
			p.actorName, best = e.Name, counts[e.ID]
		}
	}
	return p, nil
}

// apply publishes a Create, Update or Delete for each item that changed.
func (p *publication) apply(ctx context.Context, s *Service, listed map[string]store.BridgeItem, now time.Time) (Report, error) {
	var rep Report
	// present: in the catalog; refused: in it but not offered (sold out,
	// or refused this time).
	present, refused := map[string]bool{}, map[string]bool{}
	for _, id := range p.cat.SoldOut {
		present[id], refused[id] = true, true
		rep.SoldOut++
		s.cfg.Event("sold_out")
	}
	for _, prob := range p.cat.Problems {
		present[prob.Item], refused[prob.Item] = true, true
		rep.Skipped++
		rep.Problems = append(rep.Problems, prob)
		s.cfg.Event("skipped")
	}
	for _, it := range p.cat.Items {
		present[it.ID] = true
		outcome, prob, err := s.publishItem(ctx, p.b, it, listed, now)
		if err != nil {
			return rep, err
		}
		if prob != nil {
			refused[it.ID] = true
			rep.Skipped++
			rep.Problems = append(rep.Problems, *prob)
		}
		count(&rep, outcome)
		s.cfg.Event(outcome)
	}
	// Withdrawn: vanished from the catalog, sold out, or no longer valid.
	for id, it := range listed {
		if present[id] && !refused[id] {
			continue
		}
		if err := s.withdraw(ctx, p.b, it, now); err != nil {
			return rep, err
		}
		rep.Deleted++
		s.cfg.Event("deleted")
	}
	return rep, nil
}

func count(rep *Report, outcome string) {
	switch outcome {
	case "created":
		rep.Created++
	case "updated":
		rep.Updated++
	case "renewed":
		rep.Renewed++
	case "unchanged":
		rep.Unchanged++
	}
}

// publishItem publishes one mapped item if it is new, changed or due for
// renewal. An item the listing rules refuse is reported, not published.
func (s *Service) publishItem(ctx context.Context, b store.Bridge, it dfc.Item, listed map[string]store.BridgeItem,
	now time.Time) (string, *dfc.Problem, error) {
	hash := itemHash(b, it)
	prev, had := listed[it.ID]
	var previous *store.ListingRecord
	if had {
		old, err := s.cfg.Index.Listing(ctx, prev.ListingID)
		switch {
		case err == nil && old.End.After(now):
			previous = &old
		case err == nil || errors.Is(err, store.ErrNotFound):
			// Lapsed (or pruned): receivers have let it go, so it is
			// published anew, with a Create.
			had = false
		default:
			return "", nil, err
		}
	}
	outcome := "created"
	switch {
	case had && prev.Hash == hash && !s.renewDue(b, prev, now):
		return "unchanged", nil, nil
	case had && prev.Hash == hash:
		outcome = "renewed"
	case had:
		outcome = "updated"
	}
	rec := store.BridgeItem{Bridge: b.Name, Item: it.ID, ListingID: s.listingID(b.Name, it.ID), Hash: hash,
		Published: now, End: now.Add(s.lifetime(b)).Truncate(time.Second)}
	if had {
		rec.Published, rec.Updated = prev.Published, now
	}
	body, actID, err := s.itemActivity(b, it, rec, had)
	if err != nil {
		return "", nil, err
	}
	listing, err := s.cfg.Listings.Check(body, actID, s.cfg.Host, now)
	if err != nil {
		return "skipped", &dfc.Problem{Item: it.ID, Field: "listing", Reason: "invalid_listing", Message: err.Error()}, nil
	}
	err = s.cfg.Publisher.Publish(ctx, Publication{Body: body, ID: actID, KeyID: s.KeyID(b.Name), Listing: listing,
		Previous: previous, Change: store.Change{PutBridgeItem: &rec}})
	return outcome, nil, err
}

// withdraw publishes the Delete of an item's listing.
func (s *Service) withdraw(ctx context.Context, b store.Bridge, it store.BridgeItem, now time.Time) error {
	body, actID, err := s.deleteActivity(b, it.ListingID, now)
	if err != nil {
		return err
	}
	var previous *store.ListingRecord
	if old, err := s.cfg.Index.Listing(ctx, it.ListingID); err == nil {
		previous = &old
	}
	return s.cfg.Publisher.Publish(ctx, Publication{Body: body, ID: actID, KeyID: s.KeyID(b.Name), Previous: previous,
		Delete: true, Change: store.Change{DeleteBridgeItem: &store.BridgeItemKey{Bridge: b.Name, Item: it.Item}}})
}

// itemHash identifies what an item's listing says, times aside.
func itemHash(b store.Bridge, it dfc.Item) string {
	doc, _ := json.Marshal(struct {
		Item         dfc.Item
		Kind, Region string
	}{it, b.Kind, b.Region})
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:])
}

// listingID is the stable IRI of the listing of a bridge's catalog item.
func (s *Service) listingID(name, item string) string {
	sum := sha256.Sum256([]byte(item))
	return s.cfg.PublicURL + "/bridges/" + name + "/listings/" + hex.EncodeToString(sum[:12])
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
