// Package discovery is how relays and the servers they serve find each
// other, with no central authority:
//
//   - announcements (record.go): a relay's signed record of what it is
//     (actor, inbox, regions, listing kinds, member servers), signed with an
//     Ed25519 key its own actor lists (FEP-521a), verified by [Verifier];
//   - the wide-area DHT (dht.go, dhtrecord.go): a private libp2p Kademlia
//     DHT where each relay publishes its announcement under its peer id
//     and providers are found by region and kind;
//   - regional gossip (gossip.go, verifyqueue.go): a memberlist cluster
//     spreading announcements, each verified (fairly and within bounded
//     time) before it enters the directory or is passed on, with repairs
//     for what epidemic gossip misses: asks for missed announcements and
//     joins of announced members (gossiprepair.go), digests of the member
//     list (gossipmembers.go, gossipdigest.go) and reconnection to failed
//     members, which heals a cut region (gossipreconnect.go);
//   - the [Directory] (directory.go): what the layers and operators say
//     about peers, verified announcements only;
//   - the well-known documents (wellknown.go): WebFinger (RFC 7033),
//     NodeInfo 2.1 and host-meta (RFC 6415), by which fediverse software
//     resolves a relay's actor and learns what it runs;
//   - the [Node] (node.go): a relay's part in all of it, joining the
//     configured layers, announcing the relay again before its
//     announcement expires and looking up peers.
//
// The package never imports the relay: the relay hands the node what to
// announce ([Describe]), how to sign it ([Signer]), a [Verify] function and
// a [Directory], and reads the directory back.
package discovery
