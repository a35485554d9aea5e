package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"time"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
)

// OperatorHeader carries the operator's user name to the admin API, for
// the audit log.
const OperatorHeader = "X-Runrig-Operator"

// operatorName is the user running the admin command.
func operatorName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "operator"
}

// AddRule asks for a rule to be added (or, with Preview, only previewed).
type AddRule struct {
	Rule    policy.Rule `json:"rule"`
	Reason  string      `json:"reason,omitempty"`
	Preview bool        `json:"preview,omitempty"`
}

// Block is a Mastodon-like domain block.
type Block struct {
	Domain string `json:"domain"`
	// Severity is suspend (default), reject or limit (or Mastodon's
	// "silence", meaning limit).
	Severity       string `json:"severity,omitempty"`
	Reason         string `json:"reason,omitempty"`
	PublicComment  string `json:"public_comment,omitempty"`
	PrivateComment string `json:"private_comment,omitempty"`
	RejectMedia    bool   `json:"reject_media,omitempty"`
	Obfuscate      bool   `json:"obfuscate,omitempty"`
	// ExpiresIn is a duration such as "72h"; empty means never.
	ExpiresIn string `json:"expires_in,omitempty"`
	Preview   bool   `json:"preview,omitempty"`
}

// Allow is an explicit allow of a domain.
type Allow struct {
	Domain        string `json:"domain"`
	Reason        string `json:"reason,omitempty"`
	PublicComment string `json:"public_comment,omitempty"`
	Preview       bool   `json:"preview,omitempty"`
}

// Affected is what a rule would touch, answered to previews.
type Affected struct {
	Peers            []string `json:"peers"`
	Subscriptions    int      `json:"subscriptions"`
	QueuedDeliveries int      `json:"queued_deliveries"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Who made the change: the operator's user name, or "list:NAME".
	Who string `json:"who"`
	// What was done: "rule.add", "rule.remove", "block", "allow", ...
	What string `json:"what"`
	// Subject is what it was done to: a domain, actor, key or rule id.
	Subject string `json:"subject"`
	// Why is the moderator's reason.
	Why string `json:"why,omitempty"`
	// Source is "manual" or the list the change came from.
	Source string `json:"source,omitempty"`
	// Details holds the rule or other data, as JSON.
	Details json.RawMessage `json:"details,omitempty"`
}

// Rules lists every rule.
func (c *Client) Rules(ctx context.Context) ([]policy.Rule, error) {
	var out []policy.Rule
	err := c.do(ctx, http.MethodGet, "/rules", nil, &out)
	return out, err
}

// Rule shows one rule.
func (c *Client) Rule(ctx context.Context, id int64) (policy.Rule, error) {
	var out policy.Rule
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/rules/%d", id), nil, &out)
	return out, err
}

// AddRule adds a rule and returns it with its id.
func (c *Client) AddRule(ctx context.Context, req AddRule) (policy.Rule, error) {
	var out policy.Rule
	req.Preview = false
	err := c.do(ctx, http.MethodPost, "/rules", req, &out)
	return out, err
}

// RemoveRule deletes a rule.
func (c *Client) RemoveRule(ctx context.Context, id int64, reason string) error {
	return c.do(ctx, http.MethodDelete, fmt.Sprintf("/rules/%d?reason=%s", id, url.QueryEscape(reason)), nil, nil)
}

// Block adds a domain block, or with Preview reports what it would affect
// (into preview, when non-nil).
func (c *Client) Block(ctx context.Context, req Block) (policy.Rule, Affected, error) {
	return c.addOrPreview(ctx, "/block", req, req.Preview)
}

// Allow adds an explicit allow of a domain.
func (c *Client) Allow(ctx context.Context, req Allow) (policy.Rule, Affected, error) {
	return c.addOrPreview(ctx, "/allow", req, req.Preview)
}

// PreviewRule reports what a rule would affect without adding it.
func (c *Client) PreviewRule(ctx context.Context, req AddRule) (Affected, error) {
	req.Preview = true
	_, aff, err := c.addOrPreview(ctx, "/rules", req, true)
	return aff, err
}

func (c *Client) addOrPreview(ctx context.Context, path string, req any, preview bool) (policy.Rule, Affected, error) {
	var rule policy.Rule
	var aff Affected
	var err error
	if preview {
		err = c.do(ctx, http.MethodPost, path, req, &aff)
	} else {
		err = c.do(ctx, http.MethodPost, path, req, &rule)
	}
	return rule, aff, err
}

// Audit lists audit entries after the one with id after, at most limit.
func (c *Client) Audit(ctx context.Context, after int64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/audit?after=%d&limit=%d", after, limit), nil, &out)
	return out, err
}

// ImportList imports a domain list.
type ImportList struct {
	// Name identifies the list; its rules get source "list:NAME".
	Name    string `json:"name"`
	Content string `json:"content"`
	// PlainSeverity is the action of a plain-text list's entries
	// (default suspend).
	PlainSeverity string `json:"plain_severity,omitempty"`
	Draft         bool   `json:"draft,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Preview       bool   `json:"preview,omitempty"`
}

