package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Action is what a rule does to the peers, actors or keys it covers.
type Action string

// Actions, from the mildest.
const (
	// Noop decides nothing about admission; the rule only carries
	// filters (Mastodon's "noop" severity, e.g. with reject_media).
	Noop Action = "noop"
	// Accept federates normally; in allowlist mode it is what lets a peer
	// in, and in blocklist mode it overrides a block of a parent domain.
	Accept Action = "accept"
	// Limit accepts the peer's activities but does not fan them out to
	// the relay's everything-subscribers: its listings reach only the
	// followers of the slices they belong to (kind and regions), and its
	// other posts are not relayed. Deliveries to it continue.
	Limit Action = "limit"
	// Reject refuses the peer's requests with 403 and delivers nothing to it.
	Reject Action = "reject"
	// Suspend is Reject plus dropping every subscription and queued
	// delivery of the peer.
	Suspend Action = "suspend"
)

// ParseAction checks an action name.
func ParseAction(s string) (Action, error) {
	switch a := Action(strings.ToLower(strings.TrimSpace(s))); a {
	case Accept, Limit, Reject, Suspend, Noop:
		return a, nil
	}
	return "", fmt.Errorf("action %q: want accept, limit, reject, suspend or noop", s)
}

// Blocks reports whether the action keeps the peer out.
func (a Action) Blocks() bool { return a == Reject || a == Suspend }

// Kind is what a rule's subject names.
type Kind string

// Subject kinds, from the least specific.
const (
	// Domain rules cover a host and its subdomains on any port, or, when
	// the subject has a port, exactly that host:port.
	Domain Kind = "domain"
	// Actor rules cover one actor IRI.
	Actor Kind = "actor"
	// Key rules cover one key: its id, or its fingerprint
	// ("sha256:" and the hex SHA-256 of its SubjectPublicKeyInfo), which
	// covers the key under any id. A rule on a key id also covers the
	// fingerprint of the key pinned for that id.
	Key Kind = "key"
)

// Mode is the federation mode.
type Mode string

// Federation modes, with GoToSocial's precedence between domain rules.
const (
	// Blocklist federates with everyone not blocked; an explicit allow
	// of a domain overrides a block of it or of a parent.
	Blocklist Mode = "blocklist"
	// Allowlist federates only with allowed peers; a block overrides an
	// allow.
	Allowlist Mode = "allowlist"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Blocklist, Allowlist:
		return m, nil
	}
	return "", fmt.Errorf("federation mode %q: want blocklist or allowlist", s)
}

// Filters refuse some activities of the peers a rule covers, in the spirit
// of Pleroma's MRF. An activity a filter refuses gets 403 and is not relayed.
type Filters struct {
	// Types refuses activities whose type, or whose object's type, is
	// listed (e.g. "Announce", "Question").
	Types []string `json:"types,omitempty"`
	// Kinds refuses listings of these kinds (offer, request, surplus).
	Kinds []string `json:"kinds,omitempty"`
	// Keywords refuses activities whose text (content, name, summary)
	// contains one of them, case-insensitively.
	Keywords []string `json:"keywords,omitempty"`
	// MaxAge refuses objects published longer ago than this (0: any age).
	MaxAge time.Duration `json:"max_age,omitempty"`
	// RejectMedia refuses activities carrying media (attachments or
	// images), as Mastodon's reject_media keeps their media out.
	RejectMedia bool `json:"reject_media,omitempty"`
}

// Empty reports whether no filter is set.
func (f Filters) Empty() bool {
	return len(f.Types) == 0 && len(f.Kinds) == 0 && len(f.Keywords) == 0 && f.MaxAge == 0 && !f.RejectMedia
}

