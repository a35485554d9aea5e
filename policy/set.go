package policy

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// Subject is who a decision is about. Peer is always set; Actor and KeyID
// when known; KeyFingerprint (hex SHA-256 of the key) once the key is.
type Subject struct {
	Peer, Actor, KeyID string
	KeyFingerprint     string
}

// Decision is the outcome of the rules for a subject.
type Decision struct {
	Action Action
	// Rule decided it; nil when the mode's default did.
	Rule *Rule
}

// Reason explains a decision in a line, with the rule's public comment.
func (d Decision) Reason() string {
	if d.Rule == nil {
		if d.Action.Blocks() {
			return "not on this relay's allowlist"
		}
		return ""
	}
	s := string(d.Action) + " by rule " + strconv.FormatInt(d.Rule.ID, 10) + " (" + string(d.Rule.Kind) + " " + d.Rule.Subject + ")"
	if d.Rule.PublicComment != "" {
		s += ": " + d.Rule.PublicComment
	}
	return s
}

// Set is an immutable, indexed set of live rules, built with [NewSet]. It
// is safe for concurrent use; the relay swaps in a new Set on every change.
type Set struct {
	mode    Mode
	domains map[string][]*Rule // by subject
	actors  map[string][]*Rule
	keys    map[string][]*Rule
	noop    []*Rule // filter-only rules, any kind
	// filtering is set when some live rule has filters.
	filtering bool
}

// NewSet indexes the rules live at now.
func NewSet(mode Mode, rules []Rule, now time.Time) *Set {
	if mode == "" {
		mode = Blocklist
	}
	s := &Set{mode: mode, domains: map[string][]*Rule{}, actors: map[string][]*Rule{}, keys: map[string][]*Rule{}}
	for i := range rules {
		r := &rules[i]
		if !r.Live(now) {
			continue
		}
		if !r.Filters.Empty() {
			s.filtering = true
		}
		if r.Action == Noop {
			s.noop = append(s.noop, r) // filters only
			continue
		}
		// Rules stored before names were normalized are indexed under
		// their normal spelling too.
		switch r.Kind {
		case Domain:
			d := r.Subject
			if p, err := ParsePeer(d); err == nil {
				d = p
			}
			s.domains[d] = append(s.domains[d], r)
		case Actor:
			a := NormalizeIRI(r.Subject)
			s.actors[a] = append(s.actors[a], r)
		case Key:
			k, ok := ParseKeyFingerprint(r.Subject)
			if !ok {
				k = NormalizeIRI(r.Subject)
			}
			s.keys[k] = append(s.keys[k], r)
		}
	}
	return s
}

// domainRules returns the domain rules covering peer, most specific first:
// the exact host:port, then the host, then each parent domain.
func (s *Set) domainRules(peer string) [][]*Rule {
	var out [][]*Rule
	if rs := s.domains[peer]; len(rs) > 0 {
		out = append(out, rs)
	}
	host := peer
	if h, _, err := net.SplitHostPort(peer); err == nil {
		host = h
	}
	for d := host; d != ""; {
		if d != peer {
			if rs := s.domains[d]; len(rs) > 0 {
				out = append(out, rs)
			}
		}
		i := strings.IndexByte(d, '.')
		if i < 0 || net.ParseIP(host) != nil {
			break
		}
		d = d[i+1:]
	}
	return out
}

// Decide applies the rules to a subject. Key rules are the most specific,
// then actor rules, then domain rules, where the longest domain wins. Among
// the domain rules covering a peer the mode's precedence applies: in
// blocklist mode an explicit accept anywhere in the chain overrides a
// block; in allowlist mode a block overrides an accept. Without a rule the
// mode decides: blocklist accepts, allowlist rejects.
func (s *Set) Decide(subj Subject) Decision {
	if r := strongest(s.keyRules(subj)); r != nil {
		return Decision{Action: r.Action, Rule: r}
	}
	if subj.Actor != "" {
		if r := strongest(s.actors[NormalizeIRI(subj.Actor)]); r != nil {
			return Decision{Action: r.Action, Rule: r}
		}
	}
	chain := s.domainRules(subj.Peer)
	switch s.mode {
	case Allowlist:
		for _, rs := range chain {
			for _, r := range rs {
				if r.Action.Blocks() {
					return Decision{Action: r.Action, Rule: r}
				}
			}
		}
		if len(chain) > 0 {
			r := strongest(chain[0])
			return Decision{Action: r.Action, Rule: r}
		}
		return Decision{Action: Reject}
	default:
		for _, rs := range chain {
			for _, r := range rs {
				if r.Action == Accept {
					return Decision{Action: Accept, Rule: r}
				}
			}
		}
		if len(chain) > 0 {
			r := strongest(chain[0])
			return Decision{Action: r.Action, Rule: r}
		}
		return Decision{Action: Accept}
	}
}

