package discovery

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/memberlist"
)

// Anti-entropy of membership by digest.
//
// The asks and joins of gossiprepair.go repair a member that missed a new
// member's announcement, or its alive message, but not one that missed
// both: it neither lists the member nor holds its announcement, so nothing
// tells it what it lacks, and only push/pull — every 60 s at 50 members —
// repairs it. Measured on the 50-node benchmark with the machine shared:
// two new members of 400 reached one node only after 53 and 56 s, that
// node lacking both. So every digestEvery a node sends one random member a
// digest of the members it lists (their number and an order-free hash of
// their names, a few bytes by UDP); a node whose own list differs from
// the digests it receives for digestSettle, while its list did not change,
// exchanges state with the sender (memberlist's join: one TCP push/pull,
// both ways, which carries the announcements too), at most once every
// digestPullEvery. Gossip brings a change everywhere in about a second,
// so a difference that lasts is a miss, not news still spreading.
const (
	// msgDigest carries a membership digest: the member count (4 bytes),
	// the hash (8 bytes), then the sender's member name.
	msgDigest byte = 3
	// digestEvery is how often a node sends its digest to one member.
	digestEvery = 2 * time.Second
	// digestSettle is how long a difference must last, the node's own
	// list unchanged, before the node exchanges state over it.
	digestSettle = 3 * time.Second
	// digestPullEvery is the shortest time between two state exchanges
	// a node starts over a difference: a member sending wrong digests
	// costs at most one exchange this often.
	digestPullEvery = 20 * time.Second
	// digestHeader is the digest's fixed part, kind byte included.
	digestHeader = 1 + 4 + 8
	// maxMemberName bounds a member name (a domain, host[:port]).
	maxMemberName = 260
)

// nameHash is a member name's share of the list's hash; the list's hash
// is the XOR of its members', so that it needs no order and follows joins
// and leaves in O(1).
func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// sendDigests sends the digest to one random member every digestEvery
// until the node stops.
func (g *Gossip) sendDigests() {
	t := time.NewTicker(digestEvery)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		to, msg := g.digest()
		if to == nil {
			continue
		}
		if err := g.ml.SendBestEffort(to, msg); err != nil {
			g.log.Debug("gossip: sending the membership digest failed", "member", to.Name, "err", err)
		}
	}
}

// digest returns this node's digest and a random other member to send it
// to (nil when alone).
func (g *Gossip) digest() (*memberlist.Node, []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var to *memberlist.Node
	if others := len(g.members) - 1; others > 0 {
		k := rand.IntN(others)
		for name, n := range g.members {
			if name == g.name {
				continue
			}
			if k == 0 {
				to = n
				break
			}
			k--
		}
	}
	msg := make([]byte, digestHeader, digestHeader+len(g.name))
	msg[0] = msgDigest
	binary.BigEndian.PutUint32(msg[1:], uint32(len(g.members)))
	binary.BigEndian.PutUint64(msg[5:], g.viewHash)
	return to, append(msg, g.name...)
}

// receiveDigest compares a member's digest with this node's list and,
// when they have differed for digestSettle, exchanges state with it.
func (g *Gossip) receiveDigest(b []byte) {
	if len(b) <= digestHeader || len(b) > digestHeader+maxMemberName {
		g.reject(fmt.Errorf("%w: a membership digest of %d bytes", ErrMalformed, len(b)))
		return
	}
	count, hash, sender := binary.BigEndian.Uint32(b[1:]), binary.BigEndian.Uint64(b[5:]), string(b[digestHeader:])
	now := time.Now()
	g.mu.Lock()
	n := g.members[sender]
	switch {
	case int(count) == len(g.members) && hash == g.viewHash:
		g.differSince = time.Time{}
		n = nil
	case g.differSince.IsZero():
		g.differSince = now
		n = nil
	case n == nil || now.Sub(g.differSince) < digestSettle || now.Sub(g.lastPull) < digestPullEvery:
		n = nil
	default:
		g.lastPull, g.differSince = now, time.Time{}
	}
	g.mu.Unlock()
	if n == nil {
		return
	}
	select {
	case <-g.done:
		return
	default:
	}
	addr := nodeAddr(n)
	g.wg.Go(func() { // memberlist's packet handler must not wait on TCP
		g.pulls.Add(1)
		if _, err := g.ml.Join([]string{addr}); err != nil {
			g.log.Debug("gossip: exchanging state over a membership difference failed", "member", n.Name, "err", err)
		}
	})
}

// Pulls counts the state exchanges started because a member's digest
// differed from this node's list for digestSettle.
func (g *Gossip) Pulls() int64 { return g.pulls.Load() }
