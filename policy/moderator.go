package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound: a rule, draft, list or other record that does not exist.
var ErrNotFound = errors.New("not found")

// Store keeps the moderation records: rules, trust levels, list
// subscriptions, endorsements and the audit log of every change to them.
type Store interface {
	// Rules returns every rule, drafts and expired ones included.
	Rules(ctx context.Context) ([]Rule, error)
	// Moderate applies a change and its audit entries as one transaction
	// and returns the ids of the rules it added.
	Moderate(ctx context.Context, c Change) ([]int64, error)
	// TrustLevels returns the trust level moderators set per peer.
	TrustLevels(ctx context.Context) ([]TrustSetting, error)
	// ListSubscriptions returns the lists followed, highest priority first.
	ListSubscriptions(ctx context.Context) ([]ListSubscription, error)
	// Endorsements returns the relay's own endorsements and censures.
	Endorsements(ctx context.Context) ([]Endorsement, error)
}

// Subscribed is a subscription as moderation sees it: who, and how much
// waits for it.
type Subscribed struct {
	Peer, Actor string
	// Queued counts the deliveries waiting for it.
	Queued int
}

// Subscriptions lists the relay's subscriptions, for previews and
// suspensions.
type Subscriptions interface {
	Subscribed(ctx context.Context) ([]Subscribed, error)
}

// Fetcher fetches a document by URL (signed, bounded and guarded as the
// relay fetches).
type Fetcher interface {
	Get(ctx context.Context, url string) ([]byte, error)
}

// ModeratorConfig configures a [Moderator]. Zero fields take the defaults
// given.
type ModeratorConfig struct {
	// Mode is the federation mode. Default Blocklist.
	Mode Mode
	// Fingerprints, when set, names the key pinned for a key id, so that
	// rules on key ids cover the key (see [Set.WithKeyFingerprints]).
	Fingerprints func(ctx context.Context, keyID string) (string, bool)
	// Lists fetches shared lists (up to MaxListBytes).
	Lists Fetcher
	// Documents fetches trusted peers' published endorsements.
	Documents Fetcher
	// AllowPlainHTTP reads loopback peers' endorsements over plain HTTP
	// (local demos and tests).
	AllowPlainHTTP bool
	// Logger receives what moderators did. Default: discard.
	Logger *slog.Logger
}

// Affected is what a rule would affect: the subscribed peers it covers,
// their subscriptions and queued deliveries.
type Affected struct {
	Peers            []string `json:"peers"`
	Subscriptions    int      `json:"subscriptions"`
	QueuedDeliveries int      `json:"queued_deliveries"`
}

// Synced is what a list sync did.
type Synced struct {
	Added     []string `json:"added"`
	Skipped   []string `json:"skipped"`
	Excluded  []string `json:"excluded"`
	Retracted []string `json:"retracted"`
}

