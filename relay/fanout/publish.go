package fanout

import (
	"context"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// Local is an activity by one of the relay's own actors (a DFC bridge),
// delivered as it is, signed with that actor's key.
type Local struct {
	// Body is the activity; ID its id; KeyID the key it is signed with.
	Body      []byte
	ID, KeyID string
	// Listing is the listing a Create or Update puts in the index;
	// Previous the version it replaces or a Delete removes, whose slices'
	// followers hold it.
	Listing, Previous *store.ListingRecord
	// Delete removes Previous from the index.
	Delete bool
	// Change is what else commits with the deliveries.
	Change store.Change
}

// Publish queues a local activity for every subscriber of the relay and of
// the slices its listing belongs to (both versions' for an Update or
// Delete), in one transaction with the index and l.Change.
func (s *Service) Publish(ctx context.Context, l Local) error {
	now := time.Now()
	names := s.cfg.Slices.Of(l.Listing)
	if l.Previous != nil {
		names = union(names, s.cfg.Slices.Of(l.Previous))
	}
	change := l.Change
	change.PutListing = l.Listing
	var expires time.Time
	if l.Listing != nil {
		expires = l.Listing.End
	}
	if l.Delete && l.Previous != nil {
		change.DeleteListing = &store.ListingDelete{ID: l.Previous.ID, Actor: l.Previous.Actor}
	}
	for _, name := range append([]string{""}, names...) {
		targets, err := s.targets(ctx, name, func(store.Subscriber) bool { return false })
		if err != nil {
			return err
		}
		if len(targets) > 0 {
			change.Messages = append(change.Messages, store.Message{ActivityID: l.ID, Body: l.Body, At: now,
				Expires: expires, KeyID: l.KeyID, ToSubscribers: true, Targets: targets})
		}
	}
	if err := s.cfg.Store.Apply(ctx, change); err != nil {
		return err
	}
	s.cfg.Notify()
	return nil
}
