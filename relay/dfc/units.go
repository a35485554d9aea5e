package dfc

import (
	"math/big"
	"strings"
)

// unit maps a DFC measure (dfc-m:) to the OM 2 unit name listings use,
// with the factor a value is multiplied by.
type unit struct {
	om2    string
	factor int64
}

// units are the DFC measures the bridge maps; others are reported as
// unknown units and their items skipped.
var units = map[string]unit{
	"Kilogram":   {"kilogram", 1},
	"Gram":       {"gram", 1},
	"Tonne":      {"tonne", 1},
	"Litre":      {"litre", 1},
	"Millilitre": {"millilitre", 1},
	"Centilitre": {"millilitre", 10},
	"Piece":      {"piece", 1},
	"Dozen":      {"dozen", 1},
	"Unit":       {"one", 1},
}

// ISO4217NS is the EU Publications Office's authority table of
// currencies, whose IRIs end in the ISO 4217 code.
const ISO4217NS = "http://publications.europa.eu/resource/authority/currency/"

// Currency is a DFC currency measure with its ISO 4217 code and the
// Wikidata item listings also name it by.
type Currency struct {
	DFC      string // local name in the measures taxonomy, e.g. "PoundSterling"
	ISO4217  string
	Wikidata string
}

// IRI is the currency's ISO 4217 code as an IRI.
func (c Currency) IRI() string { return ISO4217NS + c.ISO4217 }

// Currencies are the currencies the bridge maps.
func Currencies() []Currency { return append([]Currency(nil), currencies...) }

var currencies = []Currency{
	{"Euro", "EUR", "https://www.wikidata.org/wiki/Q4916"},
	{"PoundSterling", "GBP", "https://www.wikidata.org/wiki/Q25224"},
	{"USDollar", "USD", "https://www.wikidata.org/wiki/Q4917"},
	{"CanadianDollar", "CAD", "https://www.wikidata.org/wiki/Q1104069"},
	{"AustralianDollar", "AUD", "https://www.wikidata.org/wiki/Q259502"},
	{"SwissFranc", "CHF", "https://www.wikidata.org/wiki/Q25344"},
	{"SwedishKrona", "SEK", "https://www.wikidata.org/wiki/Q122922"},
	{"NorwegianKrone", "NOK", "https://www.wikidata.org/wiki/Q132643"},
	{"DanishKrone", "DKK", "https://www.wikidata.org/wiki/Q25417"},
}

// CurrencyOf finds a currency by its DFC measure IRI, ISO 4217 code (or
// its IRI) or Wikidata IRI (either form).
func CurrencyOf(s string) (Currency, bool) {
	local := strings.TrimPrefix(s, MeasuresNS)
	wd := strings.Replace(s, "http://www.wikidata.org/entity/", "https://www.wikidata.org/wiki/", 1)
	for _, c := range currencies {
		if local == c.DFC && local != s || s == c.ISO4217 || s == c.IRI() || wd == c.Wikidata {
			return c, true
		}
	}
	return Currency{}, false
}

// om2Of maps a DFC unit IRI and a decimal value to an OM 2 unit name and
// the value in it.
func om2Of(unitIRI, val string) (string, string, bool) {
	local, ok := strings.CutPrefix(unitIRI, MeasuresNS)
	if !ok {
		return "", "", false
	}
	u, ok := units[local]
	if !ok {
		return "", "", false
	}
	if u.factor == 1 {
		return u.om2, val, true
	}
	r, ok := new(big.Rat).SetString(val)
	if !ok {
		return "", "", false
	}
	return u.om2, decimal(r.Mul(r, big.NewRat(u.factor, 1))), true
}

// DFCUnit maps an OM 2 unit name back to its DFC measure IRI.
func DFCUnit(om2 string) (string, bool) {
	om2 = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(om2,
		"http://www.ontology-of-units-of-measure.org/resource/om-2/"), "om2:"))
	for local, u := range units {
		if u.om2 == om2 && u.factor == 1 {
			return MeasuresNS + local, true
		}
	}
	return "", false
}

// decimal writes r as a plain decimal with at most 9 fraction digits.
func decimal(r *big.Rat) string {
	s := r.FloatString(9)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
