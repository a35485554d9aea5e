package subscription

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/sqlite"
)

func TestSliceLabel(t *testing.T) {
	for in, want := range map[string]string{"": "relay", "offers": "offers", "region-it-bg": "region-it-bg"} {
		if got := SliceLabel(in); got != want {
			t.Errorf("SliceLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Accepted is true for a peer with any accepted subscription, to the relay
// or to a slice, and false for pending, rejected and unknown peers.
func TestAccepted(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	for i, sub := range []store.Subscriber{
		{Slice: "", Peer: "pending.example", State: store.Pending},
		{Slice: "", Peer: "rejected.example", State: store.Rejected},
		{Slice: "", Peer: "slice.example", State: store.Pending},
		{Slice: "offers", Peer: "slice.example", State: store.Accepted},
		{Slice: "", Peer: "relay.example", State: store.Accepted},
	} {
		sub.Actor, sub.Inbox, sub.FollowID = "https://"+sub.Peer+"/actor", "https://"+sub.Peer+"/inbox", "https://"+sub.Peer+"/f/"+sub.Slice
		sub.Style, sub.CreatedAt, sub.UpdatedAt = store.Mastodon, now, now
		if err := db.Apply(ctx, store.Change{Seen: sub.FollowID, Upsert: &sub}); err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
	}
	s := New(Config{Store: db})
	tests := map[string]bool{"pending.example": false, "rejected.example": false, "slice.example": true,
		"relay.example": true, "unknown.example": false}
	for peer, want := range tests {
		got, err := s.Accepted(ctx, peer)
		if err != nil || got != want {
			t.Errorf("Accepted(%s) = %v, %v; want %v", peer, got, err, want)
		}
	}
	if !errors.Is(ErrNoSubscriber, store.ErrNotFound) {
		t.Error("ErrNoSubscriber is not store.ErrNotFound: the admin API would not answer 404")
	}
}
