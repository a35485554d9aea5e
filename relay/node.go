package relay

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/runrig/runrig/discovery"
)

// settingDHTKey holds the relay's DHT identity.
const settingDHTKey = "dht_key"

// DHTConfig configures the relay's node of the wide-area DHT.
type DHTConfig struct {
	// Listen are libp2p multiaddrs to listen on, e.g.
	// /ip4/0.0.0.0/tcp/4001; empty disables the DHT.
	Listen []string
	// Bootstrap are full multiaddrs (ending in /p2p/<peer id>) of nodes
	// to join through; `runrig admin self` prints this relay's.
	Bootstrap []string
	// LookupInterval is how often the relay looks up peers ("all") to
	// keep its directory current. Default 10 minutes.
	LookupInterval time.Duration
}

// startDiscovery starts this relay's part in discovery: the DHT and
// gossip layers that are configured (none at all is a node too: it signs
// the announcement served at /.well-known/runrig-announcement). It runs
// until ctx ends; with farewell, it then announces the relay is leaving
// (only when no other replica will go on as this relay's node).
func (s *peering) startDiscovery(ctx context.Context, farewell bool) error {
	cfg := discovery.NodeConfig{LookupInterval: s.cfg.DHT.LookupInterval, Validity: announceValidity, After: s.node.Load().LastSeq(),
		Farewell: farewell,
		Logger:   s.log.With("component", "discovery"),
		OnRejected: func(layer string, err error) {
			s.metrics.announcements.WithLabelValues(discovery.Reason(err)).Inc()
			s.peerLog.Warn(layer, discovery.Reason(err), "discovery record refused", "err", err)
		}}
	if dc := s.cfg.DHT; len(dc.Listen) > 0 {
		seed, err := s.loadEd25519(ctx, settingDHTKey, "dht identity")
		if err != nil {
			return err
		}
		id, err := crypto.UnmarshalEd25519PrivateKey(seed)
		if err != nil {
			return fmt.Errorf("dht identity: %w", err)
		}
		cfg.DHT = discovery.DHTConfig{Identity: id, Listen: dc.Listen, Bootstrap: dc.Bootstrap,
			AllowPrivate: s.cfg.AllowPrivateNetworks, Logger: s.log.With("component", "dht")}
	}
	if gc := s.cfg.Gossip; gc.Bind != "" {
		var key []byte
		if gc.Key != "" {
			k, err := base64.StdEncoding.DecodeString(gc.Key)
			if err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
				return fmt.Errorf("gossip key: want base64 of 16, 24 or 32 bytes")
			}
			key = k
		}
		cfg.Gossip = discovery.GossipConfig{Name: s.host, Bind: gc.Bind, Join: gc.Join, Profile: gc.Profile, SecretKey: key,
			Label: gc.Label, Logger: s.log.With("component", "gossip")}
	}
	n, err := discovery.StartNode(ctx, cfg, s.describe, s.signAnnouncement, s.VerifyAnnouncement, s.directory)
	if err != nil {
		return err
	}
	s.node.Store(n)
	s.bg.Go(func() { n.Run(ctx) })
	return nil
}
