package listing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/runrig/runrig/policy"
)

// Limits on a listing's size.
const (
	MaxObjectBytes = 64 << 10
	maxName        = 200
	maxText        = 5000
	maxAudience    = 32
	maxProducts    = 32
	maxRegions     = 16
)

var decimalRE = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,9})?$`)

// IsListing reports whether an activity body carries a listing: its object
// is (or, for a Delete, might be) a Proposal.
func IsListing(activity []byte) bool {
	var env struct {
		Object json.RawMessage `json:"object"`
	}
	return json.Unmarshal(activity, &env) == nil && IsProposal(env.Object)
}

// IsProposal reports whether an object (fetched on its own) is a Proposal.
func IsProposal(object []byte) bool {
	var obj struct {
		Type json.RawMessage `json:"type"`
	}
	return json.Unmarshal(object, &obj) == nil && hasType(obj.Type, "Proposal")
}

// KindOf reads a listing's kind cheaply, without checking it: for
// moderation filters that run before validation.
func KindOf(activity []byte) (Kind, bool) {
	var env struct {
		Object struct {
			Type      json.RawMessage `json:"type"`
			Purpose   string          `json:"purpose"`
			Publishes struct {
				ClassifiedAs json.RawMessage `json:"resourceClassifiedAs"`
			} `json:"publishes"`
		} `json:"object"`
	}
	if json.Unmarshal(activity, &env) != nil || !hasType(env.Object.Type, "Proposal") {
		return "", false
	}
	if bytes.Contains(env.Object.Publishes.ClassifiedAs, []byte(SurplusIRI)) {
		return Surplus, true
	}
	if strings.TrimPrefix(env.Object.Purpose, "vf:") == "request" {
		return Request, true
	}
	return Offer, true
}

func hasType(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want || one == "vf:"+want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, t := range many {
			if t == want || t == "vf:"+want {
				return true
			}
		}
	}
	return false
}

// checker collects problems while walking a document.
type checker struct {
	r        Rules
	problems []Problem
}

func (c *checker) add(path, reason, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// Check validates a listing: a Create or Update activity whose object is a
// Proposal, or a bare Proposal (as FMP developers may hold it). It returns
// the listing when there are no problems.
func Check(doc []byte, r Rules) (*Listing, []Problem) {
	c := &checker{r: r.withDefaults()}
	if len(doc) > MaxObjectBytes {
		c.add("$", ReasonTooLong, "the listing is %d bytes; at most %d", len(doc), MaxObjectBytes)
		return nil, c.problems
	}
	var top map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		c.add("$", ReasonType, "not a JSON object: %v", err)
		return nil, c.problems
	}
	l := &Listing{}
	obj, objPath := top, "$"
	if !isProposal(top) {
		l.ActivityID = c.iri(top, "$", "id", true)
		l.Actor = c.iri(top, "$", "actor", true)
		o, ok := top["object"].(map[string]any)
		if !ok {
			c.add("$.object", ReasonType, "the object must be an embedded Proposal")
			return nil, c.problems
		}
		obj, objPath = o, "$.object"
		if !isProposal(obj) {
			c.add("$.object.type", ReasonType, "the object must be a Proposal")
			return nil, c.problems
		}
	}
	c.object(obj, objPath, l)
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return l, nil
}

func isProposal(m map[string]any) bool {
	is := func(v any) bool { return v == "Proposal" || v == "vf:Proposal" }
	if list, ok := m["type"].([]any); ok {
		for _, t := range list {
			if is(t) {
				return true
			}
		}
		return false
	}
	return is(m["type"])
}

// iri reads m[key] as an http(s) IRI.
func (c *checker) iri(m map[string]any, path, key string, required bool) string {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			c.add(path+"."+key, ReasonMissing, "%s is required", key)
		}
		return ""
	}
	if o, ok := v.(map[string]any); ok { // an embedded object: use its id
		v = o["id"]
	}
	s, ok := v.(string)
	if !ok {
		c.add(path+"."+key, ReasonType, "%s must be an IRI", key)
		return ""
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		c.add(path+"."+key, ReasonType, "%s must be an http(s) IRI, got %q", key, trunc(s))
		return ""
	}
	return s
}

func (c *checker) object(o map[string]any, path string, l *Listing) {
	l.ID = c.iri(o, path, "id", true)
	attributed := c.iri(o, path, "attributedTo", l.Actor == "")
	switch {
	case l.Actor == "":
		l.Actor = attributed
	case attributed != "" && attributed != l.Actor:
		c.add(path+".attributedTo", ReasonActor, "attributedTo %s is not the activity's actor %s", attributed, l.Actor)
	}
	c.sameHost(path+".id", l.ID, l.Actor)
	if l.ActivityID != "" {
		c.sameHost("$.id", l.ActivityID, l.Actor)
	}
	l.Name = c.text(o, path, "name", maxName, true)
	c.text(o, path, "summary", maxText, false)
	c.text(o, path, "content", maxText, false)

	purpose, _ := o["purpose"].(string)
	switch strings.TrimPrefix(purpose, "vf:") {
	case "offer":
		l.Kind = Offer
	case "request":
		l.Kind = Request
	case "":
		c.add(path+".purpose", ReasonMissing, `purpose is required: "offer" or "request"`)
	default:
		c.add(path+".purpose", ReasonPurpose, `purpose must be "offer" or "request", got %q`, trunc(purpose))
	}

	primary, ok := o["publishes"].(map[string]any)
	if !ok {
		c.add(path+".publishes", ReasonMissing, "publishes (the primary Intent) is required")
	} else {
		c.primary(primary, path+".publishes", l)
	}
	if rec, ok := o["reciprocal"]; ok && rec != nil {
		if m, ok := rec.(map[string]any); ok {
			c.reciprocal(m, path+".reciprocal", l)
		} else {
			c.add(path+".reciprocal", ReasonType, "reciprocal must be an Intent")
		}
	}
	c.times(o, path, l)
	c.location(o, path, l)
	c.addressing(o, path, l)
}

func (c *checker) sameHost(path, iri, actor string) {
	if iri == "" || actor == "" {
		return
	}
	if !policy.SameHost(iri, actor) { // an IRI that does not parse is on no host
		host, _ := policy.PeerOf(actor)
		c.add(path, ReasonHost, "%s is not on the actor's host %s", trunc(iri), host)
	}
}

func (c *checker) text(m map[string]any, path, key string, max int, required bool) string {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			c.add(path+"."+key, ReasonMissing, "%s is required", key)
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		if _, isMap := v.(map[string]any); isMap && key != "name" { // a language map
			return ""
		}
		c.add(path+"."+key, ReasonType, "%s must be a string", key)
		return ""
	}
	if n := utf8.RuneCountInString(s); n > max {
		c.add(path+"."+key, ReasonTooLong, "%s has %d characters; at most %d", key, n, max)
	}
	return s
}

func (c *checker) primary(p map[string]any, path string, l *Listing) {
	if a, _ := p["action"].(string); strings.TrimPrefix(a, "vf:") != "transfer" {
		c.add(path+".action", ReasonAction, `action must be "transfer", got %q`, trunc(a))
	}
	if id, ok := p["id"].(string); ok {
		c.sameHost(path+".id", id, l.Actor)
	}
	party, role := "provider", "offers"
	if l.Kind == Request {
		party, role = "receiver", "requests"
	}
	if who := c.iri(p, path, party, false); who != "" && who != l.Actor {
		c.add(path+"."+party, ReasonActor, "the %s of what the actor %s must be the actor", party, role)
	}
	conforms := c.iriList(p, path, "resourceConformsTo")
	classified := c.iriList(p, path, "resourceClassifiedAs")
	surplus := false
	for _, iri := range classified {
		if iri == SurplusIRI || iri == "runrig:Surplus" {
			surplus = true
		} else {
			l.Products = append(l.Products, iri)
		}
	}
	l.Products = append(conforms, l.Products...)
	if len(conforms) == 0 && len(classified) == 0 {
		c.add(path+".resourceConformsTo", ReasonMissing, "name the product: resourceConformsTo or resourceClassifiedAs")
	}
	if len(l.Products) > maxProducts {
		c.add(path+".resourceConformsTo", ReasonTooMany, "%d products; at most %d", len(l.Products), maxProducts)
	}
	if surplus {
		if l.Kind == Request {
			c.add(path+".resourceClassifiedAs", ReasonPurpose, "surplus is an offer, not a request")
		}
		l.Kind = Surplus
	}
	c.quantity(p, path, "resourceQuantity", true)
	avail, availUnit := c.quantity(p, path, "availableQuantity", false)
	minq, minUnit := c.quantity(p, path, "minimumQuantity", false)
	if avail != nil && minq != nil && availUnit == minUnit && avail.Cmp(minq) < 0 {
		c.add(path+".availableQuantity", ReasonBelowMinimum, "availableQuantity %s is below minimumQuantity %s",
			avail.RatString(), minq.RatString())
	}
}

func (c *checker) iriList(m map[string]any, path, key string) []string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	items, isList := v.([]any)
	if !isList {
		items = []any{v}
	}
	var out []string
	for i, it := range items {
		s, ok := it.(string)
		if o, isMap := it.(map[string]any); isMap {
			s, ok = o["id"].(string)
		}
		p := path + "." + key
		if isList {
			p = fmt.Sprintf("%s[%d]", p, i)
		}
		if !ok || (!strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") && !strings.Contains(s, ":")) {
			c.add(p, ReasonType, "%s must be IRIs", key)
			continue
		}
		out = append(out, s)
	}
	return out
}

// quantity checks an OM 2 measure {hasUnit, hasNumericalValue}.
func (c *checker) quantity(m map[string]any, path, key string, required bool) (*big.Rat, string) {
	path += "." + key
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			c.add(path, ReasonMissing, "%s is required", key)
		}
		return nil, ""
	}
	q, ok := v.(map[string]any)
	if !ok {
		c.add(path, ReasonType, "%s must be {hasUnit, hasNumericalValue}", key)
		return nil, ""
	}
	unit, _ := q["hasUnit"].(string)
	if unit == "" {
		c.add(path+".hasUnit", ReasonMissing, "hasUnit is required")
	} else if !c.r.Units[normalizeUnit(unit)] {
		c.add(path+".hasUnit", ReasonUnit, "unknown unit %q", trunc(unit))
	}
	var num string
	switch n := q["hasNumericalValue"].(type) {
	case string:
		num = n
	case json.Number:
		num = n.String()
	case nil:
		c.add(path+".hasNumericalValue", ReasonMissing, "hasNumericalValue is required")
		return nil, ""
	default:
		c.add(path+".hasNumericalValue", ReasonType, "hasNumericalValue must be a decimal string")
		return nil, ""
	}
	if !decimalRE.MatchString(num) {
		c.add(path+".hasNumericalValue", ReasonDecimal, "%q is not a plain decimal number", trunc(num))
		return nil, ""
	}
	r, _ := new(big.Rat).SetString(num)
	if r.Sign() <= 0 {
		c.add(path+".hasNumericalValue", ReasonPositive, "quantities must be positive, got %s", num)
		return nil, ""
	}
	return r, normalizeUnit(unit)
}

func (c *checker) reciprocal(p map[string]any, path string, l *Listing) {
	if a, _ := p["action"].(string); strings.TrimPrefix(a, "vf:") != "transfer" {
		c.add(path+".action", ReasonAction, `action must be "transfer", got %q`, trunc(a))
	}
	cur := c.iriList(p, path, "resourceConformsTo")
	if len(cur) == 0 {
		c.add(path+".resourceConformsTo", ReasonMissing, "the currency (resourceConformsTo) is required")
	}
	for _, iri := range cur {
		if !c.r.Currencies[iri] {
			c.add(path+".resourceConformsTo", ReasonCurrency, "unknown currency %s", trunc(iri))
		}
	}
	c.quantity(p, path, "resourceQuantity", true)
}

func (c *checker) when(m map[string]any, path, key string) time.Time {
	s, ok := m[key].(string)
	if !ok {
		if m[key] != nil {
			c.add(path+"."+key, ReasonTime, "%s must be an RFC 3339 time", key)
		}
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		c.add(path+"."+key, ReasonTime, "%s must be an RFC 3339 time, got %q", key, trunc(s))
	}
	return t
}

func (c *checker) times(o map[string]any, path string, l *Listing) {
	l.Start = c.when(o, path, "startTime")
	l.End = c.when(o, path, "endTime")
	if l.End.IsZero() {
		if _, given := o["endTime"]; !given {
			what := "listings must end: endTime is required"
			if l.Kind == Surplus {
				what = "surplus needs its pickup deadline in endTime"
			}
			c.add(path+".endTime", ReasonMissing, "%s", what)
		}
		return
	}
	if !l.Start.IsZero() && !l.Start.Before(l.End) {
		c.add(path+".startTime", ReasonTimeOrder, "startTime must be before endTime")
	}
	if !l.End.After(c.r.Now) {
		c.add(path+".endTime", ReasonExpired, "endTime %s has passed", l.End.UTC().Format(time.RFC3339))
		return
	}
	horizon := c.r.Horizon
	if l.Kind == Surplus {
		horizon = c.r.SurplusHorizon
	}
	if l.End.After(c.r.Now.Add(horizon)) {
		c.add(path+".endTime", ReasonHorizon, "endTime is more than %s ahead; %s listings may run at most that long",
			horizon, l.Kind)
	}
}

func (c *checker) location(o map[string]any, path string, l *Listing) {
	loc, ok := o["location"].(map[string]any)
	if !ok {
		return
	}
	coord := func(key string, limit float64) *float64 {
		n, ok := loc[key].(json.Number)
		if !ok {
			if loc[key] != nil {
				c.add(path+".location."+key, ReasonType, "%s must be a number", key)
			}
			return nil
		}
		f, err := n.Float64()
		if err != nil || f < -limit || f > limit {
			c.add(path+".location."+key, ReasonCoordinate, "%s must be within ±%g, got %s", key, limit, n)
			return nil
		}
		return &f
	}
	l.Lat, l.Lon = coord("latitude", 90), coord("longitude", 180)
	if (l.Lat == nil) != (l.Lon == nil) {
		l.Lat, l.Lon = nil, nil
	}
}

// addressing reads who the listing is for: audience IRIs and the region
// codes of the `region` term.
func (c *checker) addressing(o map[string]any, path string, l *Listing) {
	l.Audience = c.iriList(o, path, "audience")
	if len(l.Audience) > maxAudience {
		c.add(path+".audience", ReasonTooMany, "%d audience entries; at most %d", len(l.Audience), maxAudience)
	}
	switch v := o["region"].(type) {
	case nil:
	case string:
		l.Regions = []string{strings.ToLower(v)}
	case []any:
		for i, r := range v {
			s, ok := r.(string)
			if !ok {
				c.add(fmt.Sprintf("%s.region[%d]", path, i), ReasonType, "region codes are strings")
				continue
			}
			l.Regions = append(l.Regions, strings.ToLower(s))
		}
	default:
		c.add(path+".region", ReasonType, "region must be a code or a list of codes")
	}
	if len(l.Regions) > maxRegions {
		c.add(path+".region", ReasonTooMany, "%d regions; at most %d", len(l.Regions), maxRegions)
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
