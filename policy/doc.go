// Package policy decides which peers and network destinations the relay
// deals with.
//
// A peer is identified by the authority of its URLs, host[:port]
// (see [PeerOf]); every rule and every admin command names peers that way.
// [Egress] guards outbound connections so that a peer cannot make the relay
// fetch from loopback or private networks unless the operator allows it.
package policy
