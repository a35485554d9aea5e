// Package store defines what the relay keeps and the narrow interface it
// keeps it behind. The sqlstore sub-package implements it in SQL, opened
// by the sqlite package on an embedded database or by the postgres package
// on a PostgreSQL database that several relay replicas share (claims are
// leases with an owner, so replicas never deliver the same row at once).
package store

import (
	"context"
	"errors"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/schemes"
	"github.com/runrig/runrig/trust"
)

// Errors returned by stores, matched with errors.Is.
var (
	// ErrNotFound: no such subscriber, setting, delivery, rule or list
	// (one value with policy's, so that either package's callers match it).
	ErrNotFound = policy.ErrNotFound
	// ErrDuplicate: the activity id was seen before; nothing was changed.
	ErrDuplicate = errors.New("activity already seen")
	// ErrExists: the name is taken.
	ErrExists = errors.New("already exists")
	// ErrLocked: another process holds the store.
	ErrLocked = errors.New("store is in use by another process")
)

// Store is everything the relay persists.
type Store interface {
	Subscribers
	Queue
	Settings
	Listings
	Moderation
	Keys
	Federation
	// Accounts are the moderator console's accounts and sessions.
	Accounts() Accounts
	// Signatures remembers how each peer host takes signatures.
	Signatures() schemes.Store
	// Bridges are the DFC catalogs the relay publishes.
	Bridges() Bridges
	// Replicas are the relay processes sharing the store.
	Replicas() Replicas
	// Prune forgets seen activity ids older than before, drops payloads
	// no delivery refers to, listings that ended by now and signature
	// memory that ended by now.
	Prune(ctx context.Context, before, now time.Time) error
	// Close releases the store.
	Close() error
}

// Subscribers holds the relay's subscriptions. A peer may hold one per
// slice: the relay actor itself (slice "") and each followable slice
// actor (a listing kind or a region).
type Subscribers interface {
	// Subscriber returns peer's subscription to slice, or ErrNotFound.
	Subscriber(ctx context.Context, slice, peer string) (Subscriber, error)
	// SubscribersIn returns the subscriptions to slice in the given state.
	SubscribersIn(ctx context.Context, slice string, state SubscriptionState) ([]Subscriber, error)
	// PeerSubscriptions returns every subscription of peer.
	PeerSubscriptions(ctx context.Context, peer string) ([]Subscriber, error)
	// SubscriberStatuses returns every subscription with its delivery
	// health and queue depth, for operators.
	SubscriberStatuses(ctx context.Context) ([]SubscriberStatus, error)
	// SubscriberSummary counts the subscriptions by state, and those
	// whose every delivery has failed since before failingSince (since
	// their last success, or since they subscribed): for metrics scrapes,
	// without reading every subscription's queue.
	SubscriberSummary(ctx context.Context, failingSince time.Time) (SubscriberSummary, error)
	// SetSoftware records the software a peer runs on all its
	// subscriptions; ErrNotFound if it has none.
	SetSoftware(ctx context.Context, peer, software string) error
}

// Queue is the durable delivery queue. Work enters it only through
// [Queue.Apply], atomically with the change that caused it.
type Queue interface {
	// Apply makes c durable as one transaction: all of it or nothing. If
	// c.Seen was seen before it returns ErrDuplicate and changes nothing.
	Apply(ctx context.Context, c Change) error
	// Claim leases due deliveries for delivery by this process.
	Claim(ctx context.Context, req ClaimRequest) (Claimed, error)
	// Complete records the outcomes of claimed deliveries.
	Complete(ctx context.Context, outcomes []Outcome) error
	// Deliveries lists deliveries, oldest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// RetryDead requeues dead deliveries (all of them when ids is empty)
	// to be attempted at now, with the operator's audit entry when one
	// is given; it returns how many were requeued.
	RetryDead(ctx context.Context, ids []int64, now time.Time, audit *AuditEntry) (int, error)
	// QueueDepth counts deliveries by state.
	QueueDepth(ctx context.Context) (map[DeliveryState]int, error)
}

// Listings is the index of current listings the relay relayed. It is
// written through [Queue.Apply] with the fan-out that relays a listing.
type Listings interface {
	// Listings returns current listings (ending after q.Now) matching q,
	// soonest ending first.
	Listings(ctx context.Context, q ListingQuery) ([]ListingRecord, error)
	// Listing returns the listing with id, current or not, or ErrNotFound.
	Listing(ctx context.Context, id string) (ListingRecord, error)
}

