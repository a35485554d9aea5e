package discovery

import (
	"encoding/binary"
	"fmt"
	"time"
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
		to, msg := g.view.digest()
		if to == nil || g.stopped() {
			continue
		}
		if err := g.ml.SendBestEffort(to, msg); err != nil {
			g.log.Debug("gossip: sending the membership digest failed", "member", to.Name, "err", err)
		}
	}
}

// receiveDigest compares a member's digest with this node's list and,
// when they have differed for digestSettle (this node's list unchanged),
// exchanges state with a member picked at random.
func (g *Gossip) receiveDigest(b []byte) {
	if len(b) != digestLen {
		g.reject(fmt.Errorf("%w: a membership digest of %d bytes", ErrMalformed, len(b)))
		return
	}
	with := g.view.compare(binary.BigEndian.Uint32(b[1:]), binary.BigEndian.Uint64(b[5:]), time.Now())
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
