package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Replicas is what several relay processes sharing one database (replicas)
// know of each other: who is alive, with what load, and who holds each
// singleton's lease. On SQLite there is one replica.
type Replicas interface {
	// Beat records that r is alive at r.SeenAt, with its load.
	Beat(ctx context.Context, r Replica) error
	// Clock reads the store's clock. Replicas on several machines time
	// their beats and leases by it, not by their own clocks, so that one
	// whose clock is off is not thought dead, nor alive long after it
	// died.
	Clock(ctx context.Context) (time.Time, error)
	// List returns the replicas known, most recently started first.
	List(ctx context.Context) ([]Replica, error)
	// Forget removes the replicas not seen since before (they died
	// without leaving), releasing their delivery and singleton leases at
	// once; it returns their ids.
	Forget(ctx context.Context, before time.Time) ([]string, error)
	// Leave removes replica id, which is stopping, and releases its
	// leases.
	Leave(ctx context.Context, id string) error
	// Acquire takes the singleton lease name for owner until until, if it
	// is free, expired at now or already owner's (a renewal); it reports
	// whether owner holds it.
	Acquire(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	// Release gives the lease up if owner holds it.
	Release(ctx context.Context, name, owner string) error
	// Leases returns every singleton lease.
	Leases(ctx context.Context) ([]Lease, error)
}

// Replica is one relay process on the shared database.
type Replica struct {
	// ID is unique to the process (a new one at every start).
	ID string
	// Host names the machine and process, for operators.
	Host      string
	StartedAt time.Time
	SeenAt    time.Time
	// InFlight counts the deliveries it holds; Delivered and Failed count
	// its attempts since it started.
	InFlight          int
	Delivered, Failed int64
}

// Lease is a singleton's lease: the one replica that runs it, until when.
type Lease struct {
	Name  string
	Owner string
	Until time.Time
}

// Topic names what changed, for replicas that keep some of the store in
// memory.
type Topic string

// Topics of changes other replicas hear of.
const (
	// TopicQueue: deliveries were queued.
	TopicQueue Topic = "queue"
	// TopicPolicy: moderation rules, trust levels or lists changed.
	TopicPolicy Topic = "policy"
	// TopicSettings: a setting changed; the payload is its name.
	TopicSettings Topic = "settings"
	// TopicBridges: a bridge was added or removed.
	TopicBridges Topic = "bridges"
	// TopicDropped: a subscription's queued deliveries were dropped; the
	// payload is "slice peer milliseconds" (see [DroppedPayload]).
	TopicDropped Topic = "dropped"
)

// Event is a change another replica made.
type Event struct {
	Topic   Topic
	Payload string
}

// Watcher is a store that tells of other replicas' changes as they commit
// (PostgreSQL's LISTEN). Watch calls f for each until ctx ends or the
// connection fails; after a failure the caller should treat everything as
// changed, since events may have been missed.
type Watcher interface {
	Watch(ctx context.Context, f func(Event)) error
}

// DroppedPayload is the payload of a TopicDropped event: the deliveries
// for peer's subscription to slice made before cutoff are void.
func DroppedPayload(slice, peer string, cutoff time.Time) string {
	return strconv.FormatInt(cutoff.UnixMilli(), 10) + " " + peer + " " + slice
}

// ParseDropped reads a TopicDropped payload.
func ParseDropped(payload string) (slice, peer string, cutoff time.Time, err error) {
	parts := strings.SplitN(payload, " ", 3)
	if len(parts) != 3 {
		return "", "", time.Time{}, fmt.Errorf("dropped event %q: want three fields", payload)
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("dropped event %q: %w", payload, err)
	}
	return parts[2], parts[1], time.UnixMilli(n), nil
}