// ListingRecord is a listing in the index.
type ListingRecord struct {
	ID, ActivityID string
	Actor, Peer    string
	Kind           string
	Name           string
	Start, End     time.Time
	Lat, Lon       *float64
	Regions        []string
	Products       []string
	// Activity is the Create or Update that carried it, as received.
	Activity   []byte
	ReceivedAt time.Time
}

// ListingQuery selects listings; empty fields match everything.
type ListingQuery struct {
	Kind, Region, Product string
	// Actor selects one author's listings.
	Actor string
	Now   time.Time
	// Limit bounds the result (default 50); Offset skips that many.
	Limit, Offset int
}

// ListingDelete removes a listing if it belongs to Actor.
type ListingDelete struct {
	ID, Actor string
}

// Moderation holds the moderators' rules and the append-only audit log of
// every change to them.
type Moderation interface {
	// Rules returns every rule, drafts and expired ones included.
	Rules(ctx context.Context) ([]policy.Rule, error)
	// Moderate applies a moderation change and its audit entries as one
	// transaction and returns the ids of the rules it added.
	Moderate(ctx context.Context, c ModerationChange) ([]int64, error)
	// Audit lists audit entries, oldest first, after the entry with id
	// AfterID, at most Limit (default 1000).
	Audit(ctx context.Context, afterID int64, limit int) ([]AuditEntry, error)
	// SearchAudit lists the newest audit entries, newest first, whose
	// who, what and subject contain the filter's (case-insensitive), at
	// most Limit (default 200).
	SearchAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// TrustLevels returns the trust level moderators set per peer.
	TrustLevels(ctx context.Context) ([]TrustSetting, error)
	// ListSubscriptions returns the shared lists the relay follows,
	// highest priority first.
	ListSubscriptions(ctx context.Context) ([]ListSubscription, error)
	// Endorsements returns the relay's own endorsements and censures.
	Endorsements(ctx context.Context) ([]Endorsement, error)
}

// Endorsement is a moderator's opinion of another domain (policy's).
type Endorsement = policy.Endorsement

// Keys holds the peers' pinned keys: the first key that verified for a
// key id, and every proven rotation since.
type Keys interface {
	// PinnedKeys returns every pinned key.
	PinnedKeys(ctx context.Context) ([]PinnedKey, error)
	// PinnedKey returns the pin of one key id, or ErrNotFound.
	PinnedKey(ctx context.Context, keyID string) (PinnedKey, error)
	// PinKey records a pin, or a rotation of one with its audit entry: a
	// pin without an audit entry never replaces one. A peer keeps at most
	// keepPerPeer pins: a new one beyond that makes the peer's pins first
	// seen longest ago go, except those a key rule names.
	PinKey(ctx context.Context, k PinnedKey, audit *AuditEntry, keepPerPeer int) error
}

// PinnedKey is the key a peer signs with, as first verified (the trust
// package's pinning policy decides what is pinned).
type PinnedKey = trust.PinnedKey

// ListSubscription is a shared list the relay follows (policy's).
type ListSubscription = policy.ListSubscription

// TrustSetting is a moderator's trust level for a peer (policy's).
type TrustSetting = policy.TrustSetting

// ModerationChange is applied atomically with its audit entries
// (policy's Change).
type ModerationChange = policy.Change

// AuditFilter selects audit entries by parts of who, what and subject;
// empty parts select all.
type AuditFilter struct {
	Who, What, Subject string
	// Since, when set, selects entries made at or after it.
	Since time.Time
	Limit int
}

// AuditEntry is one line of the audit log (policy's).
type AuditEntry = policy.AuditEntry

// Settings holds small named values such as the relay's actor key.
type Settings interface {
	// Setting returns the value of name, or ErrNotFound.
	Setting(ctx context.Context, name string) (string, error)
	// InitSetting stores value under name unless a value is already there,
	// and returns the value that is stored.
	InitSetting(ctx context.Context, name, value string) (string, error)
	// SetSetting stores value under name, with the operator's audit
	// entry, in one transaction.
	SetSetting(ctx context.Context, name, value string, audit AuditEntry) error
}

// Federation holds this relay's own subscriptions to other relays
// (relay-to-relay federation). They are written through [Queue.Apply],
// with the Follow that makes them.
type Federation interface {
	// RelayFollows returns every relay this relay follows or asked to.
	RelayFollows(ctx context.Context) ([]RelayFollow, error)
	// RelayFollow returns this relay's follow of peer, or ErrNotFound.
	RelayFollow(ctx context.Context, peer string) (RelayFollow, error)
}

