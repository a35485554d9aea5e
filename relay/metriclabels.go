package relay

import (
	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/console"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/listing"
)

// The label values of the relay's counters, where they are known before
// anything happens. Every such series is exported from the start at 0, so
// that alerts and rate() see a fresh relay; TestCountersStartAtZero checks
// that real traffic adds no series outside these sets.
var (
	// inboundResults are the results of an inbox request, by activity
	// type; every type may also be "rejected".
	inboundResults = map[string][]string{
		string(vocab.FollowType):   {"accepted", "pending", "rejected", "duplicate"},
		string(vocab.UndoType):     {"unsubscribed", "ignored", "duplicate"},
		string(vocab.AcceptType):   {"follow_back_accepted", "relay_follow_accepted", "ignored", "duplicate"},
		string(vocab.RejectType):   {"follow_back_rejected", "relay_follow_rejected", "ignored", "duplicate"},
		string(vocab.CreateType):   {"relayed", "not_public", "limited", "duplicate"},
		string(vocab.UpdateType):   {"relayed", "not_public", "limited", "duplicate"},
		string(vocab.DeleteType):   {"relayed", "not_public", "not_deleted", "limited", "duplicate", "unverifiable"},
		string(vocab.AnnounceType): {"relayed", "not_public", "limited", "duplicate"},
		string(vocab.MoveType):     {"relayed", "not_public", "limited", "duplicate"},
		"other":                    {"ignored"},
	}
	// rejectReasons are why an inbox request is refused.
	rejectReasons = []string{"actor_fetch", "ambiguous_json", "attribution", "busy", "follow_object", "internal", "invalid", "invalid_listing",
		"method", "not_found", "not_subscriber", "object_fetch", "policy", "proof", "rate_limited", "read", "signature", "slow_client", "too_large"}
	// signatureReasons add the relay's own checks to httpsig's.
	signatureReasons = append(httpsig.Reasons(), "key_owner", "key_fetch", "unproven_rotation", "wrong_host", "proof_bad", "proof_invalid")
	// deliveryResults are the outcomes of a delivery.
	deliveryResults = []string{"delivered", "failed", "dead", "deferred", "expired", "blocked", "unsubscribed"}
	// subscriptionEvents happen to subscriptions.
	subscriptionEvents = []string{"requested", "accepted", "rejected", "removed"}
	// relayedObjectResults are the results of reading a passed-on listing.
	relayedObjectResults = []string{"listing", "fetch_failed", "not_listing", "invalid", "mismatch"}
	// policyActions are the refusals of moderation, counted by the
	// source of the rule (ruleSource): "filter" is a rule's filter.
	policyActions = []policy.Action{policy.Reject, policy.Suspend, "filter"}
	policySources = []string{"manual", "list", "default"}
)

// initLabels exports every known series of the counters at 0.
// The labels of the DFC bridges' metrics.
var (
	bridgeSyncResults  = []string{"ok", "not_modified", "failed"}
	bridgeItemOutcomes = []string{"created", "updated", "renewed", "deleted", "unchanged", "sold_out", "skipped"}
)

func (m *metrics) initLabels() {
	for typ, results := range inboundResults {
		for _, r := range append(results, "rejected") {
			m.inbound.WithLabelValues(typ, r)
		}
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, k := range httpsig.Kinds() {
		m.verified.WithLabelValues(string(k))
		m.knocks.WithLabelValues(string(k))
	}
	for _, r := range signatureReasons {
		m.sigFailures.WithLabelValues(r)
	}
	for _, r := range deliveryResults {
		m.deliveries.WithLabelValues(r)
	}
	for _, e := range subscriptionEvents {
		m.subscriptions.WithLabelValues(e)
	}
	for _, r := range listing.Reasons() {
		m.listingsBad.WithLabelValues(r)
	}
	for _, k := range listing.Kinds {
		m.listings.WithLabelValues(string(k))
	}
	for _, a := range policyActions {
		for _, src := range policySources {
			m.policy.WithLabelValues(string(a), src)
		}
	}
	for _, r := range append(discovery.Reasons(), "verified") {
		m.announcements.WithLabelValues(r)
	}
	for _, r := range relayedObjectResults {
		m.relayedObjects.WithLabelValues(r)
	}
	for _, r := range console.Reasons() {
		m.console.WithLabelValues(r)
	}
}
