// Package policy is the moderation domain: which peers and network
// destinations the relay deals with, and how moderators decide it.
//
// A peer is identified by the authority of its URLs, host[:port], in one
// spelling (see [PeerOf]); every rule and every admin command names peers
// that way. [Egress] guards outbound connections so that a peer cannot make
// the relay fetch from loopback or private networks unless the operator
// allows it.
//
// Rules ([Rule]) name a domain, an actor or a key and give an action; a
// [Set] indexes the live ones and decides for a [Subject], filters
// included. The [Moderator] holds the rule lifecycle (add with a preview
// of what it affects, remove, approve drafts), shared lists (import,
// export, subscriptions and their syncs), trust levels and endorsements,
// each change made through the small [Store] it declares, with its
// [AuditEntry].
package policy
