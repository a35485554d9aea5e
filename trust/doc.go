// Package trust keeps what the relay knows about its peers' keys.
//
// [Keys] caches the public keys that sign peers' requests, fetching them on
// first use and refetching once when a signature fails (key rotation), with
// refetches rate-limited per key so a peer cannot make the relay fetch on
// every request.
package trust
