package discovery

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberView is this node's own copy of the cluster's live members, kept
// from memberlist's events (the nodes memberlist hands out change under
// its lock), and the digest of it that members compare
// (gossipdigest.go). It is safe for concurrent use.
type memberView struct {
	self string // this node's name

	// mu guards the following fields.
	mu      sync.Mutex
	members map[string]*memberlist.Node // live members, copied
	// hash is the XOR of the listed members' name hashes: it needs no
	// order and follows joins and leaves in O(1).
	hash uint64
	// differSince is when members' digests began to differ from this
	// list (zero: no difference standing), lastDiffer the last digest
	// that differed, lastPull the last state exchange over a difference.
	differSince, lastDiffer, lastPull time.Time
}

func newMemberView(self string) *memberView {
	return &memberView{self: self, members: map[string]*memberlist.Node{}}
}

// nameHash is a member name's share of the list's hash.
func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// note keeps a copy of a live member's address, or forgets it when it is
// gone. Memberlist calls its event delegate under its lock, where the node
// may be read.
func (v *memberView) note(n *memberlist.Node, live bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, listed := v.members[n.Name]; listed != live { // the list changes: its digest too
		v.hash ^= nameHash(n.Name)
		v.differSince = time.Time{}
	}
	if !live {
		delete(v.members, n.Name)
		return
	}
	v.members[n.Name] = &memberlist.Node{Name: n.Name, Addr: slices.Clone(n.Addr), Port: n.Port}
}

// get is the live member named name, or nil.
func (v *memberView) get(name string) *memberlist.Node {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.members[name]
}

// others returns up to k live members other than this node, at random.
func (v *memberView) others(k int) []*memberlist.Node {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []*memberlist.Node
	names := make([]string, 0, len(v.members))
	for name := range v.members {
		if name != v.self {
			names = append(names, name)
		}
	}
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names[:min(k, len(names))] {
		out = append(out, v.members[name])
	}
	return out
}

// digest returns this node's digest of the list and a random other member
// to send it to (nil when alone).
func (v *memberView) digest() (*memberlist.Node, []byte) {
	to := v.others(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	msg := make([]byte, digestLen)
	msg[0] = msgDigest
	binary.BigEndian.PutUint32(msg[1:], uint32(len(v.members)))
	binary.BigEndian.PutUint64(msg[5:], v.hash)
	if len(to) == 0 {
		return nil, msg
	}
	return to[0], msg
}

// compare takes a member's digest (count, hash) received at now and
// returns the member to exchange state with when the list has differed
// from the digests for digestSettle, unchanged, and no exchange was made
// within digestPullEvery; nil otherwise.
func (v *memberView) compare(count uint32, hash uint64, now time.Time) *memberlist.Node {
	v.mu.Lock()
	if int(count) == len(v.members) && hash == v.hash {
		v.mu.Unlock()
		return nil
	}
	if v.differSince.IsZero() || now.Sub(v.lastDiffer) > digestGap {
		v.differSince = now
	}
	v.lastDiffer = now
	pull := now.Sub(v.differSince) >= digestSettle && now.Sub(v.lastPull) >= digestPullEvery
	if pull {
		v.lastPull, v.differSince = now, time.Time{}
	}
	v.mu.Unlock()
	if !pull {
		return nil
	}
	if with := v.others(1); len(with) > 0 {
		return with[0]
	}
	return nil
}
