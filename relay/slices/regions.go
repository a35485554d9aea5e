package slices

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/runrig/runrig/relay/listing"
)

// Region is a region the operator serves: an ISO 3166-2 subdivision such
// as "it-bg" or a bioregion of the operator's own naming. Listings reach it
// by naming its code, addressing its actor, or lying inside its box.
type Region struct {
	// Code is lower case letters, digits and dashes.
	Code string
	// Box, when set, is {minLat, minLon, maxLat, maxLon}: listings located
	// inside it belong to the region.
	Box *[4]float64
}

var regionCode = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ParseRegions parses the regions setting: entries separated by ";", each
// CODE or CODE=minLat,minLon,maxLat,maxLon.
func ParseRegions(s string) ([]Region, error) {
	var out []Region
	seen := map[string]bool{}
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		code, box, hasBox := strings.Cut(entry, "=")
		code = strings.ToLower(strings.TrimSpace(code))
		if !regionCode.MatchString(code) {
			return nil, fmt.Errorf("region %q: codes are lower-case letters, digits and dashes", code)
		}
		if seen[code] {
			return nil, fmt.Errorf("region %q given twice", code)
		}
		seen[code] = true
		r := Region{Code: code}
		if hasBox {
			parts := strings.Split(box, ",")
			if len(parts) != 4 {
				return nil, fmt.Errorf("region %s: box must be minLat,minLon,maxLat,maxLon", code)
			}
			var b [4]float64
			for i, p := range parts {
				f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
				if err != nil {
					return nil, fmt.Errorf("region %s: %q is not a number", code, p)
				}
				b[i] = f
			}
			if b[0] > b[2] || b[1] > b[3] || b[0] < -90 || b[2] > 90 || b[1] < -180 || b[3] > 180 {
				return nil, fmt.Errorf("region %s: box out of range or min above max", code)
			}
			r.Box = &b
		}
		out = append(out, r)
	}
	return out, nil
}

// FormatRegions is the inverse of ParseRegions.
func FormatRegions(rs []Region) string {
	var parts []string
	for _, r := range rs {
		if r.Box == nil {
			parts = append(parts, r.Code)
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%g,%g,%g,%g", r.Code, r.Box[0], r.Box[1], r.Box[2], r.Box[3]))
	}
	return strings.Join(parts, ";")
}

// RegionsOf returns the region codes a listing reaches: those it names,
// those whose actor it addresses, and configured regions containing its
// location.
func (s *Set) RegionsOf(l *listing.Listing) []string {
	set := map[string]bool{}
	for _, c := range l.Regions {
		set[c] = true
	}
	for _, a := range l.Audience {
		if code, ok := strings.CutPrefix(a, s.publicURL+"/actors/region-"); ok {
			set[code] = true
		}
	}
	if l.Lat != nil {
		for _, r := range s.regions {
			if b := r.Box; b != nil && *l.Lat >= b[0] && *l.Lat <= b[2] && *l.Lon >= b[1] && *l.Lon <= b[3] {
				set[r.Code] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}
