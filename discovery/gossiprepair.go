package discovery

import (
	"fmt"
	"time"
)

// Gossip messages other than announcements start with a kind byte that no
// announcement (a JSON object, '{') starts with.
const (
	// msgWant asks a member for its own announcement; the rest is the
	// asker's member name.
	msgWant byte = 1
	// msgOwn answers a want: the rest is the member's signed announcement.
	msgOwn byte = 2
)

// Timing of the repair of missed announcements.
const (
	// wantAfter is how long after a member joins a node waits for the
	// member's announcement to arrive by gossip before it asks the member
	// itself; each further ask waits twice as long.
	wantAfter = 2 * time.Second
	// maxWants bounds the asks per member joined.
	maxWants = 3
	// answerEvery is the shortest time between two answers to one asker.
	answerEvery = time.Second
	// maxAnswered bounds the askers remembered for answerEvery.
	maxAnswered = 4096
	// askGap is the shortest time between two asks of one node, and
	// maxAnswering bounds the answers it sends at once: when a whole
	// region starts together, gossip runs late for everyone, and asking
	// every member (measured: 40,000 asks forming a 200-member cluster,
	// each a TCP connection) would be a storm. An ask refused here counts
	// as tried; push/pull repairs what the asks leave.
	askGap       = 50 * time.Millisecond
	maxAnswering = 4
)

// Gossip is epidemic: every node passes a new announcement on a bounded
// number of times (memberlist's RetransmitMult × log10(N+1)) to random
// members. With N members that leaves a small chance, per member and
// announcement, that one member hears none of the transmissions (about
// e^-RetransmitMult·log10(N+1)·... — in a 50-node cluster one new member
// in eight was missed by someone, measured). Push/pull would repair it,
// but only every 30 s (lan) and with one random member at a time, so a
// miss took 60–90 s to heal. A node therefore asks a member that joined
// for its announcement directly, over memberlist's reliable stream, when
// gossip has not brought it within wantAfter.

// Membership is gossiped the same way (memberlist's alive messages), and
// a member can miss a new member's just as it can miss its announcement:
// it then holds the verified announcement but does not list the member,
// again until push/pull. Measured on the same cluster after the asks
// above: one new member in sixty, known everywhere only after 49–88 s. A
// node that holds a verified announcement naming a gossip address, and
// does not list that member wantAfter later, therefore exchanges state
// with it directly (memberlist's join: one TCP push/pull), once per
// announced address.

// scheduleJoin arranges for the member of a verified announcement to be
// joined directly if memberlist has not listed it by then.
func (g *Gossip) scheduleJoin(domain, addr string) {
	if domain == g.name || addr == "" {
		return
	}
	time.AfterFunc(wantAfter, func() {
		select {
		case <-g.done:
			return
		default:
		}
		if g.HasMember(domain) {
			return
		}
		key := domain + " " + addr
		g.mu.Lock()
		tried := g.joined[key]
		if !tried {
			if len(g.joined) >= maxAnswered {
				clear(g.joined)
			}
			g.joined[key] = true
		}
		g.mu.Unlock()
		if tried {
			return
		}
		g.joins.Add(1)
		if _, err := g.ml.Join([]string{addr}); err != nil && !g.HasMember(domain) {
			// Not reachable where it announced itself, and not listed
			// meanwhile: a member that went away before this node came
			// (memberlist tells of no death of a member this node never
			// knew) must not look up here.
			g.dir.SetDown(domain, addr, true)
			g.log.Debug("gossip: joining an announced member failed", "member", domain, "addr", addr, "err", err)
		}
	})
}

// scheduleWant arranges for the announcement of member name, just joined,
// to be asked of it if gossip does not bring it. NotifyJoin runs under
// memberlist's locks: the ask runs later on its own goroutine.
func (g *Gossip) scheduleWant(name string, try int) {
	if name == g.name || try >= maxWants {
		return
	}
	time.AfterFunc(wantAfter<<try, func() {
		select {
		case <-g.done:
			return
		default:
		}
		if g.heard(name) {
			return
		}
		n := g.view.get(name)
		if n == nil {
			return // gone meanwhile
		}
		if !g.mayAsk(time.Now()) {
			g.scheduleWant(name, try+1)
			return
		}
		g.wants.Add(1)
		if err := g.ml.SendReliable(n, append([]byte{msgWant}, g.name...)); err != nil {
			g.log.Debug("gossip: asking a member for its announcement failed", "member", name, "err", err)
		}
		g.scheduleWant(name, try+1)
	})
}

// heard reports whether an announcement of domain was verified, or is
// waiting for verification: either way asking for it again would only
// queue a copy (at the formation of a 200-member cluster, asking without
// this check cost 40,000 asks, one for nearly every pair of members).
func (g *Gossip) heard(domain string) bool {
	g.mu.Lock()
	done := g.relayed[domain] > 0 || g.verifying[domain] > 0
	g.mu.Unlock()
	return done || g.waiting.has(domain)
}

// mayAsk reports whether an ask may go now (at most one every askGap),
// taking the turn if so.
func (g *Gossip) mayAsk(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.nextAsk) {
		return false
	}
	g.nextAsk = now.Add(askGap)
	return true
}

// answerWant sends this node's announcement to the live member that asked
// for it, at most once every answerEvery per asker.
func (g *Gossip) answerWant(asker string) {
	now := time.Now()
	n := g.view.get(asker)
	g.mu.Lock()
	own := g.own
	last, asked := g.answered[asker]
	if n == nil || own == nil || asked && now.Sub(last) < answerEvery {
		g.mu.Unlock()
		if n == nil { // not a member: nothing is sent to strangers, nothing kept of them
			g.reject(fmt.Errorf("%w: an ask for this node's announcement from a non-member", ErrMalformed))
		}
		return
	}
	if len(g.answered) >= maxAnswered {
		clear(g.answered)
	}
	g.answered[asker] = now
	g.mu.Unlock()
	select {
	case <-g.done:
		return
	default:
	}
	select {
	case g.answering <- struct{}{}:
	default:
		return // answering enough already: the asker asks again
	}
	g.wg.Go(func() {
		defer func() { <-g.answering }()
		if err := g.ml.SendReliable(n, append([]byte{msgOwn}, own...)); err != nil {
			g.log.Debug("gossip: answering a member's ask failed", "member", asker, "err", err)
		}
	})
}