// PeerEndorsement is an endorsement a trusted peer published, or why its
// endorsements could not be read.
type PeerEndorsement struct {
	From    string    `json:"from"`
	Domain  string    `json:"domain,omitempty"`
	Kind    string    `json:"kind,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// Moderator holds the moderation domain: it keeps the current rule [Set]
// and trust levels, and makes every moderator's change (rules, drafts,
// lists, trust levels, endorsements) with its audit entry. It is safe for
// concurrent use.
type Moderator struct {
	store Store
	subs  Subscriptions
	cfg   ModeratorConfig
	log   *slog.Logger

	set    atomic.Pointer[Set]
	levels atomic.Pointer[map[string]string]
	// listWrites serialises what reads the rules or a list subscription
	// and then writes: imports, the writing half of syncs (the background
	// one and operators'), subscribing and unsubscribing. A list is
	// fetched outside it.
	listWrites sync.Mutex
}

// NewModerator returns a moderator over st, loading the rules.
func NewModerator(ctx context.Context, st Store, subs Subscriptions, cfg ModeratorConfig) (*Moderator, error) {
	if cfg.Mode == "" {
		cfg.Mode = Blocklist
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Moderator{store: st, subs: subs, cfg: cfg, log: cfg.Logger}
	return m, m.Reload(ctx)
}

// Reload rebuilds the rule set and trust levels from the store (expired
// rules stop applying).
func (m *Moderator) Reload(ctx context.Context) error {
	rules, err := m.store.Rules(ctx)
	if err != nil {
		return fmt.Errorf("loading rules: %w", err)
	}
	set := NewSet(m.cfg.Mode, rules, time.Now())
	if m.cfg.Fingerprints != nil {
		// The set outlives the request that reloaded it.
		bg := context.WithoutCancel(ctx)
		set = set.WithKeyFingerprints(func(keyID string) (string, bool) { return m.cfg.Fingerprints(bg, keyID) })
	}
	m.set.Store(set)
	settings, err := m.store.TrustLevels(ctx)
	if err != nil {
		return fmt.Errorf("loading trust levels: %w", err)
	}
	levels := make(map[string]string, len(settings))
	for _, t := range settings {
		levels[t.Peer] = t.Level
	}
	m.levels.Store(&levels)
	return nil
}

// Set is the current rule set.
func (m *Moderator) Set() *Set { return m.set.Load() }

// TrustLevel is the trust level a moderator set for peer ("" when none).
func (m *Moderator) TrustLevel(peer string) string { return (*m.levels.Load())[peer] }

// SetTrust records a moderator's trust level for a peer.
func (m *Moderator) SetTrust(ctx context.Context, op Operator, peer, level string) error {
	p, err := ParsePeer(peer)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRule, err)
	}
	ts := TrustSetting{Peer: p, Level: string(level), Reason: op.Why, SetBy: op.Who, SetAt: time.Now().UTC()}
	details, _ := json.Marshal(ts)
	if _, err := m.store.Moderate(ctx, Change{SetTrust: []TrustSetting{ts},
		Audit: []AuditEntry{{Who: op.Who, What: "trust.set", Subject: p, Why: op.Why, Source: "manual", Details: details}}}); err != nil {
		return err
	}
	m.log.Info("trust level set", "peer", p, "level", level, "by", op.Who)
	return m.Reload(ctx)
}

// AddRule adds a moderation rule; a suspension also drops every
// subscription and queued delivery of the peers it covers.
func (m *Moderator) AddRule(ctx context.Context, op Operator, r Rule) (Rule, error) {
	if err := r.Normalize(); err != nil {
		return r, err
	}
	r.Created, r.Author = time.Now().UTC(), op.Who
	affected, err := m.Preview(ctx, r)
	if err != nil {
		return r, err
	}
	old, err := m.sameRule(ctx, r)
	if err != nil {
		return r, err
	}
	var change Change
	if old != nil { // the same block (or allow) again: its rule changes
		r.ID, r.Created = old.ID, old.Created
		details, _ := json.Marshal(map[string]Rule{"before": *old, "after": r})
		change = Change{Update: []Rule{r}, Audit: []AuditEntry{{
			Who: op.Who, What: "rule.change", Subject: r.Named(), Why: op.Why, Source: r.Source, Details: details,
		}}}
	} else {
		details, _ := json.Marshal(r)
		change = Change{Add: []Rule{r}, Audit: []AuditEntry{{
			Who: op.Who, What: "rule.add", Subject: string(r.Kind) + " " + r.Subject, Why: op.Why, Source: r.Source, Details: details,
		}}}
	}
	if r.Action == Suspend && r.Live(time.Now()) {
		change.DropPeers = affected.Peers
	}
	ids, err := m.store.Moderate(ctx, change)
	if err != nil {
		return r, err
	}
	if old == nil {
		r.ID = ids[0]
	}
	if err := m.Reload(ctx); err != nil {
		return r, err
	}
	what := "moderation rule added"
	if old != nil {
		what = "moderation rule changed"
	}
	m.log.Info(what, "id", r.ID, "kind", r.Kind, "subject", r.Subject, "action", r.Action,
		"by", op.Who, "affects_subscribers", len(affected.Peers))
	return r, nil
}

// sameRule returns the live manual rule r would repeat: the same kind
// and subject, both blocks (limit, reject, suspend) or both accepts; nil
// when there is none.
func (m *Moderator) sameRule(ctx context.Context, r Rule) (*Rule, error) {
	if r.Source != "manual" {
		return nil, nil
	}
	rules, err := m.store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	for i, o := range rules {
		if o.Source == "manual" && !o.Draft && o.Kind == r.Kind && o.Subject == r.Subject &&
			(o.Action == Accept) == (r.Action == Accept) {
			return &rules[i], nil
		}
	}
	return nil, nil
}

// RemoveRule deletes a rule.
func (m *Moderator) RemoveRule(ctx context.Context, op Operator, id int64) error {
	rules, err := m.store.Rules(ctx)
	if err != nil {
		return err
	}
	var old *Rule
	for i := range rules {
		if rules[i].ID == id {
			old = &rules[i]
		}
	}
	if old == nil {
		return fmt.Errorf("rule %d: %w", id, ErrNotFound)
	}
	details, _ := json.Marshal(old)
	if _, err := m.store.Moderate(ctx, Change{Remove: []int64{id}, Audit: []AuditEntry{{
		Who: op.Who, What: "rule.remove", Subject: old.Named(), Why: op.Why, Source: old.Source, Details: details,
	}}}); err != nil {
		return err
	}
	m.log.Info("moderation rule removed", "id", id, "by", op.Who)
	return m.Reload(ctx)
}

// DiscardDrafts removes draft rules (those with ids) in one change, each
// with its audit entry, and rebuilds the rule set once. It returns the
// removed ids; ids that are not drafts (approved meanwhile, or gone) are
// left alone.
func (m *Moderator) DiscardDrafts(ctx context.Context, op Operator, ids []int64) ([]int64, error) {
	rules, err := m.store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var remove []int64
	var audit []AuditEntry
	for _, r := range rules {
		if !r.Draft || !want[r.ID] {
			continue
		}
		remove = append(remove, r.ID)
		details, _ := json.Marshal(r)
		audit = append(audit, AuditEntry{Who: op.Who, What: "rule.remove", Subject: r.Named(),
			Why: op.Why, Source: r.Source, Details: details})
	}
	if len(remove) == 0 {
		return []int64{}, nil
	}
	if _, err := m.store.Moderate(ctx, Change{Remove: remove, Audit: audit}); err != nil {
		return nil, err
	}
	m.log.Info("draft rules discarded", "count", len(remove), "by", op.Who)
	return remove, m.Reload(ctx)
}

// ApproveDrafts makes draft rules live: those with ids, or every draft
// when ids is empty. It returns the approved ids.
func (m *Moderator) ApproveDrafts(ctx context.Context, op Operator, ids []int64) ([]int64, error) {
	rules, err := m.store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	var approve []int64
	var drop []string
	var audit []AuditEntry
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
		if r.Action == Suspend {
			aff, err := m.Preview(ctx, r)
			if err != nil {
				return nil, err
			}
			drop = append(drop, aff.Peers...)
		}
		details, _ := json.Marshal(r)
		audit = append(audit, AuditEntry{Who: op.Who, What: "rule.approve", Subject: r.Named(),
			Why: op.Why, Source: r.Source, Details: details})
	}
	for id := range want {
		return nil, fmt.Errorf("draft rule %d: %w", id, ErrNotFound)
	}
	if len(approve) == 0 {
		return []int64{}, nil
	}
	if _, err := m.store.Moderate(ctx, Change{Approve: approve, DropPeers: drop, Audit: audit}); err != nil {
		return nil, err
	}
	m.log.Info("draft rules approved", "count", len(approve), "by", op.Who)
	return approve, m.Reload(ctx)
}

// Preview tells which current subscribers and queued deliveries a rule
// would affect, without applying it.
func (m *Moderator) Preview(ctx context.Context, r Rule) (Affected, error) {
	if err := r.Normalize(); err != nil {
		return Affected{}, err
	}
	r.ID, r.Draft, r.Expires = -1, false, time.Time{}
	only := NewSet(Blocklist, []Rule{r}, time.Now())
	sts, err := m.subs.Subscribed(ctx)
	if err != nil {
		return Affected{}, err
	}
	out := Affected{Peers: []string{}}
	seen := map[string]bool{}
	for _, st := range sts {
		d := only.Decide(Subject{Peer: st.Peer, Actor: st.Actor})
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
func (m *Moderator) Rules(ctx context.Context) ([]Rule, error) {
	return m.store.Rules(ctx)
}
