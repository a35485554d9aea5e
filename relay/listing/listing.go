// Package listing understands the three kinds of listing FMPs trade with:
// a producer's offer, a buyer's wholesale request, and surplus (perishable
// food given away or sold cheaply before a deadline). Listings are
// ActivityStreams Create/Update/Delete of a ValueFlows Proposal as in
// FEP-0837, with OM 2 quantities and products linked by IRI to Data Food
// Consortium SuppliedProducts or product types.
//
// [Check] validates a listing and reports every problem with the JSON path
// of the offending field and a machine-readable reason, so the relay can
// refuse it (422) and `runrig listing validate` can explain it offline with
// the same code.
package listing

import (
	"strings"
	"time"
)

// Namespace is the IRI prefix of the terms this project adds. It is the
// same on every relay so that listings keep their meaning across relays;
// each relay serves the context document defining it at /ns.
const Namespace = "https://w3id.org/runrig/ns#"

// SurplusIRI classifies an offer's primary intent as surplus.
const SurplusIRI = Namespace + "Surplus"

// Kind is what a listing is.
type Kind string

// Listing kinds.
const (
	Offer   Kind = "offer"
	Request Kind = "request"
	Surplus Kind = "surplus"
)

// Kinds lists every kind.
var Kinds = []Kind{Offer, Request, Surplus}

// ParseKind checks a kind name.
func ParseKind(s string) (Kind, bool) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

// Listing is what the relay keeps of a valid listing.
type Listing struct {
	// ID is the Proposal's id; ActivityID the Create or Update carrying it.
	ID, ActivityID string
	// Actor published it.
	Actor string
	Kind  Kind
	Name  string
	// Products are the IRIs the primary intent conforms to or is
	// classified as (the surplus IRI excluded).
	Products []string
	// Audience are the IRIs the listing is addressed to (besides Public);
	// Regions the region codes it names with the `region` term.
	Audience []string
	Regions  []string
	// Location, when given.
	Lat, Lon *float64
	Start    time.Time
	End      time.Time
}

// Problem is one way a listing breaks the rules.
type Problem struct {
	// Path is the JSON path of the offending field, e.g.
	// "$.object.publishes.resourceQuantity.hasNumericalValue".
	Path string `json:"path"`
	// Reason is a stable, machine-readable code, e.g. "not_positive".
	Reason string `json:"reason"`
	// Message explains it to a person.
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message + " (" + p.Reason + ")" }

// Reasons a listing is refused. Metrics count refusals by these codes.
const (
	ReasonMissing      = "missing"
	ReasonType         = "wrong_type"
	ReasonHost         = "foreign_host"
	ReasonActor        = "actor_mismatch"
	ReasonPurpose      = "bad_purpose"
	ReasonAction       = "bad_action"
	ReasonDecimal      = "not_decimal"
	ReasonPositive     = "not_positive"
	ReasonUnit         = "unknown_unit"
	ReasonCurrency     = "unknown_currency"
	ReasonBelowMinimum = "available_below_minimum"
	ReasonTimeOrder    = "start_not_before_end"
	ReasonExpired      = "expired"
	ReasonHorizon      = "beyond_horizon"
	ReasonCoordinate   = "coordinate_out_of_range"
	ReasonTooLong      = "too_long"
	ReasonTooMany      = "too_many"
	ReasonTime         = "bad_time"
)

// Reasons lists every problem reason.
func Reasons() []string {
	return []string{ReasonMissing, ReasonType, ReasonHost, ReasonActor, ReasonPurpose, ReasonAction, ReasonDecimal,
		ReasonPositive, ReasonUnit, ReasonCurrency, ReasonBelowMinimum, ReasonTimeOrder, ReasonExpired, ReasonHorizon,
		ReasonCoordinate, ReasonTooLong, ReasonTooMany, ReasonTime}
}

// Rules are the checks' parameters. Zero fields take the defaults given.
type Rules struct {
	// Now is the time listings are checked at; time.Now when zero.
	Now time.Time
	// Horizon bounds how far in the future an offer or request may end.
	// Default 90 days.
	Horizon time.Duration
	// SurplusHorizon bounds how far in the future surplus may end.
	// Default 7 days.
	SurplusHorizon time.Duration
	// Units are the accepted quantity units (OM 2 names, lower case).
	// Default: DefaultUnits.
	Units map[string]bool
	// Currencies are the accepted price currencies (IRIs). Default:
	// DefaultCurrencies.
	Currencies map[string]bool
}

// DefaultUnits are OM 2 unit names commonly used for food.
var DefaultUnits = set("one", "kilogram", "gram", "tonne", "litre", "millilitre", "piece", "dozen",
	"crate", "box", "bunch", "pallet")

// DefaultCurrencies are Wikidata items of currencies (both IRI forms) and
// the DFC measure for the euro.
var DefaultCurrencies = func() map[string]bool {
	m := map[string]bool{}
	for _, q := range []string{"Q4916", "Q4917", "Q25224", "Q25344", "Q122922", "Q132643", "Q25417", "Q123213", "Q131016", "Q47190", "Q1104069", "Q259502"} {
		m["https://www.wikidata.org/wiki/"+q] = true
		m["http://www.wikidata.org/entity/"+q] = true
	}
	// The EU's authority table of currencies, by ISO 4217 code.
	for _, code := range []string{"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "CAD", "AUD"} {
		m["http://publications.europa.eu/resource/authority/currency/"+code] = true
	}
	m["dfc-m:Euro"] = true
	m["https://github.com/datafoodconsortium/taxonomies/releases/latest/download/measures.rdf#Euro"] = true
	return m
}()

func set(v ...string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, s := range v {
		m[s] = true
	}
	return m
}

func (r Rules) withDefaults() Rules {
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	if r.Horizon <= 0 {
		r.Horizon = 90 * 24 * time.Hour
	}
	if r.SurplusHorizon <= 0 {
		r.SurplusHorizon = 7 * 24 * time.Hour
	}
	if r.Units == nil {
		r.Units = DefaultUnits
	}
	if r.Currencies == nil {
		r.Currencies = DefaultCurrencies
	}
	return r
}

// normalizeUnit maps "om2:kilogram" and the full OM 2 IRI to "kilogram".
func normalizeUnit(u string) string {
	u = strings.TrimPrefix(u, "http://www.ontology-of-units-of-measure.org/resource/om-2/")
	u = strings.TrimPrefix(u, "om2:")
	return strings.ToLower(u)
}
