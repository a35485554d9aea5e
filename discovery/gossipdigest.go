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
// their names: 13 bytes by UDP); a node whose own list differs from the
// digests it receives for digestSettle, while its list did not change,
// exchanges state with a member it picks at random (memberlist's join: one
// TCP push/pull, both ways, which carries the announcements too), at most
// once every digestPullEvery. Gossip brings a change everywhere in about
// a second, so a difference that lasts is a miss, not news still
// spreading. Memberlist does not say who sent a packet, so the digest
// names nobody: a member sending false digests can make a node exchange
// state once every digestPullEvery with a member of the node's choosing,
// no more.
const (
	// msgDigest carries a membership digest: the member count (4 bytes)
	// and the hash (8 bytes).
	msgDigest byte = 3
	// digestEvery is how often a node sends its digest to one member.
	digestEvery = 2 * time.Second
	// digestSettle is how long a difference must last, the node's own
	// list unchanged, before the node exchanges state over it; a
	// difference not heard of again within digestGap is over.
	digestSettle = 3 * time.Second
	digestGap    = 10 * time.Second
	// digestPullEvery is the shortest time between two state exchanges
	// a node starts over a difference: a member sending wrong digests
	// costs at most one exchange this often.
	digestPullEvery = 20 * time.Second
	// digestLen is a digest's length, kind byte included.
	digestLen = 1 + 4 + 8
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
		if to == nil || g.stopped() {
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
	msg := make([]byte, digestLen)
	msg[0] = msgDigest
	binary.BigEndian.PutUint32(msg[1:], uint32(len(g.members)))
	binary.BigEndian.PutUint64(msg[5:], g.viewHash)
	return g.randomMember(), msg
}

// randomMember is a live member other than this node, at random; nil when
// alone. g.mu must be held.
func (g *Gossip) randomMember() *memberlist.Node {
	others := len(g.members) - 1
	if _, self := g.members[g.name]; !self {
		others++
	}
	if others <= 0 {
		return nil
	}
	k := rand.IntN(others)
	for name, n := range g.members {
		if name == g.name {
			continue
		}
		if k == 0 {
			return n
		}
		k--
	}
	return nil
}

// receiveDigest compares a member's digest with this node's list and,
// when they have differed for digestSettle (this node's list unchanged),
// exchanges state with a member picked at random.
func (g *Gossip) receiveDigest(b []byte) {
	if len(b) != digestLen {
		g.reject(fmt.Errorf("%w: a membership digest of %d bytes", ErrMalformed, len(b)))
		return
	}
	count, hash := binary.BigEndian.Uint32(b[1:]), binary.BigEndian.Uint64(b[5:])
	now := time.Now()
	g.mu.Lock()
	var with *memberlist.Node
	if int(count) != len(g.members) || hash != g.viewHash {
		if g.differSince.IsZero() || now.Sub(g.lastDiffer) > digestGap {
			g.differSince = now
		}
		g.lastDiffer = now
		if now.Sub(g.differSince) >= digestSettle && now.Sub(g.lastPull) >= digestPullEvery {
			with = g.randomMember()
			g.lastPull, g.differSince = now, time.Time{}
		}
	}
	g.mu.Unlock()
	if with == nil || g.stopped() {
		return
	}
	addr := nodeAddr(with)
	go func() { // memberlist's packet handler must not wait on TCP; Shutdown does not either
		g.pulls.Add(1)
		if _, err := g.ml.Join([]string{addr}); err != nil {
			g.log.Debug("gossip: exchanging state over a membership difference failed", "member", with.Name, "err", err)
		}
	}()
}

// Pulls counts the state exchanges started because a member's digest
// differed from this node's list for digestSettle.
func (g *Gossip) Pulls() int64 { return g.pulls.Load() }