// Imported is the answer to a list import.
type Imported struct {
	Added   int           `json:"added"`
	Skipped []string      `json:"skipped"`
	Rules   []policy.Rule `json:"rules"`
}

// ApproveDrafts asks for draft rules to be made live.
type ApproveDrafts struct {
	IDs    []int64 `json:"ids,omitempty"`
	All    bool    `json:"all,omitempty"`
	Reason string  `json:"reason,omitempty"`
}

// ApproveDrafts makes draft rules live and returns their ids.
func (c *Client) ApproveDrafts(ctx context.Context, req ApproveDrafts) ([]int64, error) {
	var out struct {
		Approved []int64 `json:"approved"`
	}
	err := c.do(ctx, http.MethodPost, "/drafts/approve", req, &out)
	return out.Approved, err
}

// SetTrust sets a peer's trust level.
type SetTrust struct {
	Domain string `json:"domain"`
	// Level is trusted, normal, limited or untrusted.
	Level  string `json:"level"`
	Reason string `json:"reason,omitempty"`
}

// PeerTrust is a peer's trust level and what the relay observed of it.
type PeerTrust struct {
	Peer          string    `json:"peer"`
	Level         string    `json:"level"`
	Reason        string    `json:"reason,omitempty"`
	SetBy         string    `json:"set_by,omitempty"`
	SetAt         time.Time `json:"set_at,omitzero"`
	Since         time.Time `json:"subscribed_since,omitzero"`
	Subscriptions int       `json:"subscriptions"`
	Delivered     int64     `json:"delivered"`
	Failed        int64     `json:"failed"`
	// Rejected counts its inbox requests refused since the relay started.
	Rejected int64 `json:"rejected_since_start"`
}

// SetTrust sets a peer's trust level.
func (c *Client) SetTrust(ctx context.Context, req SetTrust) error {
	return c.do(ctx, http.MethodPost, "/trust", req, nil)
}

// Trust lists peers' trust levels and observed facts.
func (c *Client) Trust(ctx context.Context) ([]PeerTrust, error) {
	var out []PeerTrust
	err := c.do(ctx, http.MethodGet, "/trust", nil, &out)
	return out, err
}

// ListSubscribe follows a shared list at a URL.
type ListSubscribe struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Priority int    `json:"priority,omitempty"`
	// Every is the fetch interval, e.g. "24h" (the default).
	Every string `json:"every,omitempty"`
	// NoDraft applies new entries at once instead of as drafts.
	NoDraft       bool     `json:"no_draft,omitempty"`
	PlainSeverity string   `json:"plain_severity,omitempty"`
	Excludes      []string `json:"excludes,omitempty"`
	Reason        string   `json:"reason,omitempty"`
}

