package relay

import (
	"sort"
	"strings"

	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// A slice is a followable actor for part of the relay's traffic: one per
// listing kind and one per configured region. The relay actor itself is the
// slice "" (everything). A server follows a slice with the same Mastodon or
// LitePub handshake it uses for the relay, and receives only that slice's
// listings, announced by the slice actor.
type slice struct {
	// Name is the actor's name: "offers", "requests", "surplus" or
	// "region-CODE".
	Name string
	// Kind is set for kind slices, Region for region slices.
	Kind   listing.Kind
	Region string
}

// kindSlice names the slice of each listing kind.
var kindSlice = map[listing.Kind]string{listing.Offer: "offers", listing.Request: "requests", listing.Surplus: "surplus"}

// buildSlices returns the slices of a configuration, by name.
func buildSlices(regions []Region) map[string]slice {
	m := map[string]slice{}
	for k, name := range kindSlice {
		m[name] = slice{Name: name, Kind: k}
	}
	for _, r := range regions {
		m["region-"+r.Code] = slice{Name: "region-" + r.Code, Region: r.Code}
	}
	m[directorySlice] = slice{Name: directorySlice}
	return m
}

// directorySlice is the actor a subscribed server follows to opt in to
// discovery: it is then listed in the relay's signed announcement. No
// listings are routed to it.
const directorySlice = "directory"

// sliceNames lists the slices, kinds first, then regions.
func (s *Server) sliceNames() []string {
	var names []string
	for n := range s.slices {
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

// knownSlice reports whether name is the relay itself ("") or one of its
// slices.
func (s *Server) knownSlice(name string) bool {
	_, ok := s.slices[name]
	return name == "" || ok
}

// sliceActor is the IRI of a slice's actor; "" is the relay actor.
func (s *Server) sliceActor(name string) string {
	if name == "" {
		return s.actorID
	}
	return s.cfg.PublicURL + "/actors/" + name
}

// sliceKeyID is the key id a slice's deliveries are signed with; "" means
// the relay actor's key.
func (s *Server) sliceKeyID(name string) string {
	if name == "" {
		return ""
	}
	return s.sliceActor(name) + "#main-key"
}

// sliceOfActor maps an actor IRI to its slice name.
func (s *Server) sliceOfActor(iri string) (string, bool) {
	if iri == s.actorID {
		return "", true
	}
	name, ok := strings.CutPrefix(iri, s.cfg.PublicURL+"/actors/")
	if !ok {
		return "", false
	}
	_, known := s.slices[name]
	return name, known
}

// slicesOf returns the slices a listing belongs to: its kind's and those of
// the configured regions it reaches.
func (s *Server) slicesOf(rec *store.ListingRecord) []string {
	if rec == nil {
		return nil
	}
	out := []string{kindSlice[listing.Kind(rec.Kind)]}
	for _, code := range rec.Regions {
		if _, ok := s.slices["region-"+code]; ok {
			out = append(out, "region-"+code)
		}
	}
	return out
}