// RelayFollow is this relay's subscription to another relay.
type RelayFollow struct {
	// Peer is the followed relay's authority, host[:port].
	Peer string
	// Actor and Inbox are the followed relay's actor and inbox.
	Actor string
	Inbox string
	// FollowID is the id of this relay's Follow.
	FollowID  string
	State     SubscriptionState
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RelayFollowAnswer records another relay's Accept or Reject of this
// relay's Follow.
type RelayFollowAnswer struct {
	Peer     string
	FollowID string
	State    SubscriptionState
}

// SubscriptionState is where a subscription stands.
type SubscriptionState string

// Subscription states.
const (
	Pending  SubscriptionState = "pending"
	Accepted SubscriptionState = "accepted"
	Rejected SubscriptionState = "rejected"
)

// Style is the subscription handshake a peer used.
type Style string

// Handshake styles.
const (
	// Mastodon: Follow of as:Public, answered with Accept.
	Mastodon Style = "mastodon"
	// LitePub: Follow of the relay actor, answered with Accept and a
	// Follow back.
	LitePub Style = "litepub"
)

// Subscriber is one peer's subscription to the relay or to one of its
// slices.
type Subscriber struct {
	// Slice is the slice actor followed ("surplus", "region-it-bg"), or ""
	// for the relay actor itself (everything).
	Slice string
	// Peer is the subscriber's authority, host[:port].
	Peer string
	// Actor is the IRI of the actor that followed the relay.
	Actor string
	// Inbox is where the relay delivers: the shared inbox when there is one.
	Inbox string
	// FollowID is the id of the Follow that subscribed.
	FollowID string
	Style    Style
	State    SubscriptionState
	// FollowBackID and FollowBackState track the relay's own Follow of a
	// LitePub subscriber ("", pending, accepted or rejected). Delivery
	// never waits on it.
	FollowBackID    string
	FollowBackState SubscriptionState
	// Software is the subscriber's "name version" from NodeInfo, if known.
	Software  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PeerHealth is what deliveries to a peer have shown.
type PeerHealth struct {
	LastSuccess         time.Time
	LastFailure         time.Time
	LastError           string
	ConsecutiveFailures int
	// CircuitUntil is when deliveries to the peer resume after too many
	// consecutive failures.
	CircuitUntil time.Time
	Delivered    int64
	Failed       int64
}

// SubscriberSummary is what [Subscribers.SubscriberSummary] counts.
type SubscriberSummary struct {
	ByState map[SubscriptionState]int
	Failing int
}

// SubscriberStatus is a subscription seen by an operator.
type SubscriberStatus struct {
	Subscriber
	Health PeerHealth
	// Queued counts the peer's deliveries that are not dead.
	Queued int
	// Dead counts the peer's dead deliveries.
	Dead int
}

// Change is a unit of work applied atomically.
type Change struct {
	// Seen is the id of the inbound activity that caused the change; a
	// second Change with the same Seen fails with ErrDuplicate.
	Seen string
	// SeenObject, when set, is the object an Announce shares: a second
	// Change with the same SeenObject fails with ErrDuplicate, so an object
	// reaching this relay along several paths of a relay mesh is relayed
	// once.
	SeenObject string
	// Follow creates or replaces this relay's subscription to a relay.
	Follow *RelayFollow
	// FollowAnswer records a relay's answer to this relay's Follow; it
	// fails with ErrNotFound when the follow id does not match.
	FollowAnswer *RelayFollowAnswer
	// Unfollow forgets this relay's subscription to the relay of that
	// peer.
	Unfollow string
	// Upsert creates or replaces a subscription.
	Upsert *Subscriber
	// Update replaces an existing subscription. If the peer has none (it
	// unsubscribed meanwhile) the whole Change fails with ErrNotFound:
	// an update never brings a subscription back.
	Update *Subscriber
	// FollowBack records a peer's answer to the relay's follow-back; like
	// Update, it fails with ErrNotFound when there is no such subscription
	// or the follow-back id does not match.
	FollowBack *FollowBackAnswer
	// Remove deletes a subscription and every delivery queued for it.
	Remove *SubscriptionKey
	// DropQueued deletes every delivery queued for a subscription (before
	// Messages are queued), keeping the subscription.
	DropQueued *SubscriptionKey
	// Messages are queued for delivery.
	Messages []Message
	// Audit records an operator's change in the audit log, in the same
	// transaction.
	Audit []AuditEntry
	// PutListing adds a listing to the index or, if its actor already
	// has one with that id, replaces it (an Update).
	PutListing *ListingRecord
	// DeleteListing removes a listing from the index.
	DeleteListing *ListingDelete
	// PutBridgeItem records what a bridge listed for a catalog item; it
	// fails with ErrNotFound when the bridge is gone. DeleteBridgeItem
	// forgets one.
	PutBridgeItem    *BridgeItem
	DeleteBridgeItem *BridgeItemKey
}

// SubscriptionKey names one subscription.
type SubscriptionKey struct {
	Slice, Peer string
}

// FollowBackAnswer is a LitePub subscriber's Accept or Reject of the
// relay's Follow.
type FollowBackAnswer struct {
	Slice    string
	Peer     string
	FollowID string
	State    SubscriptionState
}

// Message is one activity body to deliver to several inboxes.
type Message struct {
	// ActivityID is the id of the delivered activity, for operators.
	ActivityID string
	// Body is sent byte for byte.
	Body    []byte
	Targets []Target
	// At is when it was accepted; deliveries are due from then.
	At time.Time
	// Expires, when set, is when the message stops being worth
	// delivering (a listing's end); undelivered copies are dropped then.
	Expires time.Time
	// KeyID is the key the deliveries are signed with: a slice actor's,
	// or "" for the relay actor's.
	KeyID string
	// ToSubscribers marks a fan-out: each target is a subscription, and
	// one that is not accepted when the change commits (it ended, or was
	// rejected or suspended, after the targets were read) gets nothing.
	ToSubscribers bool
}

// Target is one inbox of one peer, for one of its subscriptions.
type Target struct {
	Peer  string
	Inbox string
	// Slice is the subscription the delivery serves ("" for the relay,
	// FarewellSlice for the end of this relay's own follow).
	Slice string
}

// FarewellSlice marks a delivery that ends this relay's own relationship
// with a peer — the Undo of its Follow of a relay the rules now refuse —
// so that the peer stops delivering. It is delivered even when the rules
// block the peer's domain (nothing else is); no subscription has this
// name (slice names are lower-case letters, digits and dashes).
const FarewellSlice = "~farewell"

// DeliveryState is where a delivery stands.
type DeliveryState string

// Delivery states.
const (
	Queued   DeliveryState = "queued"
	Retrying DeliveryState = "retrying"
	Dead     DeliveryState = "dead"
)

// Delivery is one message to one inbox.
type Delivery struct {
	ID          int64
	PayloadID   int64
	ActivityID  string
	Peer        string
	Inbox       string
	State       DeliveryState
	Attempts    int
	NextAttempt time.Time
	LastError   string
	CreatedAt   time.Time
	// Expires is the message's expiry, or zero.
	Expires time.Time
	// KeyID signs the delivery ("" for the relay actor's key).
	KeyID string
	// Slice is the subscription the delivery serves.
	Slice string
	// Owner is the replica that leased it, set by Claim; only the owner
	// records its outcome.
	Owner string
}

// ClaimRequest asks for due deliveries.
type ClaimRequest struct {
	// Now is the current time; deliveries due by then are returned.
	Now time.Time
	// Lease is how long claimed deliveries stay invisible to other claims.
	Lease time.Duration
	// Limit bounds how many are returned.
	Limit int
	// ExcludePeers are skipped (their per-peer queues are full).
	ExcludePeers []string
	// Owner is the replica claiming. A peer whose deliveries another
	// replica holds leased is skipped, so each peer is served by one
	// replica at a time.
	Owner string
	// Shards, when above 1, splits the peers among the replicas: only
	// peers whose hash modulo Shards is Shard are claimed. A store that
	// cannot hash (SQLite, one process) claims every peer.
	Shard, Shards int
}

// Claimed are leased deliveries and the bodies they send.
type Claimed struct {
	Deliveries []Delivery
	// Bodies holds each payload once, by payload id.
	Bodies map[int64][]byte
	// Expired counts deliveries dropped by this claim because their
	// message expired before it was delivered.
	Expired int
}

// Outcome is the result of one claimed delivery.
type Outcome struct {
	Delivery Delivery
	At       time.Time
	// Delivered: the inbox answered 2xx; the delivery is done.
	Delivered bool
	// Deferred: not attempted (the peer's circuit is open); only its next
	// attempt time changes.
	Deferred bool
	// Dead: failed for the last time.
	Dead bool
	// Dropped, when set, says why the delivery was not attempted and is
	// removed: "expired" (the message ended), "blocked" (moderation) or
	// "unsubscribed" (the subscription ended after it was queued).
	Dropped string
	// Err describes a failure.
	Err string
	// NextAttempt is when a failed or deferred delivery is tried again.
	NextAttempt time.Time
	// CircuitUntil, when set, pauses all deliveries to the peer until then.
	CircuitUntil time.Time
}

// DeliveryFilter selects deliveries to list.
type DeliveryFilter struct {
	// State selects one state; empty selects all.
	State DeliveryState
	// Peer selects one peer; empty selects all.
	Peer string
	// Limit bounds the list; 0 means 1000.
	Limit int
}
