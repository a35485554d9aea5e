package relay

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/trust"
)

// Timing of moderation's background work.
const (
	// policyReloadInterval is how often the rule set is rebuilt even
	// without changes, so that expired rules stop applying.
	policyReloadInterval = time.Minute
	// listCheckInterval is how often due shared lists are looked for.
	listCheckInterval = time.Minute
)

// trustOf is the trust level of a peer (normal unless set).
func (s *Server) trustOf(peer string) trust.Level {
	if l := s.mod.TrustLevel(peer); l != "" {
		return trust.Level(l)
	}
	return trust.Normal
}

// SyncDue fetches the shared lists whose interval has passed (see
// policy.Moderator.SyncDue).
func (s *Server) SyncDue(ctx context.Context) ([]string, error) { return s.mod.SyncDue(ctx) }

// moderationSubscriptions lists the relay's subscriptions for moderation
// (previews and suspensions).
type moderationSubscriptions struct{ st store.Store }

func (m moderationSubscriptions) Subscribed(ctx context.Context) ([]policy.Subscribed, error) {
	sts, err := m.st.SubscriberStatuses(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]policy.Subscribed, 0, len(sts))
	for _, st := range sts {
		out = append(out, policy.Subscribed{Peer: st.Peer, Actor: st.Actor, Queued: st.Queued})
	}
	return out, nil
}

// judge applies the moderation rules to a subject.
func (s *Server) judge(subj policy.Subject) policy.Decision {
	return s.mod.Set().Decide(subj)
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
	set := s.mod.Set()
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
	fp := key.Fingerprint // computed when the key was fetched
	subj := policy.Subject{Peer: in.Peer, Actor: in.Actor, KeyID: keyID, KeyFingerprint: fp}
	d := s.judge(subj)
	if d.Action.Blocks() {
		s.countRejection(d.Action, d.Rule)
		return refuse(http.StatusForbidden, "policy", "refused: %s", d.Reason())
	}
	in.decision = d
	if set := s.mod.Set(); set.Filtering() {
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