// ListSubscription is a followed list and the state of its last fetch.
type ListSubscription struct {
	Name     string        `json:"name"`
	URL      string        `json:"url"`
	Priority int           `json:"priority"`
	Interval time.Duration `json:"interval"`
	// Draft makes new entries drafts for review.
	Draft       bool      `json:"draft"`
	PlainAction string    `json:"plain_action"`
	Excludes    []string  `json:"excludes,omitempty"`
	Created     time.Time `json:"created"`
	Author      string    `json:"author"`
	LastFetch   time.Time `json:"last_fetch,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Entries are the domains the list held at its last fetch.
	Entries []string `json:"entries,omitempty"`
	// Retracted are domains the list dropped while rules from it remain.
	Retracted []string `json:"retracted,omitempty"`
}

// Synced reports a fetch of a list.
type Synced struct {
	Added     []string `json:"added"`
	Skipped   []string `json:"skipped"`
	Excluded  []string `json:"excluded"`
	Retracted []string `json:"retracted"`
}

// PinnedKey is a peer key as first verified, with its rotations.
type PinnedKey struct {
	KeyID       string `json:"key_id"`
	Owner       string `json:"owner"`
	Peer        string `json:"peer"`
	Fingerprint string `json:"fingerprint"`
	// PreviousFingerprint is the key before the last rotation.
	PreviousFingerprint string    `json:"previous_fingerprint,omitempty"`
	Rotations           int       `json:"rotations"`
	FirstSeen           time.Time `json:"first_seen"`
	RotatedAt           time.Time `json:"rotated_at,omitzero"`
}

// Keys lists the pinned peer keys.
func (c *Client) Keys(ctx context.Context) ([]PinnedKey, error) {
	var out []PinnedKey
	err := c.do(ctx, http.MethodGet, "/keys", nil, &out)
	return out, err
}

// Endorse endorses or censures a domain.
type Endorse struct {
	Domain string `json:"domain"`
	// Kind is endorse or censure.
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Endorsement is one of the relay's own endorsements or censures.
type Endorsement struct {
	ID     int64  `json:"id"`
	Domain string `json:"domain"`
	// Kind is "endorse" or "censure".
	Kind    string    `json:"kind"`
	Reason  string    `json:"reason"`
	Author  string    `json:"author"`
	Created time.Time `json:"created"`
}

// PeerEndorsement is an endorsement or censure read from a trusted peer;
// Error says why a peer could not be read.
type PeerEndorsement struct {
	From    string    `json:"from"`
	Domain  string    `json:"domain,omitempty"`
	Kind    string    `json:"kind,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// Endorse records an endorsement or censure.
func (c *Client) Endorse(ctx context.Context, req Endorse) error {
	return c.do(ctx, http.MethodPost, "/endorsements", req, nil)
}

// Endorsements lists the relay's own endorsements and censures.
func (c *Client) Endorsements(ctx context.Context) ([]Endorsement, error) {
	var out []Endorsement
	err := c.do(ctx, http.MethodGet, "/endorsements", nil, &out)
	return out, err
}

// PeerEndorsements reads those of trusted peers.
func (c *Client) PeerEndorsements(ctx context.Context) ([]PeerEndorsement, error) {
	var out []PeerEndorsement
	err := c.do(ctx, http.MethodGet, "/endorsements/peers", nil, &out)
	return out, err
}

// Withdraw withdraws an endorsement or censure.
func (c *Client) Withdraw(ctx context.Context, id int64, reason string) error {
	return c.do(ctx, http.MethodDelete, fmt.Sprintf("/endorsements/%d?reason=%s", id, url.QueryEscape(reason)), nil, nil)
}

// Self returns the relay's own signed discovery announcement.
func (c *Client) Self(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/self")
}

// Peer is a relay or FMP server in the discovery directory.
type Peer struct {
	Domain   string    `json:"domain"`
	Actor    string    `json:"actor"`
	Inbox    string    `json:"inbox"`
	Regions  []string  `json:"regions,omitempty"`
	Kinds    []string  `json:"kinds,omitempty"`
	Software string    `json:"software"`
	Sources  []string  `json:"sources"`
	Verified bool      `json:"verified"`
	Down     bool      `json:"down"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	// Members are the FMP servers the peer lists as opted in.
	Members []Member `json:"members,omitempty"`
	// Trust and Policy are the moderators' view (admin only).
	Trust  string `json:"trust,omitempty"`
	Policy string `json:"policy,omitempty"`
	// Following is where this relay's own subscription to the peer
	// stands (pending, accepted, rejected), or "" (admin only).
	Following string `json:"following,omitempty"`
}

// Member is an FMP server listed by its relay.
type Member = discovery.Member

// Peers lists the discovery directory.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var out []Peer
	err := c.do(ctx, http.MethodGet, "/peers", nil, &out)
	return out, err
}

// Discover looks peers up in the DHT (when the relay runs one), then lists
// the verified, unblocked peers (or their opted-in members) serving region
// and carrying kind; empty matches all.
func (c *Client) Discover(ctx context.Context, region, kind string) ([]Peer, error) {
	var out []Peer
	err := c.do(ctx, http.MethodGet, "/peers?lookup=1&region="+url.QueryEscape(region)+"&kind="+url.QueryEscape(kind), nil, &out)
	return out, err
}

// AddPeer adds a peer to the directory by hand.
type AddPeer struct {
	// URL is the peer's base URL, e.g. https://relay.example.
	URL string `json:"url"`
}

// AddPeer fetches, verifies and adds a peer's announcement.
func (c *Client) AddPeer(ctx context.Context, url string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodPost, "/peers", AddPeer{URL: url}, &out)
	return out, err
}
