package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxEndorsementReason is Fediseer's limit on a reason.
const maxEndorsementReason = 255

// PublishedEndorsement is an endorsement as relays publish it at
// /policy/endorsements.json and read it from each other.
type PublishedEndorsement struct {
	Domain  string    `json:"domain"`
	Kind    string    `json:"kind"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
}

// Endorse records the relay's endorsement or censure of a domain.
func (m *Moderator) Endorse(ctx context.Context, op Operator, domain, kind, reason string) error {
	d, err := ParsePeer(domain)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRule, err)
	}
	if kind != "endorse" && kind != "censure" {
		return fmt.Errorf("%w: kind %q: want endorse or censure", ErrBadRule, kind)
	}
	if reason == "" || utf8.RuneCountInString(reason) > maxEndorsementReason {
		return fmt.Errorf("%w: a reason of 1 to %d characters is required", ErrBadRule, maxEndorsementReason)
	}
	e := Endorsement{Domain: d, Kind: kind, Reason: reason, Author: op.Who, Created: time.Now().UTC()}
	details, _ := json.Marshal(e)
	_, err = m.store.Moderate(ctx, Change{Endorse: []Endorsement{e}, Audit: []AuditEntry{{
		Who: op.Who, What: kind, Subject: d, Why: reason, Source: "manual", Details: details}}})
	return err
}

// Unendorse withdraws an endorsement or censure.
func (m *Moderator) Unendorse(ctx context.Context, op Operator, id int64) error {
	_, err := m.store.Moderate(ctx, Change{Unendorse: []int64{id}, Audit: []AuditEntry{{
		Who: op.Who, What: "withdraw", Subject: strconv.FormatInt(id, 10), Why: op.Why, Source: "manual"}}})
	return err
}

// PeerEndorsements reads the endorsements published by the peers
// moderators trust. They are shown, never acted on.
func (m *Moderator) PeerEndorsements(ctx context.Context) ([]PeerEndorsement, error) {
	settings, err := m.store.TrustLevels(ctx)
	if err != nil {
		return nil, err
	}
	out := []PeerEndorsement{}
	for _, t := range settings {
		if t.Level != "trusted" {
			continue
		}
		scheme := "https://"
		if m.cfg.AllowPlainHTTP && strings.HasPrefix(t.Peer, "127.") {
			scheme = "http://"
		}
		body, err := m.cfg.Documents.Get(ctx, scheme+t.Peer+"/policy/endorsements.json")
		if err != nil {
			out = append(out, PeerEndorsement{From: t.Peer, Error: shortError(err)})
			continue
		}
		var doc struct {
			Endorsements []PublishedEndorsement `json:"endorsements"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			out = append(out, PeerEndorsement{From: t.Peer, Error: "not an endorsements document"})
			continue
		}
		for i, e := range doc.Endorsements {
			if i >= 10000 {
				break
			}
			if len(e.Reason) > 4*maxEndorsementReason {
				e.Reason = e.Reason[:4*maxEndorsementReason]
			}
			out = append(out, PeerEndorsement{From: t.Peer, Domain: e.Domain, Kind: e.Kind, Reason: e.Reason, Created: e.Created})
		}
	}
	return out, nil
}
