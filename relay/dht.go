package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/runrig/runrig/discovery"
)

// DHT timing.
const (
	settingDHTKey = "dht_key"
	// dhtRetryMin and dhtRetryMax bound how soon a failed publication is
	// tried again (the routing table may still be empty: the first relay
	// of a network waits for a second one); the wait doubles in between.
	dhtRetryMin = time.Second
	dhtRetryMax = time.Minute
	// dhtLookupTimeout bounds one lookup.
	dhtLookupTimeout = time.Minute
)

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

// startDHT joins the wide-area DHT when configured: it publishes this
// relay's announcement (again before it expires), and looks up peers
// now and then.
func (s *Server) startDHT(ctx context.Context) error {
	dc := s.cfg.DHT
	if len(dc.Listen) == 0 {
		return nil
	}
	seed, err := s.loadEd25519(ctx, settingDHTKey, "dht identity")
	if err != nil {
		return err
	}
	id, err := crypto.UnmarshalEd25519PrivateKey(seed)
	if err != nil {
		return fmt.Errorf("dht identity: %w", err)
	}
	d, err := discovery.StartDHT(ctx, discovery.DHTConfig{Identity: id, Listen: dc.Listen, Bootstrap: dc.Bootstrap,
		AllowPrivate: s.cfg.AllowPrivateNetworks, Logger: s.log.With("component", "dht")}, s.VerifyAnnouncement, s.directory)
	if err != nil {
		return err
	}
	d.OnRejected = func(err error) {
		s.metrics.announcements.WithLabelValues(discovery.Reason(err)).Inc()
		s.peerLog.Warn("dht", discovery.Reason(err), "DHT record refused", "err", err)
	}
	s.dht.Store(d)
	s.bg.Go(func() {
		s.publishDHT(ctx)
		d.Close()
	})
	s.bg.Go(func() {
		s.every(ctx, dc.LookupInterval, true, "looking up peers in the DHT", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, dhtLookupTimeout)
			defer cancel()
			_, err := d.Lookup(ctx, "", "")
			return err
		})
	})
	s.log.Info("joined the DHT", "peer_id", d.PeerID().String(), "addrs", d.Addrs(), "routing_table", d.RoutingTableSize())
	return nil
}

// publishDHT publishes the announcement until ctx ends: again at half its
// validity, or soon after a failure.
func (s *Server) publishDHT(ctx context.Context) {
	retry := dhtRetryMin
	for {
		wait := announceValidity / 2
		b, err := s.Announcement(ctx)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, dhtLookupTimeout)
			err = s.dht.Load().Publish(pctx, b)
			cancel()
		}
		switch {
		case err == nil:
			retry = dhtRetryMin
		case ctx.Err() == nil:
			if retry >= 8*time.Second { // the first quick retries are expected
				s.log.Warn("publishing the announcement in the DHT; retrying", "err", err, "in", retry)
			}
			wait, retry = retry, min(2*retry, dhtRetryMax)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// lookupDHT asks the DHT for peers serving region and carrying kind, when
// the DHT is on; what it finds enters the directory.
func (s *Server) lookupDHT(ctx context.Context, region, kind string) error {
	d := s.dht.Load()
	if d == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, dhtLookupTimeout)
	defer cancel()
	_, err := d.Lookup(ctx, region, kind)
	return err
}
