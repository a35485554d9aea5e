package policy

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func dom(id int64, subject string, a Action) Rule {
	return Rule{ID: id, Kind: Domain, Subject: subject, Action: a, Source: "manual", Created: now}
}

func TestDecidePrecedence(t *testing.T) {
	rules := []Rule{
		dom(1, "bad.example", Reject),
		dom(2, "ok.bad.example", Accept),
		dom(3, "gone.example", Suspend),
		dom(4, "quiet.example", Limit),
		dom(5, "127.0.0.1:9001", Reject),
		dom(6, "allowed.example", Accept),
		dom(7, "mixed.example", Accept),
		dom(8, "mixed.example", Reject),
		{ID: 9, Kind: Actor, Subject: "https://fine.example/users/spammer", Action: Reject},
		{ID: 10, Kind: Key, Subject: "https://bad.example/actor#main-key", Action: Accept},
		{ID: 11, Kind: Domain, Subject: "draft.example", Action: Reject, Draft: true},
		{ID: 12, Kind: Domain, Subject: "expired.example", Action: Reject, Expires: now.Add(-time.Hour)},
		dom(13, "sub.allowed.example", Reject),
	}
	tests := []struct {
		mode Mode
		subj Subject
		want Action
		rule int64
	}{
		// Blocklist: default accept; blocks cover subdomains; an allow
		// anywhere in the chain overrides a block.
		{Blocklist, Subject{Peer: "neutral.example"}, Accept, 0},
		{Blocklist, Subject{Peer: "bad.example"}, Reject, 1},
		{Blocklist, Subject{Peer: "deep.sub.bad.example:8443"}, Reject, 1},
		{Blocklist, Subject{Peer: "ok.bad.example"}, Accept, 2},
		{Blocklist, Subject{Peer: "x.ok.bad.example"}, Accept, 2},
		{Blocklist, Subject{Peer: "gone.example"}, Suspend, 3},
		{Blocklist, Subject{Peer: "quiet.example"}, Limit, 4},
		{Blocklist, Subject{Peer: "127.0.0.1:9001"}, Reject, 5},
		{Blocklist, Subject{Peer: "127.0.0.1:9002"}, Accept, 0},
		{Blocklist, Subject{Peer: "mixed.example"}, Accept, 7},
		{Blocklist, Subject{Peer: "sub.allowed.example"}, Accept, 6},
		{Blocklist, Subject{Peer: "fine.example", Actor: "https://fine.example/users/spammer"}, Reject, 9},
		{Blocklist, Subject{Peer: "fine.example", Actor: "https://fine.example/users/other"}, Accept, 0},
		{Blocklist, Subject{Peer: "bad.example", KeyID: "https://bad.example/actor#main-key"}, Accept, 10},
		{Blocklist, Subject{Peer: "draft.example"}, Accept, 0},
		{Blocklist, Subject{Peer: "expired.example"}, Accept, 0},
		{Blocklist, Subject{Peer: "notbad.example"}, Accept, 0}, // not a subdomain of bad.example
		// Allowlist: default reject; a block overrides an allow.
		{Allowlist, Subject{Peer: "neutral.example"}, Reject, 0},
		{Allowlist, Subject{Peer: "allowed.example"}, Accept, 6},
		{Allowlist, Subject{Peer: "other.allowed.example"}, Accept, 6},
		{Allowlist, Subject{Peer: "sub.allowed.example"}, Reject, 13},
		{Allowlist, Subject{Peer: "mixed.example"}, Reject, 8},
		{Allowlist, Subject{Peer: "ok.bad.example"}, Reject, 1},
		{Allowlist, Subject{Peer: "quiet.example"}, Limit, 4},
	}
	for _, tt := range tests {
		s := NewSet(tt.mode, rules, now)
		d := s.Decide(tt.subj)
		var got int64
		if d.Rule != nil {
			got = d.Rule.ID
		}
		if d.Action != tt.want || got != tt.rule {
			t.Errorf("%s %+v = %s by rule %d, want %s by rule %d", tt.mode, tt.subj, d.Action, got, tt.want, tt.rule)
		}
		if d.Action.Blocks() && d.Reason() == "" {
			t.Errorf("%s %+v: blocking decision without a reason", tt.mode, tt.subj)
		}
	}
}

