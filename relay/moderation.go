package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// policyReloadInterval is how often the rule set is rebuilt even without
// changes, so that expired rules stop applying.
const policyReloadInterval = time.Minute

// reloadPolicy rebuilds the rule set from the store.
func (s *Server) reloadPolicy(ctx context.Context) error {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("loading rules: %w", err)
	}
	set := policy.NewSet(s.cfg.FederationMode, rules, time.Now()).WithKeyFingerprints(func(keyID string) (string, bool) {
		fp, ok, _ := s.pins.Fingerprint(ctx, keyID)
		return fp, ok
	})
	s.policy.Store(set)
	settings, err := s.store.TrustLevels(ctx)
	if err != nil {
		return fmt.Errorf("loading trust levels: %w", err)
	}
	levels := make(map[string]trust.Level, len(settings))
	for _, t := range settings {
		levels[t.Peer] = trust.Level(t.Level)
	}
	s.trustLevels.Store(&levels)
	return nil
}

// trustOf is the trust level of a peer (normal unless set).
func (s *Server) trustOf(peer string) trust.Level {
	if l, ok := (*s.trustLevels.Load())[peer]; ok {
		return l
	}
	return trust.Normal
}

// SetTrust records a moderator's trust level for a peer.
func (s *Server) SetTrust(ctx context.Context, op Operator, peer string, level trust.Level) error {
	p, err := policy.ParsePeer(peer)
	if err != nil {
		return fmt.Errorf("%w: %v", policy.ErrBadRule, err)
	}
	ts := store.TrustSetting{Peer: p, Level: string(level), Reason: op.Why, SetBy: op.Who, SetAt: time.Now().UTC()}
	details, _ := json.Marshal(ts)
	if _, err := s.store.Moderate(ctx, store.ModerationChange{SetTrust: []store.TrustSetting{ts},
		Audit: []store.AuditEntry{{Who: op.Who, What: "trust.set", Subject: p, Why: op.Why, Source: "manual", Details: details}}}); err != nil {
		return err
	}
	s.log.Info("trust level set", "peer", p, "level", level, "by", op.Who)
	return s.reloadPolicy(ctx)
}

// judge applies the moderation rules to a subject.
func (s *Server) judge(subj policy.Subject) policy.Decision {
	return s.policy.Load().Decide(subj)
}

// countRejection counts a refusal by where the rule that caused it came
// from: a moderator, a list, or the federation mode itself. The rule's id
// is in the refusal's log line and reason; as a label it would make a
// series per rule, thousands after one list import.
func (s *Server) countRejection(action policy.Action, r *policy.Rule) {
	s.metrics.policy.WithLabelValues(string(action), ruleSource(r)).Inc()
}

// ruleSource is the bounded "source" label of a rule: manual, list or
// default (no rule: the federation mode decided).
func ruleSource(r *policy.Rule) string {
	switch {
	case r == nil:
		return "default"
	case strings.HasPrefix(r.Source, "list:"):
		return "list"
	default:
		return "manual"
	}
}

// permitPeer reports whether the relay may deal with peer at all (fetch
// from it, deliver to it).
func (s *Server) permitPeer(peer string) bool {
	d := s.judge(policy.Subject{Peer: peer})
	if d.Action.Blocks() {
		s.countRejection(d.Action, d.Rule)
		return false
	}
	return true
}

// admit applies the rules to an inbound activity before its key is
// fetched: blocked senders and filtered activities get 403.
func (s *Server) admit(in *inbound, keyID string) error {
	subj := policy.Subject{Peer: in.Peer, Actor: in.Actor, KeyID: keyID}
	d := s.judge(subj)
	in.decision = d
	if d.Action.Blocks() {
		s.countRejection(d.Action, d.Rule)
		return refuse(http.StatusForbidden, "policy", "refused: %s", d.Reason())
	}
	set := s.policy.Load()
	if !set.Filtering() {
		return nil // no rule filters: the body need not be read again
	}
	if r, why := set.Filter(subj, factsOf(in), time.Now()); r != nil {
		s.countRejection("filter", r)
		return refuse(http.StatusForbidden, "policy", "refused by rule %d: %s", r.ID, why)
	}
	return nil
}

