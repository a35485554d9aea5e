package policy

import (
	"encoding/json"
	"time"
)

// Change is a moderation change, applied atomically with its audit
// entries by the [Store].
type Change struct {
	// Add creates rules (their ids are assigned).
	Add []Rule
	// AddUnruled, for the rules of a list, adds only those whose kind and
	// subject have no rule yet when the change commits (a rule a moderator
	// made meanwhile wins); the others get id 0. A list rule's kind and
	// subject are unique.
	AddUnruled bool
	// Remove deletes rules by id; not found if one does not exist.
	Remove []int64
	// Approve turns draft rules into live ones; not found if one is not
	// a draft.
	Approve []int64
	// Update changes rules in place, by id (not found if one is gone):
	// action, filters, comments, flags, expiry and author; the kind,
	// subject, source and creation stay.
	Update []Rule
	// DropPeers removes every subscription of these peers and every
	// delivery queued for them (a suspension).
	DropPeers []string
	// SetTrust records trust levels; level "normal" clears a setting.
	SetTrust []TrustSetting
	// PutList creates or replaces a list subscription (its fetch state
	// included); RemoveList deletes one by name.
	PutList    *ListSubscription
	RemoveList string
	// ListFetched records a sync's fetch state (last fetch and error,
	// entries, retracted) on the subscription of its name, which must
	// still exist (ErrNotFound otherwise): what an operator changed or
	// unsubscribed meanwhile, on any replica, stands.
	ListFetched *ListSubscription
	// Endorse records endorsements; Unendorse withdraws them by id.
	Endorse   []Endorsement
	Unendorse []int64
	// Audit records who did what, when and why. Required.
	Audit []AuditEntry
}

// AuditEntry is one line of the append-only audit log of moderation.
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

// TrustSetting is a moderator's trust level for a peer.
type TrustSetting struct {
	Peer   string    `json:"peer"`
	Level  string    `json:"level"`
	Reason string    `json:"reason,omitempty"`
	SetBy  string    `json:"set_by"`
	SetAt  time.Time `json:"set_at"`
}

// ListSubscription is a shared domain list the relay fetches on a
// schedule.
type ListSubscription struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Priority orders lists: a higher one is applied first, so its rule
	// wins when lists disagree about a domain.
	Priority int `json:"priority"`
	// Interval between fetches.
	Interval time.Duration `json:"interval"`
	// Draft makes new entries drafts for review (the default).
	Draft bool `json:"draft"`
	// PlainAction is the action of a plain-text list's entries.
	PlainAction string `json:"plain_action"`
	// Excludes are domains (with their subdomains) never taken from it.
	Excludes []string  `json:"excludes,omitempty"`
	Created  time.Time `json:"created"`
	Author   string    `json:"author"`
	// State of the last fetch.
	LastFetch time.Time `json:"last_fetch,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Entries are the domains the list held at its last fetch.
	Entries []string `json:"entries,omitempty"`
	// Retracted are domains the list dropped while the relay still has
	// rules from it: reported for review, never silently removed.
	Retracted []string `json:"retracted,omitempty"`
}

// Endorsement is a moderator's public opinion of another domain, in the
// spirit of Fediseer: it informs other relays' moderators and never blocks
// anything by itself.
type Endorsement struct {
	ID     int64  `json:"id"`
	Domain string `json:"domain"`
	// Kind is "endorse" or "censure".
	Kind    string    `json:"kind"`
	Reason  string    `json:"reason"`
	Author  string    `json:"author"`
	Created time.Time `json:"created"`
}