func TestFilters(t *testing.T) {
	rules := []Rule{
		{ID: 1, Kind: Domain, Subject: "noisy.example", Action: Accept, Filters: Filters{
			Types: []string{"Question"}, Kinds: []string{"surplus"}, Keywords: []string{"Casino"},
			MaxAge: 24 * time.Hour, RejectMedia: true}},
	}
	s := NewSet(Blocklist, rules, now)
	if !s.Filtering() || NewSet(Blocklist, []Rule{dom(2, "x.example", Reject)}, now).Filtering() {
		t.Error("Filtering does not say whether a live rule filters")
	}
	subj := Subject{Peer: "a.noisy.example"}
	tests := []struct {
		f       Facts
		refused bool
	}{
		{Facts{Type: "Create", ObjectType: "Note", Text: "hello", Published: now}, false},
		{Facts{Type: "Create", ObjectType: "Question"}, true},
		{Facts{Type: "Create", ObjectType: "Proposal", ListingKind: "surplus"}, true},
		{Facts{Type: "Create", ObjectType: "Proposal", ListingKind: "offer"}, false},
		{Facts{Type: "Create", Text: "Best CASINO in town"}, true},
		{Facts{Type: "Create", Published: now.Add(-48 * time.Hour)}, true},
		{Facts{Type: "Create", HasMedia: true}, true},
	}
	for _, tt := range tests {
		r, why := s.Filter(subj, tt.f, now)
		if (r != nil) != tt.refused || (r != nil && why == "") {
			t.Errorf("Filter(%+v) = %v %q", tt.f, r, why)
		}
	}
	if r, _ := s.Filter(Subject{Peer: "calm.example"}, Facts{HasMedia: true}, now); r != nil {
		t.Error("filter applied to a peer it does not cover")
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		r    Rule
		want string
		err  bool
	}{
		{Rule{Kind: Domain, Subject: "*.Bad.Example.", Action: Reject}, "bad.example", false},
		{Rule{Kind: Domain, Subject: "https://bad.example/", Action: Reject}, "bad.example", false},
		{Rule{Kind: Domain, Subject: "127.0.0.1:9001", Action: Suspend}, "127.0.0.1:9001", false},
		{Rule{Kind: Actor, Subject: "https://a.example/users/x", Action: Reject}, "https://a.example/users/x", false},
		{Rule{Kind: Actor, Subject: "bob", Action: Reject}, "", true},
		{Rule{Kind: Domain, Subject: "bad.example", Action: "silence"}, "", true},
		{Rule{Kind: "ip", Subject: "1.2.3.4", Action: Reject}, "", true},
		{Rule{Kind: Key, Subject: " SHA256:" + strings.Repeat("AB", 32), Action: Reject}, "sha256:" + strings.Repeat("ab", 32), false},
		{Rule{Kind: Key, Subject: "sha256:" + strings.Repeat("ab", 31), Action: Reject}, "", true},
		{Rule{Kind: Key, Subject: "sha256:" + strings.Repeat("xy", 32), Action: Reject}, "", true},
		{Rule{Kind: Key, Subject: "HTTPS://A.example/actor#main-key", Action: Reject}, "https://a.example/actor#main-key", false},
	}
	for _, tt := range tests {
		r := tt.r
		err := r.Normalize()
		if (err != nil) != tt.err || (!tt.err && (r.Subject != tt.want || r.Source != "manual")) {
			t.Errorf("Normalize(%+v) = %+v, %v", tt.r, r, err)
		}
	}
}

