package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// maxEndorsementReason is Fediseer's limit on a reason.
const maxEndorsementReason = 255

// Endorse records the relay's endorsement or censure of a domain.
func (s *Server) Endorse(ctx context.Context, op Operator, domain, kind, reason string) error {
	d, err := policy.ParsePeer(domain)
	if err != nil {
		return fmt.Errorf("%w: %v", policy.ErrBadRule, err)
	}
	if kind != "endorse" && kind != "censure" {
		return fmt.Errorf("%w: kind %q: want endorse or censure", policy.ErrBadRule, kind)
	}
	if reason == "" || utf8.RuneCountInString(reason) > maxEndorsementReason {
		return fmt.Errorf("%w: a reason of 1 to %d characters is required", policy.ErrBadRule, maxEndorsementReason)
	}
	e := store.Endorsement{Domain: d, Kind: kind, Reason: reason, Author: op.Who, Created: time.Now().UTC()}
	details, _ := json.Marshal(e)
	_, err = s.store.Moderate(ctx, store.ModerationChange{Endorse: []store.Endorsement{e}, Audit: []store.AuditEntry{{
		Who: op.Who, What: kind, Subject: d, Why: reason, Source: "manual", Details: details}}})
	return err
}

// Unendorse withdraws an endorsement or censure.
func (s *Server) Unendorse(ctx context.Context, op Operator, id int64) error {
	_, err := s.store.Moderate(ctx, store.ModerationChange{Unendorse: []int64{id}, Audit: []store.AuditEntry{{
		Who: op.Who, What: "withdraw", Subject: strconv.FormatInt(id, 10), Why: op.Why, Source: "manual"}}})
	return err
}

// publishedEndorsement is what other relays read.
type publishedEndorsement struct {
	Domain  string    `json:"domain"`
	Kind    string    `json:"kind"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
}

// handlePublishedEndorsements serves the relay's endorsements and censures.
func (s *Server) handlePublishedEndorsements(w http.ResponseWriter, r *http.Request) {
	es, err := s.store.Endorsements(r.Context())
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	out := make([]publishedEndorsement, 0, len(es))
	for _, e := range es {
		out = append(out, publishedEndorsement{Domain: e.Domain, Kind: e.Kind, Reason: e.Reason, Created: e.Created})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(map[string]any{"relay": s.actorID, "endorsements": out})
}

// PeerEndorsements reads the endorsements published by the peers
// moderators trust. They are shown, never acted on.
func (s *Server) PeerEndorsements(ctx context.Context) ([]admin.PeerEndorsement, error) {
	settings, err := s.store.TrustLevels(ctx)
	if err != nil {
		return nil, err
	}
	out := []admin.PeerEndorsement{}
	for _, t := range settings {
		if trust.Level(t.Level) != trust.Trusted {
			continue
		}
		scheme := "https://"
		if s.cfg.AllowPrivateNetworks && strings.HasPrefix(t.Peer, "127.") {
			scheme = "http://"
		}
		body, err := s.fetch.Get(ctx, scheme+t.Peer+"/policy/endorsements.json")
		if err != nil {
			out = append(out, admin.PeerEndorsement{From: t.Peer, Error: errText(err)})
			continue
		}
		var doc struct {
			Endorsements []publishedEndorsement `json:"endorsements"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			out = append(out, admin.PeerEndorsement{From: t.Peer, Error: "not an endorsements document"})
			continue
		}
		for i, e := range doc.Endorsements {
			if i >= 10000 {
				break
			}
			if len(e.Reason) > 4*maxEndorsementReason {
				e.Reason = e.Reason[:4*maxEndorsementReason]
			}
			out = append(out, admin.PeerEndorsement{From: t.Peer, Domain: e.Domain, Kind: e.Kind, Reason: e.Reason, Created: e.Created})
		}
	}
	return out, nil
}