// admitKey applies the rules again once the signing key is known, with
// its fingerprint: rules on the key (by fingerprint, or on an id it was
// pinned under) cover it under any id, filters included.
func (s *Server) admitKey(in *inbound, keyID string, key trust.Key) error {
	fp, _ := keyFingerprint(key)
	subj := policy.Subject{Peer: in.Peer, Actor: in.Actor, KeyID: keyID, KeyFingerprint: fp}
	d := s.judge(subj)
	if d.Action.Blocks() {
		s.countRejection(d.Action, d.Rule)
		return refuse(http.StatusForbidden, "policy", "refused: %s", d.Reason())
	}
	in.decision = d
	if set := s.policy.Load(); set.Filtering() {
		if r, why := set.Filter(subj, factsOf(in), time.Now()); r != nil {
			s.countRejection("filter", r)
			return refuse(http.StatusForbidden, "policy", "refused by rule %d: %s", r.ID, why)
		}
	}
	return nil
}

// factsOf reads what moderation filters look at from the raw activity.
func factsOf(in *inbound) policy.Facts {
	var env struct {
		Object json.RawMessage `json:"object"`
	}
	json.Unmarshal(in.raw, &env)
	var obj struct {
		Type       json.RawMessage `json:"type"`
		Content    json.RawMessage `json:"content"`
		Name       json.RawMessage `json:"name"`
		Summary    json.RawMessage `json:"summary"`
		Published  string          `json:"published"`
		Attachment json.RawMessage `json:"attachment"`
		Image      json.RawMessage `json:"image"`
	}
	json.Unmarshal(env.Object, &obj)
	f := policy.Facts{Type: string(in.Type), ObjectType: string(in.ObjectType)}
	for _, raw := range []json.RawMessage{obj.Content, obj.Name, obj.Summary} {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			f.Text += s + "\n"
		} else if len(raw) > 0 {
			f.Text += string(raw) + "\n" // language maps: search their JSON
		}
	}
	f.Published, _ = time.Parse(time.RFC3339, obj.Published)
	f.HasMedia = hasItems(obj.Attachment) || hasItems(obj.Image)
	if k, ok := listing.KindOf(in.raw); ok {
		f.ListingKind = string(k)
	}
	return f
}

func hasItems(raw json.RawMessage) bool {
	s := string(raw)
	return len(raw) > 0 && s != "null" && s != "[]" && s != "{}"
}

// Operator is who made a moderation change, and why.
type Operator = policy.Operator

// AddRule adds a moderation rule; a suspension also drops every
// subscription and queued delivery of the peers it covers.
func (s *Server) AddRule(ctx context.Context, op Operator, r policy.Rule) (policy.Rule, error) {
	if err := r.Normalize(); err != nil {
		return r, err
	}
	r.Created, r.Author = time.Now().UTC(), op.Who
	affected, err := s.Preview(ctx, r)
	if err != nil {
		return r, err
	}
	details, _ := json.Marshal(r)
	change := store.ModerationChange{Add: []policy.Rule{r}, Audit: []store.AuditEntry{{
		Who: op.Who, What: "rule.add", Subject: string(r.Kind) + " " + r.Subject, Why: op.Why, Source: r.Source, Details: details,
	}}}
	if r.Action == policy.Suspend && r.Live(time.Now()) {
		change.DropPeers = affected.Peers
	}
	ids, err := s.store.Moderate(ctx, change)
	if err != nil {
		return r, err
	}
	r.ID = ids[0]
	if err := s.reloadPolicy(ctx); err != nil {
		return r, err
	}
	s.log.Info("moderation rule added", "id", r.ID, "kind", r.Kind, "subject", r.Subject, "action", r.Action,
		"by", op.Who, "affects_subscribers", len(affected.Peers))
	return r, nil
}

// RemoveRule deletes a rule.
func (s *Server) RemoveRule(ctx context.Context, op Operator, id int64) error {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return err
	}
	var old *policy.Rule
	for i := range rules {
		if rules[i].ID == id {
			old = &rules[i]
		}
	}
	if old == nil {
		return fmt.Errorf("rule %d: %w", id, store.ErrNotFound)
	}
	details, _ := json.Marshal(old)
	if _, err := s.store.Moderate(ctx, store.ModerationChange{Remove: []int64{id}, Audit: []store.AuditEntry{{
		Who: op.Who, What: "rule.remove", Subject: strconv.FormatInt(id, 10), Why: op.Why, Source: old.Source, Details: details,
	}}}); err != nil {
		return err
	}
	s.log.Info("moderation rule removed", "id", id, "by", op.Who)
	return s.reloadPolicy(ctx)
}

