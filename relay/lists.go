package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// ImportResult reports a list import.
type ImportResult = policy.ImportResult

// ImportList imports a Mastodon CSV or plain-text domain list as rules
// from source "list:NAME". Every row is checked first: one bad row and
// nothing is imported. Domains that already have a rule are skipped.
func (s *Server) ImportList(ctx context.Context, op Operator, name string, data []byte,
	plainAction policy.Action, draft, preview bool) (ImportResult, error) {
	entries, err := policy.ParseList(data, plainAction)
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: %v", policy.ErrBadRule, err)
	}
	s.listWrites.Lock()
	defer s.listWrites.Unlock()
	existing, err := s.store.Rules(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	have := map[string]bool{}
	for _, r := range existing {
		if r.Kind == policy.Domain {
			have[r.Subject] = true
		}
	}
	res := ImportResult{Added: []policy.Rule{}, Skipped: []string{}}
	now := time.Now().UTC()
	for _, e := range entries {
		if have[e.Domain] {
			res.Skipped = append(res.Skipped, e.Domain)
			continue
		}
		r := e.Rule("list:" + name)
		r.Draft, r.Created, r.Author = draft, now, op.Who
		if err := r.Normalize(); err != nil {
			return ImportResult{}, fmt.Errorf("line %d: %w", e.Line, err)
		}
		res.Added = append(res.Added, r)
	}
	if preview || len(res.Added) == 0 {
		return res, nil
	}
	details, _ := json.Marshal(map[string]any{"added": len(res.Added), "skipped": res.Skipped, "draft": draft})
	ids, err := s.store.Moderate(ctx, store.ModerationChange{Add: res.Added, AddUnruled: true, Audit: []store.AuditEntry{{
		Who: op.Who, What: "list.import", Subject: name, Why: op.Why, Source: "list:" + name, Details: details,
	}}})
	if err != nil {
		return ImportResult{}, err
	}
	added := res.Added[:0]
	for i, r := range res.Added {
		if r.ID = ids[i]; r.ID == 0 {
			res.Skipped = append(res.Skipped, r.Subject) // a moderator's rule came first
			continue
		}
		added = append(added, r)
	}
	res.Added = added
	s.log.Info("list imported", "list", name, "added", len(res.Added), "skipped", len(res.Skipped), "draft", draft, "by", op.Who)
	return res, s.reloadPolicy(ctx)
}

// ExportList writes the rules as a Mastodon CSV: blocks (with obfuscated
// domains masked when obfuscate) or, with allows, the allow list.
func (s *Server) ExportList(ctx context.Context, allows, obfuscate bool) ([]byte, error) {
	live, err := s.liveRules(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if allows {
		err = policy.WriteMastodonAllows(&buf, live)
	} else {
		err = policy.WriteMastodonBlocks(&buf, live, obfuscate)
	}
	return buf.Bytes(), err
}

// liveRules are the moderation rules in force now.
func (s *Server) liveRules(ctx context.Context) ([]policy.Rule, error) {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	var live []policy.Rule
	now := time.Now()
	for _, r := range rules {
		if r.Live(now) {
			live = append(live, r)
		}
	}
	return live, nil
}

// handlePublishedBlocks serves the relay's own block list, obfuscated
// domains masked, for other relays and servers to subscribe to.
func (s *Server) handlePublishedBlocks(w http.ResponseWriter, r *http.Request) {
	b, err := s.ExportList(r.Context(), false, true)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(b)
}
