package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
)

// Announcements.
const (
	settingAnnounceKey = "announce_key"
	// announceValidity is how long an announcement of this relay is valid.
	announceValidity = discovery.DefaultValidity
)

// peering is the relay's part in discovery: its signed announcement, the
// directory of peers, verification of theirs, and the discovery node.
type peering struct {
	*Server

	// announceKey signs discovery announcements (FEP-521a assertionMethod).
	announceKey   ed25519.PrivateKey
	announcements *discovery.Verifier
	directory     *discovery.Directory
	// node is this relay's part in discovery, replaced when Serve joins
	// the configured layers, while scrapes may already read it.
	node atomic.Pointer[discovery.Node]
}

// announceKeyID is the id of the relay's announcement key, listed in its
// actor's assertionMethod.
func (s *peering) announceKeyID() string { return httpsig.Ed25519KeyID(s.actorID) }

// loadAnnounceKey returns the Ed25519 announcement key, creating it on
// first start.
func (s *peering) loadAnnounceKey(ctx context.Context) (ed25519.PrivateKey, error) {
	return s.loadEd25519(ctx, settingAnnounceKey, "announcement key")
}

// loadEd25519 returns the Ed25519 key kept in a setting, creating it on
// first start.
func (s *peering) loadEd25519(ctx context.Context, setting, what string) (ed25519.PrivateKey, error) {
	v, err := s.store.Setting(ctx, setting)
	if errors.Is(err, store.ErrNotFound) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		v, err = s.store.InitSetting(ctx, setting, base64.StdEncoding.EncodeToString(priv.Seed()))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	seed, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: stored key is not an Ed25519 seed", what)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// members lists the subscribed servers that opted in to discovery, with
// the regions and listing kinds of the slices they follow.
func (s *peering) members(ctx context.Context) ([]discovery.Member, error) {
	optedIn, err := s.store.SubscribersIn(ctx, slices.Directory, store.Accepted)
	if err != nil || len(optedIn) == 0 {
		return nil, err
	}
	// One query per slice, not per member: the slices are few.
	regions, kinds := map[string][]string{}, map[string][]string{}
	for name, sl := range s.slices.All() {
		if sl.Region == "" && sl.Kind == "" {
			continue
		}
		subs, err := s.store.SubscribersIn(ctx, name, store.Accepted)
		if err != nil {
			return nil, err
		}
		for _, sub := range subs {
			if sl.Region != "" {
				regions[sub.Peer] = append(regions[sub.Peer], sl.Region)
			} else {
				kinds[sub.Peer] = append(kinds[sub.Peer], string(sl.Kind))
			}
		}
	}
	var out []discovery.Member
	for _, sub := range optedIn {
		if len(out) >= discovery.MaxMembers {
			break
		}
		m := discovery.Member{Domain: sub.Peer, Actor: sub.Actor, Regions: regions[sub.Peer], Kinds: kinds[sub.Peer]}
		sort.Strings(m.Regions)
		sort.Strings(m.Kinds)
		out = append(out, m)
	}
	return out, nil
}

// Announcement returns this relay's signed announcement.
func (s *peering) Announcement(ctx context.Context) ([]byte, error) {
	return s.node.Load().Announcement(ctx)
}

// describe is what this relay announces of itself (discovery.Describe).
func (s *peering) describe(ctx context.Context) (discovery.Record, error) {
	members, err := s.members(ctx)
	if err != nil {
		return discovery.Record{}, err
	}
	r := discovery.Record{Domain: s.host, Actor: s.actorID, Inbox: s.inboxID, Software: softwareName + " " + Version, Members: members}
	for _, reg := range s.cfg.Regions {
		r.Regions = append(r.Regions, reg.Code)
	}
	for _, k := range listing.Kinds {
		r.Kinds = append(r.Kinds, string(k))
	}
	return r, nil
}

// signAnnouncement signs a record with the announcement key
// (discovery.Signer).
func (s *peering) signAnnouncement(r discovery.Record) ([]byte, error) {
	return discovery.Sign(r, s.announceKeyID(), s.announceKey)
}

// VerifyAnnouncement verifies another node's signed announcement against
// the domain it names, and against the moderation rules.
func (s *peering) VerifyAnnouncement(ctx context.Context, b []byte) (discovery.Record, error) {
	r, err := s.announcements.Verify(ctx, b)
	if err != nil {
		reason := discovery.Reason(err)
		s.metrics.announcements.WithLabelValues(reason).Inc()
		if !errors.Is(err, discovery.ErrReplay) { // a replay is gossip repeating itself
			domain := r.Domain
			if domain == "" {
				domain = "unknown"
			}
			s.peerLog.Warn(domain, "announcement_"+reason, "discovery announcement refused", "err", err)
		}
		return r, err
	}
	s.metrics.announcements.WithLabelValues("verified").Inc()
	return r, nil
}
