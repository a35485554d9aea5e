package fanout

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/store"
)

// sliceMessage builds what the subscribers of one slice ("" for the relay)
// receive for in, and to whom.
func (s *Service) sliceMessage(ctx context.Context, in *inbox.Activity, name string, now, expires time.Time) (store.Message, error) {
	msg := store.Message{ActivityID: in.ID, Body: in.Raw, At: now, Expires: expires, KeyID: s.cfg.Slices.KeyID(name)}
	if reannounced(in) {
		msg.ActivityID = s.cfg.NewID()
		body, err := s.announce(name, msg.ActivityID, in.ObjectID, now)
		if err == nil {
			body, err = withHops(body, in.Hops+1)
		}
		if err != nil {
			return msg, err
		}
		msg.Body = body
	}
	// Never back toward the origin: not to the sender, nor to the
	// object's own server. Past the hop bound, not to other relays.
	origin, _ := policy.PeerOf(in.ObjectID)
	lastHop := in.Hops+1 >= s.cfg.MaxHops
	targets, err := s.targets(ctx, name, func(t store.Subscriber) bool {
		return t.Peer == in.Peer || t.Peer == in.Via || t.Peer == origin || (lastHop && s.cfg.Relays.IsRelay(t.Peer))
	})
	msg.Targets = targets
	msg.ToSubscribers = true // one that ends before the change commits gets nothing
	return msg, err
}

// targets are the delivery inboxes of a slice's accepted subscribers ("" for
// the relay's), one per inbox, leaving out those skip names and those the
// rules block.
func (s *Service) targets(ctx context.Context, name string, skip func(store.Subscriber) bool) ([]store.Target, error) {
	subs, err := s.cfg.Store.SubscribersIn(ctx, name, store.Accepted)
	if err != nil {
		return nil, err
	}
	var out []store.Target
	seen := make(map[string]bool, len(subs))
	for _, t := range subs {
		if seen[t.Inbox] || skip(t) {
			continue
		}
		if d := s.cfg.Moderation.Judge(policy.Subject{Peer: t.Peer, Actor: t.Actor}); d.Action.Blocks() {
			s.cfg.Moderation.Refused(d)
			continue
		}
		seen[t.Inbox] = true
		out = append(out, store.Target{Peer: t.Peer, Inbox: t.Inbox, Slice: name})
	}
	return out, nil
}

// reannounced reports whether in is relayed as an Announce of its object,
// signed by this relay: a Create or Announce without an LD signature or
// proof.
func reannounced(in *inbox.Activity) bool {
	return !in.Embedded && (in.Type == vocab.CreateType || in.Type == vocab.AnnounceType)
}

// announce is an Announce of object by a slice's actor ("" for the relay).
func (s *Service) announce(name, id, object string, published time.Time) ([]byte, error) {
	actor := s.cfg.Slices.Actor(name)
	a := vocab.AnnounceNew(vocab.ID(id), vocab.IRI(object))
	a.Actor = vocab.IRI(actor)
	a.To = vocab.ItemCollection{vocab.IRI(asjson.Public)}
	followers := s.cfg.PublicURL + "/followers"
	if name != "" {
		followers = actor + "/followers"
	}
	a.CC = vocab.ItemCollection{vocab.IRI(followers)}
	a.Published = published.UTC().Truncate(time.Second)
	return asjson.Marshal(a)
}

// withHops adds the hop count to an Announce this relay builds.
func withHops(body []byte, hops int) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	m[inbox.HopsProperty] = json.RawMessage(strconv.Itoa(hops))
	return json.Marshal(m)
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range append(append([]string{}, a...), b...) {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
