package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/proof"
	"github.com/runrig/runrig/relay/store"
)

// Kinds of listing a bridge publishes.
const (
	kindOffer   = "offer"
	kindSurplus = "surplus"
)

// itemActivity is the Create (or, for an item listed before, the Update)
// of an item's listing, by the bridge's actor. The Proposal and the
// activity each carry an FEP-8b32 proof made with the bridge's Ed25519
// key, so the listing verifies wherever it is forwarded and when fetched
// from its IRI.
func (s *Service) itemActivity(b store.Bridge, it dfc.Item, rec store.BridgeItem, update bool) ([]byte, string, error) {
	sg, err := s.signer(b)
	if err != nil {
		return nil, "", err
	}
	actor := s.ActorID(b.Name)
	object := dfc.Proposal(it, dfc.ListingOf{Context: s.cfg.Context, Actor: actor, ID: rec.ListingID,
		Surplus: b.Kind == kindSurplus, SurplusIRI: s.cfg.SurplusIRI, Region: b.Region,
		Published: rec.Published, Updated: rec.Updated, End: rec.End})
	object["cc"] = []string{actor + "/followers"}
	typ, at := "Create", rec.Published
	if update {
		typ, at = "Update", rec.Updated
	}
	return s.signedActivity(sg, actor, typ, object, at)
}

// deleteActivity is the Delete of a listing, by the bridge's actor.
func (s *Service) deleteActivity(b store.Bridge, listingID string, now time.Time) ([]byte, string, error) {
	sg, err := s.signer(b)
	if err != nil {
		return nil, "", err
	}
	actor := s.ActorID(b.Name)
	return s.signedActivity(sg, actor, "Delete", map[string]any{"id": listingID, "type": "Tombstone"}, now)
}

// signedActivity wraps object in an activity of typ by actor, each signed
// with a proof (the object only when it is a listing).
func (s *Service) signedActivity(sg *httpsig.Signer, actor, typ string, object map[string]any, at time.Time) ([]byte, string, error) {
	method := httpsig.Ed25519KeyID(actor)
	raw, err := json.Marshal(object)
	if err != nil {
		return nil, "", err
	}
	if typ != "Delete" {
		if raw, err = proof.Sign(raw, sg.Ed25519, method, at); err != nil {
			return nil, "", err
		}
	}
	id := s.activityID(actor)
	act := map[string]any{
		"@context": s.cfg.Context, "id": id, "type": typ, "actor": actor,
		"to": []string{dfc.Public}, "cc": []string{actor + "/followers"},
		"published": at.UTC().Format(time.RFC3339), "object": json.RawMessage(raw),
	}
	body, err := json.Marshal(act)
	if err != nil {
		return nil, "", err
	}
	body, err = proof.Sign(body, sg.Ed25519, method, at)
	return body, id, err
}

// activityID is a fresh id for an activity of a bridge's actor.
func (s *Service) activityID(actor string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return actor + "/activities/" + hex.EncodeToString(b)
}
