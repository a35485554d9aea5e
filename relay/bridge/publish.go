package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/store"
)

// publication is one sync's work on a catalog.
type publication struct {
	b         store.Bridge
	cat       *dfc.Catalog
	actorName string
	// hold: withdrawals wait for a second read (see holdWithdrawals).
	hold bool
	// changes counts what this sync published, against maxChanges.
	changes int
	// progress hears how far publishing is (may be nil).
	progress Progress
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

// apply publishes a Create, Update or Delete for each item that changed,
// within maxItems and maxChanges.
func (p *publication) apply(ctx context.Context, s *Service, listed map[string]store.BridgeItem, now time.Time) (Report, error) {
	var rep Report
	// present: in the catalog; refused: in it but not offered (sold out,
	// or refused this time).
	present, refused := map[string]bool{}, map[string]bool{}
	skip := func(prob dfc.Problem) {
		refused[prob.Item] = true
		rep.Skipped++
		rep.Problems = append(rep.Problems, prob)
		s.cfg.Event("skipped")
	}
	for _, id := range p.cat.SoldOut {
		present[id], refused[id] = true, true
		rep.SoldOut++
		s.cfg.Event("sold_out")
	}
	for _, prob := range p.cat.Problems {
		present[prob.Item] = true
		skip(prob)
	}
	for i, it := range p.cat.Items {
		p.progress.report("publishing", i, len(p.cat.Items))
		present[it.ID] = true
		if i >= maxItems {
			skip(dfc.Problem{Item: it.ID, Field: "@graph", Reason: "too_many",
				Message: fmt.Sprintf("a bridge lists at most %d catalog items", maxItems)})
			continue
		}
		outcome, prob, err := p.publishItem(ctx, s, it, listed, now)
		if err != nil {
			return rep, err
		}
		if prob != nil {
			skip(*prob)
			continue
		}
		count(&rep, outcome)
		s.cfg.Event(outcome)
	}
	p.progress.report("publishing", len(p.cat.Items), len(p.cat.Items))
	// Withdrawn: vanished from the catalog, sold out, or no longer valid.
	for id, it := range listed {
		switch {
		case present[id] && !refused[id]:
		case p.hold:
			rep.Held++
		case p.changes >= maxChanges:
			rep.Deferred++
		default:
			if err := s.withdraw(ctx, p.b, it, now); err != nil {
				return rep, err
			}
			p.changes++
			rep.Deleted++
			s.cfg.Event("deleted")
		}
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
	case "deferred":
		rep.Deferred++
	}
}

// publishItem publishes one mapped item if it is new, changed or due for
// renewal, while the sync may still publish. An item the listing rules
// refuse is reported, not published.
func (p *publication) publishItem(ctx context.Context, s *Service, it dfc.Item, listed map[string]store.BridgeItem,
	now time.Time) (string, *dfc.Problem, error) {
	b := p.b
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
	case p.changes >= maxChanges:
		return "deferred", nil, nil
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
	p.changes++
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

// withdrawAll withdraws every listing of a bridge.
func (s *Service) withdrawAll(ctx context.Context, b store.Bridge, items []store.BridgeItem, now time.Time) (Report, error) {
	var rep Report
	for _, it := range items {
		if err := s.withdraw(ctx, b, it, now); err != nil {
			return rep, err
		}
		rep.Deleted++
		s.cfg.Event("deleted")
	}
	return rep, nil
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
