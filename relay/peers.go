package relay

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
)

// GossipAddr is the gossip address, or "" when gossip is off.
func (s *peering) GossipAddr() string {
	if g := s.node.Load().Gossip(); g != nil {
		return g.Addr()
	}
	return ""
}

// followStates maps each relay this relay follows to its follow's state.
func (s *peering) followStates(ctx context.Context) (map[string]string, error) {
	follows, err := s.store.RelayFollows(ctx)
	if err != nil {
		return nil, err
	}
	following := make(map[string]string, len(follows))
	for _, f := range follows {
		following[f.Peer] = string(f.State)
	}
	return following, nil
}

// peerViews lists the directory with each peer's trust and policy state,
// and (for operators) the state of this relay's follow from following.
func (s *peering) peerViews(following map[string]string) []admin.Peer {
	out := []admin.Peer{}
	for _, e := range s.directory.List(time.Now()) {
		d := s.judge(policy.Subject{Peer: e.Record.Domain, Actor: e.Record.Actor})
		p := admin.Peer{Domain: e.Record.Domain, Actor: e.Record.Actor, Inbox: e.Record.Inbox, Regions: e.Record.Regions,
			Kinds: e.Record.Kinds, Software: e.Record.Software, Verified: e.Verified, Down: e.Down, LastSeen: e.LastSeen,
			Expires: e.Record.Expires, Trust: string(s.trustOf(e.Record.Domain)), Policy: string(d.Action),
			Following: following[e.Record.Domain]}
		for _, src := range e.Sources {
			p.Sources = append(p.Sources, string(src))
		}
		for _, m := range e.Record.Members {
			if md := s.judge(policy.Subject{Peer: m.Domain, Actor: m.Actor}); md.Action.Blocks() {
				continue // a blocked member is not passed on
			}
			p.Members = append(p.Members, m)
		}
		out = append(out, p)
	}
	return out
}

// AddPeer fetches the announcement a peer serves at baseURL, verifies it
// against the peer's own actor and adds it to the directory (source
// manual).
func (s *peering) AddPeer(ctx context.Context, baseURL string) (discovery.Record, error) {
	peer, err := policy.PeerOf(baseURL)
	if err != nil {
		return discovery.Record{}, fmt.Errorf("%w: %v", policy.ErrBadRule, err)
	}
	u, _ := url.Parse(baseURL) // PeerOf parsed it already
	body, err := s.fetch.Get(ctx, u.Scheme+"://"+u.Host+"/.well-known/runrig-announcement")
	if err != nil {
		return discovery.Record{}, err
	}
	rec, err := s.VerifyAnnouncement(ctx, body)
	if err != nil {
		return rec, err
	}
	if rec.Domain != peer {
		return rec, fmt.Errorf("%w: %s announces %s", discovery.ErrMalformed, peer, rec.Domain)
	}
	s.directory.Put(rec, body, discovery.SourceManual, time.Now())
	s.log.Info("peer added to the directory by hand", "peer", peer)
	return rec, nil
}

// Peers lists the directory for operators; with region or kind, only the
// verified, unblocked peers (or their members) serving that region and
// carrying that kind. With lookup it asks the DHT first.
func (s *peering) Peers(ctx context.Context, region, kind string, lookup bool) ([]admin.Peer, error) {
	if lookup {
		if err := s.node.Load().Lookup(ctx, region, kind); err != nil {
			return nil, err
		}
	}
	following, err := s.followStates(ctx)
	if err != nil {
		return nil, err
	}
	views := s.peerViews(following)
	if region == "" && kind == "" {
		return views, nil
	}
	out := []admin.Peer{}
	for _, p := range views {
		if !p.Verified || policy.Action(p.Policy).Blocks() {
			continue
		}
		var members []admin.Member
		for _, m := range p.Members {
			if discovery.Matches(m.Regions, region) && discovery.Matches(m.Kinds, kind) {
				members = append(members, m)
			}
		}
		if (discovery.Matches(p.Regions, region) && discovery.Matches(p.Kinds, kind)) || len(members) > 0 {
			p.Members = members
			out = append(out, p)
		}
	}
	return out, nil
}

// federate follows the directory's relays, then names the relays followed
// to the directory as peers to keep when it is full.
func (s *Server) federate(ctx context.Context) error {
	err := s.svc.federation.Federate(ctx)
	follows, ferr := s.store.RelayFollows(ctx)
	if ferr != nil {
		return errors.Join(err, fmt.Errorf("relays followed: %w", ferr))
	}
	peers := make([]string, 0, len(follows))
	for _, f := range follows {
		peers = append(peers, f.Peer)
	}
	s.directory.Keep(peers)
	return err
}