// A block is found under every spelling of an internationalized name: the
// punycode form Mastodon exports blocks the Unicode one and the reverse,
// in rules, imported lists and peers alike.
func TestBlockHoldsAcrossSpellings(t *testing.T) {
	for _, tc := range []struct{ rule, peerURL string }{
		{"xn--mnchen-3ya.example", "https://münchen.example/actor"},
		{"münchen.example", "https://xn--mnchen-3ya.example/actor"},
		{"MÜNCHEN.example.", "https://sub.münchen.example/users/a"},
	} {
		r := dom(1, tc.rule, Suspend)
		if err := r.Normalize(); err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		set := NewSet(Blocklist, []Rule{r}, now)
		peer, err := PeerOf(tc.peerURL)
		if err != nil {
			t.Fatal(err)
		}
		if d := set.Decide(Subject{Peer: peer, Actor: tc.peerURL}); d.Action != Suspend {
			t.Errorf("rule on %q, peer %s: decision %v, want suspend", tc.rule, tc.peerURL, d.Action)
		}
	}
	actor := Rule{ID: 2, Kind: Actor, Subject: "https://münchen.example/users/spam", Action: Reject, Source: "manual", Created: now}
	if err := actor.Normalize(); err != nil {
		t.Fatal(err)
	}
	set := NewSet(Blocklist, []Rule{actor}, now)
	if d := set.Decide(Subject{Peer: "xn--mnchen-3ya.example", Actor: "https://XN--MNCHEN-3YA.example/users/spam"}); d.Action != Reject {
		t.Errorf("actor rule on the Unicode spelling: decision %v for the punycode one, want reject", d.Action)
	}
	stored := dom(3, "münchen.example", Suspend) // written before names were normalized
	set = NewSet(Blocklist, []Rule{stored}, now)
	if d := set.Decide(Subject{Peer: "xn--mnchen-3ya.example"}); d.Action != Suspend {
		t.Errorf("stored Unicode rule: decision %v, want suspend", d.Action)
	}
	entries, err := ParseList([]byte("#domain,#severity\nmünchen.example,suspend\n"), Suspend)
	if err != nil || len(entries) != 1 || entries[0].Domain != "xn--mnchen-3ya.example" {
		t.Errorf("CSV row münchen.example = %+v %v, want the punycode form", entries, err)
	}
}

// A key rule covers the key, not only the id it was seen under: a rule on
// a fingerprint covers the key under any id, and a rule on a key id also
// covers the key pinned for that id, wherever else it is published.
func TestKeyRulesCoverTheKey(t *testing.T) {
	fp, other := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	rules := []Rule{
		{ID: 1, Kind: Key, Subject: "https://a.example/actor#main-key", Action: Reject},
		{ID: 2, Kind: Key, Subject: "sha256:" + other, Action: Suspend},
	}
	pinned := map[string]string{"https://a.example/actor#main-key": fp}
	set := NewSet(Blocklist, rules, now).WithKeyFingerprints(func(id string) (string, bool) { fp, ok := pinned[id]; return fp, ok })
	for _, tc := range []struct {
		name string
		subj Subject
		rule int64
	}{
		{"the blocked id", Subject{Peer: "a.example", KeyID: "https://a.example/actor#main-key"}, 1},
		{"the blocked id's key under another id", Subject{Peer: "a.example", KeyID: "https://a.example/users/alice#main-key", KeyFingerprint: fp}, 1},
		{"the same key on another host", Subject{Peer: "b.example", KeyID: "https://b.example/actor#key", KeyFingerprint: strings.ToUpper(fp)}, 1},
		{"a key blocked by fingerprint", Subject{Peer: "c.example", KeyID: "https://c.example/actor#main-key", KeyFingerprint: other}, 2},
		{"another key", Subject{Peer: "a.example", KeyID: "https://a.example/users/bob#main-key", KeyFingerprint: strings.Repeat("ef", 32)}, 0},
	} {
		d := set.Decide(tc.subj)
		var got int64
		if d.Rule != nil {
			got = d.Rule.ID
		}
		if got != tc.rule {
			t.Errorf("%s: decided by rule %d (%s), want %d", tc.name, got, d.Action, tc.rule)
		}
	}
	if r, _ := NewSet(Blocklist, []Rule{{ID: 3, Kind: Key, Subject: "sha256:" + other, Action: Noop,
		Filters: Filters{Keywords: []string{"casino"}}}}, now).Filter(Subject{Peer: "c.example", KeyFingerprint: other},
		Facts{Text: "Casino night"}, now); r == nil || r.ID != 3 {
		t.Errorf("a filter on a key's fingerprint did not apply: %+v", r)
	}
}
