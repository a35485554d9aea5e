package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/store"
)

// errNoObject: the object an Announce names could not be read from its
// server; the sender is told to try again later.
var errNoObject = errors.New("announced object unavailable")

// litePubAnnounce decides on an Announce that is not addressed to
// as:Public. Pleroma's and Akkoma's /relay actor announces each public post
// of its server to its followers only, never to as:Public; the relay is one
// of them once its follow-back was accepted. Such an Announce is relayed
// when it comes from the actor of an accepted LitePub subscription whose
// follow-back was accepted, is addressed to that actor's followers
// collection, and names by IRI, with no embedded signature, an object of
// the same server that is itself addressed to as:Public, as its server
// serves it. Failures to read the store, the actor or the object are
// returned, so that the sender retries instead of losing the post.
func (s *Service) litePubAnnounce(ctx context.Context, in *inbox.Activity) (bool, error) {
	if in.Type != vocab.AnnounceType || in.Via != "" || in.Embedded || in.ObjectType != "" ||
		in.ObjectID == "" || !policy.SameHost(in.ObjectID, in.Actor) {
		return false, nil
	}
	subs, err := s.cfg.Store.PeerSubscriptions(ctx, in.Peer)
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(subs, func(sub store.Subscriber) bool {
		return sub.Style == store.LitePub && sub.Actor == in.Actor && sub.State == store.Accepted &&
			sub.FollowBackState == store.Accepted
	})
	if i < 0 {
		return false, nil
	}
	a, err := s.cfg.Fetch.Actor(ctx, in.Actor)
	if err != nil {
		return false, inbox.Refuse(http.StatusBadGateway, "object_fetch", "reading %s: %v", in.Actor, inbox.ErrText(err))
	}
	if a.Followers == "" || !slices.Contains(in.Audience, a.Followers) {
		return false, nil
	}
	body, err := s.cfg.Fetch.Get(ctx, in.ObjectID)
	if err != nil {
		return false, inbox.Refuse(http.StatusBadGateway, "object_fetch", "%v: %s: %v", errNoObject, in.ObjectID, inbox.ErrText(err))
	}
	var obj struct {
		ID       string          `json:"id"`
		To       json.RawMessage `json:"to"`
		CC       json.RawMessage `json:"cc"`
		Audience json.RawMessage `json:"audience"`
	}
	if json.Unmarshal(body, &obj) != nil || obj.ID != in.ObjectID {
		return false, nil
	}
	for _, raw := range []json.RawMessage{obj.To, obj.CC, obj.Audience} {
		if slices.ContainsFunc(inbox.IRIs(raw), inbox.IsPublic) {
			return true, nil
		}
	}
	return false, nil
}
