// Package trust keeps what the relay knows about its peers' keys and how
// far it trusts them.
//
// [Keys] caches the public keys that sign peers' requests, fetching them on
// first use (within a share of fetches per host and requester) and
// refetching once when a signature fails (key rotation), with refetches
// rate-limited per key so a peer cannot make the relay fetch on every
// request; failures are remembered briefly.
//
// [Pins] pins the first key that verified for a key id (trust on first
// use) and accepts a different one only as a rotation proven over HTTPS,
// reported and recorded through the [PinStore] the relay provides.
//
// [Limiter] bounds each peer's inbound rate, scaled by the trust [Level] a
// moderator gives it.
package trust