// Rule is one moderation decision.
type Rule struct {
	ID      int64   `json:"id"`
	Kind    Kind    `json:"kind"`
	Subject string  `json:"subject"`
	Action  Action  `json:"action"`
	Filters Filters `json:"filters,omitzero"`
	// PublicComment is shown with the relay's published list;
	// PrivateComment only to moderators.
	PublicComment  string `json:"public_comment,omitempty"`
	PrivateComment string `json:"private_comment,omitempty"`
	// Source is "manual" or "list:NAME" for rules that came from a list.
	Source string `json:"source"`
	// Draft rules wait for a moderator's review and do not apply.
	Draft bool `json:"draft,omitempty"`
	// Obfuscate masks the subject in the relay's published list.
	Obfuscate bool `json:"obfuscate,omitempty"`
	// RejectReports is carried for Mastodon CSV round trips.
	RejectReports bool      `json:"reject_reports,omitempty"`
	Expires       time.Time `json:"expires,omitzero"`
	Created       time.Time `json:"created"`
	Author        string    `json:"author"`
}

// Named names the rule for the audit log: its id, which is never given
// to another rule, and what it covers ("rule 3: domain spam.example").
func (r Rule) Named() string { return fmt.Sprintf("rule %d: %s %s", r.ID, r.Kind, r.Subject) }

// Live reports whether the rule applies at now.
func (r Rule) Live(now time.Time) bool {
	return !r.Draft && (r.Expires.IsZero() || now.Before(r.Expires))
}

// ErrBadRule is returned for a rule that cannot be applied.
var ErrBadRule = errors.New("bad rule")

// Normalize checks a rule and brings its subject to canonical form.
func (r *Rule) Normalize() error {
	switch r.Kind {
	case Domain:
		d := strings.TrimPrefix(strings.TrimSpace(r.Subject), "*.")
		p, err := ParsePeer(d)
		if err != nil {
			return fmt.Errorf("%w: domain %q", ErrBadRule, r.Subject)
		}
		r.Subject = p
	case Key:
		if fp, ok := ParseKeyFingerprint(r.Subject); ok {
			r.Subject = fp
			break
		}
		if _, err := PeerOf(r.Subject); err != nil {
			return fmt.Errorf("%w: key %q is neither an http(s) IRI nor a fingerprint (sha256:HEX)", ErrBadRule, r.Subject)
		}
		r.Subject = NormalizeIRI(r.Subject)
	case Actor:
		if _, err := PeerOf(r.Subject); err != nil {
			return fmt.Errorf("%w: %s %q is not an http(s) IRI", ErrBadRule, r.Kind, r.Subject)
		}
		r.Subject = NormalizeIRI(r.Subject)
	default:
		return fmt.Errorf("%w: kind %q: want domain, actor or key", ErrBadRule, r.Kind)
	}
	if _, err := ParseAction(string(r.Action)); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRule, err)
	}
	if r.Source == "" {
		r.Source = "manual"
	}
	if len(r.PublicComment) > 1000 || len(r.PrivateComment) > 5000 {
		return fmt.Errorf("%w: comment too long", ErrBadRule)
	}
	return nil
}

// fingerprintPrefix starts a key rule's subject that names a key by its
// fingerprint.
const fingerprintPrefix = "sha256:"

// ParseKeyFingerprint reads a key fingerprint subject, "sha256:" and 64
// hex digits (any case, as operators copy them), into its one spelling.
func ParseKeyFingerprint(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	hexPart, ok := strings.CutPrefix(s, fingerprintPrefix)
	if !ok || len(hexPart) != 64 {
		return "", false
	}
	for _, c := range hexPart {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return s, true
}

// KeyFingerprintSubject is the subject of a key rule covering the key with
// this fingerprint (hex SHA-256 of its SubjectPublicKeyInfo).
func KeyFingerprintSubject(fingerprint string) string {
	return fingerprintPrefix + strings.ToLower(fingerprint)
}

// Operator is who made a moderation change, and why: the audit log's who
// and why.
type Operator struct {
	// Who is the operator's user name.
	Who string
	// Why is the reason given.
	Why string
}

// ImportResult reports a list import.
type ImportResult struct {
	// Added are the rules created; Skipped the domains left alone because
	// a rule already covers them (a manual rule is never overwritten).
	Added   []Rule   `json:"added"`
	Skipped []string `json:"skipped"`
}