// ApproveDrafts makes draft rules live: those with ids, or every draft
// when ids is empty. It returns the approved ids.
func (s *Server) ApproveDrafts(ctx context.Context, op Operator, ids []int64) ([]int64, error) {
	rules, err := s.store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	var approve []int64
	var drop []string
	var audit []store.AuditEntry
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for _, r := range rules {
		if !r.Draft || (len(ids) > 0 && !want[r.ID]) {
			continue
		}
		delete(want, r.ID)
		approve = append(approve, r.ID)
		if r.Action == policy.Suspend {
			aff, err := s.Preview(ctx, r)
			if err != nil {
				return nil, err
			}
			drop = append(drop, aff.Peers...)
		}
		details, _ := json.Marshal(r)
		audit = append(audit, store.AuditEntry{Who: op.Who, What: "rule.approve", Subject: strconv.FormatInt(r.ID, 10),
			Why: op.Why, Source: r.Source, Details: details})
	}
	for id := range want {
		return nil, fmt.Errorf("draft rule %d: %w", id, store.ErrNotFound)
	}
	if len(approve) == 0 {
		return []int64{}, nil
	}
	if _, err := s.store.Moderate(ctx, store.ModerationChange{Approve: approve, DropPeers: drop, Audit: audit}); err != nil {
		return nil, err
	}
	s.log.Info("draft rules approved", "count", len(approve), "by", op.Who)
	return approve, s.reloadPolicy(ctx)
}

// Preview tells which current subscribers and queued deliveries a rule
// would affect, without applying it.
func (s *Server) Preview(ctx context.Context, r policy.Rule) (admin.Affected, error) {
	if err := r.Normalize(); err != nil {
		return admin.Affected{}, err
	}
	r.ID, r.Draft, r.Expires = -1, false, time.Time{}
	only := policy.NewSet(policy.Blocklist, []policy.Rule{r}, time.Now())
	sts, err := s.store.SubscriberStatuses(ctx)
	if err != nil {
		return admin.Affected{}, err
	}
	out := admin.Affected{Peers: []string{}}
	seen := map[string]bool{}
	for _, st := range sts {
		d := only.Decide(policy.Subject{Peer: st.Peer, Actor: st.Actor})
		if d.Rule == nil {
			continue
		}
		out.Subscriptions++
		out.QueuedDeliveries += st.Queued
		if !seen[st.Peer] {
			seen[st.Peer] = true
			out.Peers = append(out.Peers, st.Peer)
		}
	}
	return out, nil
}

// Rules lists every rule.
func (s *Server) Rules(ctx context.Context) ([]policy.Rule, error) {
	return s.store.Rules(ctx)
}

// isNotFound reports a missing rule, list or subscription.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// PeerTrust lists each known peer's trust level with what the relay has
// observed of it.
func (s *Server) PeerTrust(ctx context.Context) ([]admin.PeerTrust, error) {
	settings, err := s.store.TrustLevels(ctx)
	if err != nil {
		return nil, err
	}
	sts, err := s.store.SubscriberStatuses(ctx)
	if err != nil {
		return nil, err
	}
	byPeer := map[string]*admin.PeerTrust{}
	var order []string
	get := func(peer string) *admin.PeerTrust {
		if p, ok := byPeer[peer]; ok {
			return p
		}
		p := &admin.PeerTrust{Peer: peer, Level: string(s.trustOf(peer))}
		byPeer[peer] = p
		order = append(order, peer)
		return p
	}
	for _, t := range settings {
		p := get(t.Peer)
		p.Reason, p.SetBy, p.SetAt = t.Reason, t.SetBy, t.SetAt
	}
	for _, st := range sts {
		p := get(st.Peer)
		if p.Since.IsZero() || st.CreatedAt.Before(p.Since) {
			p.Since = st.CreatedAt
		}
		p.Delivered, p.Failed = st.Health.Delivered, st.Health.Failed
		p.Subscriptions++
	}
	out := make([]admin.PeerTrust, 0, len(order))
	for _, peer := range order {
		p := *byPeer[peer]
		p.Rejected = s.rejections.get(peer)
		out = append(out, p)
	}
	return out, nil
}
