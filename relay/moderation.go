package relay

import (
	"context"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
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
