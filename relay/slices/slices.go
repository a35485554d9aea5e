// Package slices names the relay's followable actors. A slice is a
// followable actor for part of the relay's traffic: one per listing kind
// and one per configured region, and the directory actor. The relay actor
// itself is the slice "" (everything). A server follows a slice with the
// same Mastodon or LitePub handshake it uses for the relay, and receives
// only that slice's listings, announced by the slice actor.
package slices

import (
	"sort"
	"strings"

	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// Directory is the actor a subscribed server follows to opt in to
// discovery: it is then listed in the relay's signed announcement. No
// listings are routed to it.
const Directory = "directory"

// Slice is one followable actor.
type Slice struct {
	// Name is the actor's name: "offers", "requests", "surplus",
	// "region-CODE" or "directory".
	Name string
	// Kind is set for kind slices, Region for region slices.
	Kind   listing.Kind
	Region string
}

// kindSlice names the slice of each listing kind.
var kindSlice = map[listing.Kind]string{listing.Offer: "offers", listing.Request: "requests", listing.Surplus: "surplus"}

// summaries describe what each kind of slice carries.
var summaries = map[string]string{
	"offers":   "Offers of products from producers, relayed by this relay.",
	"requests": "Wholesale requests from buyers, relayed by this relay.",
	"surplus":  "Surplus food to be picked up before a deadline, relayed by this relay.",
	Directory: "Follow this actor to have your server listed, with the regions and kinds you follow here, " +
		"in this relay's signed discovery announcement.",
}

// Set is the slices of one relay. It never changes after New.
type Set struct {
	publicURL, actorID string
	regions            []Region
	m                  map[string]Slice
}

// New returns the slices of a relay at publicURL whose actor is actorID,
// serving the regions given.
func New(publicURL, actorID string, regions []Region) *Set {
	m := map[string]Slice{}
	for k, name := range kindSlice {
		m[name] = Slice{Name: name, Kind: k}
	}
	for _, r := range regions {
		m["region-"+r.Code] = Slice{Name: "region-" + r.Code, Region: r.Code}
	}
	m[Directory] = Slice{Name: Directory}
	return &Set{publicURL: publicURL, actorID: actorID, regions: regions, m: m}
}

// Get returns the slice name.
func (s *Set) Get(name string) (Slice, bool) {
	sl, ok := s.m[name]
	return sl, ok
}

// All returns every slice, by name.
func (s *Set) All() map[string]Slice { return s.m }

// Names lists the slices, kinds first, then regions.
func (s *Set) Names() []string {
	var names []string
	for n := range s.m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := strings.HasPrefix(names[i], "region-"), strings.HasPrefix(names[j], "region-")
		if ri != rj {
			return rj
		}
		return names[i] < names[j]
	})
	return names
}

// Known reports whether name is the relay itself ("") or one of its
// slices.
func (s *Set) Known(name string) bool {
	_, ok := s.m[name]
	return name == "" || ok
}

// Actor is the IRI of a slice's actor; "" is the relay actor.
func (s *Set) Actor(name string) string {
	if name == "" {
		return s.actorID
	}
	return s.publicURL + "/actors/" + name
}

// KeyID is the key id a slice's deliveries are signed with; "" means the
// relay actor's key.
func (s *Set) KeyID(name string) string {
	if name == "" {
		return ""
	}
	return s.Actor(name) + "#main-key"
}

// OfActor maps an actor IRI to its slice name.
func (s *Set) OfActor(iri string) (string, bool) {
	if iri == s.actorID {
		return "", true
	}
	name, ok := strings.CutPrefix(iri, s.publicURL+"/actors/")
	if !ok {
		return "", false
	}
	_, known := s.m[name]
	return name, known
}

// Of returns the slices a listing belongs to: its kind's and those of the
// configured regions it reaches.
func (s *Set) Of(rec *store.ListingRecord) []string {
	if rec == nil {
		return nil
	}
	out := []string{kindSlice[listing.Kind(rec.Kind)]}
	for _, code := range rec.Regions {
		if _, ok := s.m["region-"+code]; ok {
			out = append(out, "region-"+code)
		}
	}
	return out
}

// Summary says what a slice carries.
func (s *Set) Summary(name string) string {
	if sl := s.m[name]; sl.Region != "" {
		return "Listings for the region " + sl.Region + ", relayed by this relay."
	}
	return summaries[name]
}