// keyRules are the rules covering subj's key, by its id or fingerprint.
func (s *Set) keyRules(subj Subject) []*Rule {
	var rs []*Rule
	if subj.KeyID != "" {
		rs = append(rs, s.keys[NormalizeIRI(subj.KeyID)]...)
	}
	if subj.KeyFingerprint != "" {
		rs = append(rs, s.keys[KeyFingerprintSubject(subj.KeyFingerprint)]...)
	}
	return rs
}

// WithKeyFingerprints returns the set with its rules on key ids also
// covering the keys pinned for those ids, by fingerprint: the same key
// published under another id is covered too. pinned maps key ids to
// fingerprints (hex).
func (s *Set) WithKeyFingerprints(pinned func(keyID string) (string, bool)) *Set {
	out := *s
	out.keys = make(map[string][]*Rule, len(s.keys))
	for k, rs := range s.keys {
		out.keys[k] = append(out.keys[k], rs...)
		if strings.HasPrefix(k, fingerprintPrefix) {
			continue
		}
		if fp, ok := pinned(k); ok {
			sub := KeyFingerprintSubject(fp)
			out.keys[sub] = append(out.keys[sub], rs...)
		}
	}
	return &out
}

// severity orders actions.
var severity = map[Action]int{Accept: 0, Limit: 1, Reject: 2, Suspend: 3}

// strongest picks the most severe of rules with the same subject.
func strongest(rs []*Rule) *Rule {
	var best *Rule
	for _, r := range rs {
		if best == nil || severity[r.Action] > severity[best.Action] {
			best = r
		}
	}
	return best
}

// Filtering reports whether any live rule has filters, so callers can
// skip gathering Facts when none would be looked at.
func (s *Set) Filtering() bool { return s.filtering }

// Facts are what filters look at in an activity.
type Facts struct {
	Type, ObjectType string
	// ListingKind is set for listings.
	ListingKind string
	// Text is the object's content, name and summary.
	Text      string
	Published time.Time
	HasMedia  bool
}

// Filter returns the first rule covering subj whose filters refuse the
// activity, and why, or nil.
func (s *Set) Filter(subj Subject, f Facts, now time.Time) (*Rule, string) {
	var covering []*Rule
	covering = append(covering, s.keyRules(subj)...)
	covering = append(covering, s.actors[NormalizeIRI(subj.Actor)]...)
	for _, rs := range s.domainRules(subj.Peer) {
		covering = append(covering, rs...)
	}
	for _, r := range s.noop {
		if covers(r, subj) {
			covering = append(covering, r)
		}
	}
	text := strings.ToLower(f.Text)
	for _, r := range covering {
		fl := r.Filters
		if fl.Empty() {
			continue
		}
		for _, t := range fl.Types {
			if strings.EqualFold(t, f.Type) || strings.EqualFold(t, f.ObjectType) {
				return r, "type " + t + " not accepted"
			}
		}
		for _, k := range fl.Kinds {
			if f.ListingKind != "" && strings.EqualFold(k, f.ListingKind) {
				return r, k + " listings not accepted"
			}
		}
		for _, kw := range fl.Keywords {
			if kw != "" && strings.Contains(text, strings.ToLower(kw)) {
				return r, "keyword not accepted"
			}
		}
		if fl.MaxAge > 0 && !f.Published.IsZero() && now.Sub(f.Published) > fl.MaxAge {
			return r, "object too old"
		}
		if fl.RejectMedia && f.HasMedia {
			return r, "media not accepted"
		}
	}
	return nil, ""
}

// covers reports whether a rule's subject covers subj.
func covers(r *Rule, subj Subject) bool {
	switch r.Kind {
	case Key:
		return r.Subject == NormalizeIRI(subj.KeyID) ||
			(subj.KeyFingerprint != "" && r.Subject == KeyFingerprintSubject(subj.KeyFingerprint))
	case Actor:
		return r.Subject == NormalizeIRI(subj.Actor)
	}
	if r.Subject == subj.Peer {
		return true
	}
	host := subj.Peer
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host == r.Subject || strings.HasSuffix(host, "."+r.Subject)
}
