package fanout

import (
	"net/http"
	"time"

	"github.com/runrig/runrig/relay/inbox"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/slices"
	"github.com/runrig/runrig/relay/store"
)

// Listings checks listings with the relay's rules and makes their index
// records; relay federation checks the listings it reads the same way.
type Listings struct {
	// Horizon and SurplusHorizon bound how far ahead a listing, and a
	// surplus listing, may end.
	Horizon, SurplusHorizon time.Duration
	// Slices places a listing in the configured regions.
	Slices *slices.Set
	// Accepted counts an accepted listing by kind; Problem each problem
	// of a refused one by reason.
	Accepted, Problem func(label string)
}

// Check validates a listing (an activity carrying a Proposal, or a bare
// Proposal) that activityID brought from peer, and returns its index
// record; an invalid one is refused with 422 and its problems.
func (l *Listings) Check(doc []byte, activityID, peer string, now time.Time) (*store.ListingRecord, error) {
	li, problems := listing.Check(doc, listing.Rules{Now: now, Horizon: l.Horizon, SurplusHorizon: l.SurplusHorizon})
	if problems != nil {
		for _, p := range problems {
			l.Problem(p.Reason)
		}
		rf := inbox.Refuse(http.StatusUnprocessableEntity, "invalid_listing", "invalid listing: %s", problems[0])
		rf.Problems = problems
		return nil, rf
	}
	l.Accepted(string(li.Kind))
	return &store.ListingRecord{ID: li.ID, ActivityID: activityID, Actor: li.Actor, Peer: peer, Kind: string(li.Kind),
		Name: li.Name, Start: li.Start, End: li.End, Lat: li.Lat, Lon: li.Lon, Regions: l.Slices.RegionsOf(li),
		Products: li.Products, Activity: doc, ReceivedAt: now}, nil
}
