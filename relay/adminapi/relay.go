// Package adminapi is the server side of the admin API: HTTP handlers on
// the admin socket, speaking the wire types of package admin (whose Client
// is the other side). It holds no logic of its own: every change goes to
// the relay (subscriptions, peers) or to moderation (policy.Moderator:
// rules, lists, trust, endorsements) through the small interfaces below,
// and reads go to the store through Store. It converts what they return
// into admin's wire types.
package adminapi

import (
	"context"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
	"github.com/runrig/runrig/relay/store"
)

// Services are what the admin API asks of the relay and its moderation.
type Services struct {
	Subscriptions Subscriptions
	Moderation    Moderation
	Lists         Lists
	Peers         Peers
	Moderators    Moderators
	Bridges       Bridges
	// Store is read directly.
	Store Store
	// SignsWith says how the relay signs requests to a peer now, for the
	// subscriber list (nil: not shown).
	SignsWith func(peer string) string
	// Replicas reports the relay processes sharing the store.
	Replicas interface {
		Status(ctx context.Context) (admin.Replicas, error)
	}
}

// Subscriptions are the operator's actions on subscriptions and the
// delivery queue.
type Subscriptions interface {
	// Decide accepts or rejects peer's subscription to slice.
	Decide(ctx context.Context, op policy.Operator, slice, peer string, state store.SubscriptionState) (store.Subscriber, error)
	// Remove ends peer's subscription to slice.
	Remove(ctx context.Context, op policy.Operator, slice, peer string) error
	// RetryDead requeues dead deliveries (all when ids is empty).
	RetryDead(ctx context.Context, op policy.Operator, ids []int64) (int, error)
	// Backup writes a copy of the store to path.
	Backup(ctx context.Context, path string) (int64, error)
}

// Moderation are the operator's actions on rules, trust levels and
// endorsements (policy.Moderator).
type Moderation interface {
	Rules(ctx context.Context) ([]policy.Rule, error)
	AddRule(ctx context.Context, op policy.Operator, r policy.Rule) (policy.Rule, error)
	// Preview tells what a rule would affect, without applying it.
	Preview(ctx context.Context, r policy.Rule) (policy.Affected, error)
	RemoveRule(ctx context.Context, op policy.Operator, id int64) error
	ApproveDrafts(ctx context.Context, op policy.Operator, ids []int64) ([]int64, error)
	SetTrust(ctx context.Context, op policy.Operator, peer, level string) error
	Endorse(ctx context.Context, op policy.Operator, domain, kind, reason string) error
	Unendorse(ctx context.Context, op policy.Operator, id int64) error
	// PeerEndorsements reads those published by the peers trusted.
	PeerEndorsements(ctx context.Context) ([]policy.PeerEndorsement, error)
}

// Lists are the operator's actions on shared domain lists
// (policy.Moderator).
type Lists interface {
	ImportList(ctx context.Context, op policy.Operator, imp policy.ListImport) (policy.ImportResult, error)
	ExportList(ctx context.Context, allows, obfuscate bool) ([]byte, error)
	SubscribeList(ctx context.Context, op policy.Operator, l policy.ListSubscription) (policy.ListSubscription, error)
	UnsubscribeList(ctx context.Context, op policy.Operator, name string) error
	SyncList(ctx context.Context, name string) (policy.Synced, error)
}

// Peers are the operator's view of peers and discovery.
type Peers interface {
	// Announcement is this relay's signed announcement.
	Announcement(ctx context.Context) ([]byte, error)
	// Peers lists the directory, by region and kind, after a DHT lookup
	// when lookup is set.
	Peers(ctx context.Context, region, kind string, lookup bool) ([]admin.Peer, error)
	// AddPeer adds a peer's verified announcement by hand.
	AddPeer(ctx context.Context, baseURL string) (discovery.Record, error)
	// PeerTrust lists each known peer's trust level with what the relay
	// observed of it.
	PeerTrust(ctx context.Context) ([]admin.PeerTrust, error)
}

// Store is what the admin API reads from the store directly.
type Store interface {
	SubscriberStatuses(ctx context.Context) ([]store.SubscriberStatus, error)
	Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error)
	QueueDepth(ctx context.Context) (map[store.DeliveryState]int, error)
	Audit(ctx context.Context, afterID int64, limit int) ([]store.AuditEntry, error)
	ListSubscriptions(ctx context.Context) ([]store.ListSubscription, error)
	PinnedKeys(ctx context.Context) ([]store.PinnedKey, error)
	Endorsements(ctx context.Context) ([]store.Endorsement, error)
}
