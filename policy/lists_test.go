package policy

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A CSV exported by Mastodon (admin → federation → export).
const mastodonCSV = `#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
spam.example,suspend,false,false,Spam,false
noisy.example,silence,true,false,"Unsolicited ads, repeatedly",false
images.example,noop,true,false,,false
hidden.example,suspend,false,true,Harassment,true
`

func TestMastodonCSVRoundTrip(t *testing.T) {
	entries, err := ParseList([]byte(mastodonCSV), Suspend)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Domain: "spam.example", Action: Suspend, PublicComment: "Spam", Line: 2},
		{Domain: "noisy.example", Action: Limit, RejectMedia: true, PublicComment: "Unsolicited ads, repeatedly", Line: 3},
		{Domain: "images.example", Action: Noop, RejectMedia: true, Line: 4},
		{Domain: "hidden.example", Action: Suspend, RejectReports: true, PublicComment: "Harassment", Obfuscate: true, Line: 5},
	}
	if len(entries) != len(want) {
		t.Fatalf("entries = %+v", entries)
	}
	var rules []Rule
	for i, e := range entries {
		if e != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, e, want[i])
		}
		rules = append(rules, e.Rule("list:test"))
	}
	var buf bytes.Buffer
	if err := WriteMastodonBlocks(&buf, rules, false); err != nil {
		t.Fatal(err)
	}
	if buf.String() != mastodonCSV {
		t.Fatalf("export differs from Mastodon's format:\n%s\nwant:\n%s", buf.String(), mastodonCSV)
	}
	buf.Reset()
	WriteMastodonBlocks(&buf, rules, true)
	if strings.Contains(buf.String(), "hidden.example") || !strings.Contains(buf.String(), "spam.example") {
		t.Errorf("obfuscated export:\n%s", buf.String())
	}
}

func TestMastodonAllowsAndPlain(t *testing.T) {
	allows, err := ParseList([]byte("#domain\nfriends.example\nCoop.Example\n"), Suspend)
	if err != nil || len(allows) != 2 || allows[1].Domain != "coop.example" || allows[0].Action != Accept {
		t.Fatalf("allows = %+v, %v", allows, err)
	}
	var buf bytes.Buffer
	WriteMastodonAllows(&buf, []Rule{allows[0].Rule("m"), allows[1].Rule("m"), {Kind: Domain, Subject: "x.example", Action: Reject}})
	if buf.String() != "#domain\nfriends.example\ncoop.example\n" {
		t.Errorf("allows export:\n%s", buf.String())
	}
	plain, err := ParseList([]byte("# shared blocklist\nbad.example\n\n*.worse.example  # and subdomains\n"), Reject)
	if err != nil || len(plain) != 2 || plain[1].Domain != "worse.example" || plain[1].Action != Reject || plain[1].Line != 4 {
		t.Fatalf("plain = %+v, %v", plain, err)
	}
	// A missing severity defaults to suspend, as in Mastodon.
	e, err := ParseList([]byte(MastodonBlocksHeader+"\nbare.example\n"), Reject)
	if err != nil || e[0].Action != Suspend {
		t.Fatalf("bare row = %+v, %v", e, err)
	}
}

func TestMalformedListsNameTheirLines(t *testing.T) {
	tests := []struct {
		name, data string
		lines      []int
	}{
		{"bad severity", MastodonBlocksHeader + "\nok.example,suspend\nbad.example,obliterate\n", []int{3}},
		{"bad boolean", MastodonBlocksHeader + "\nok.example,suspend,maybe\n", []int{2}},
		{"not a domain", MastodonBlocksHeader + "\nok.example\nhttp://a b/\n,suspend\n", []int{3, 4}},
		{"duplicate", MastodonBlocksHeader + "\nsame.example\nSAME.example\n", []int{3}},
		{"too many columns", MastodonBlocksHeader + "\na.example,suspend,false,false,x,false,extra\n", []int{2}},
		{"broken quote", MastodonBlocksHeader + "\na.example,suspend,false,false,\"unterminated\n", []int{2}},
		{"allow with severity", "#domain\na.example,suspend\n", []int{2}},
		{"plain junk", "good.example\nnot a domain\nalso,bad\n", []int{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := ParseList([]byte(tt.data), Suspend)
			if entries != nil {
				t.Fatalf("half-imported: %+v", entries)
			}
			var le ListError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v", err)
			}
			var got []int
			for _, l := range le {
				got = append(got, l.Line)
			}
			if len(got) != len(tt.lines) {
				t.Fatalf("lines %v, want %v (%v)", got, tt.lines, err)
			}
			for i := range got {
				if got[i] != tt.lines[i] {
					t.Fatalf("lines %v, want %v (%v)", got, tt.lines, err)
				}
			}
		})
	}
	if _, err := ParseList([]byte("#name,#reason\nx,y\n"), Suspend); !errors.Is(err, ErrListFormat) {
		t.Errorf("unknown CSV: %v", err)
	}
}

func TestNoopRulesOnlyFilter(t *testing.T) {
	rules := []Rule{{ID: 1, Kind: Domain, Subject: "images.example", Action: Noop, Filters: Filters{RejectMedia: true}}}
	s := NewSet(Blocklist, rules, now)
	if d := s.Decide(Subject{Peer: "cdn.images.example"}); d.Action != Accept || d.Rule != nil {
		t.Errorf("noop decided %+v", d)
	}
	if r, _ := s.Filter(Subject{Peer: "cdn.images.example"}, Facts{HasMedia: true}, now); r == nil {
		t.Error("noop rule's media filter not applied")
	}
	if d := NewSet(Allowlist, rules, now).Decide(Subject{Peer: "images.example"}); d.Action != Reject {
		t.Errorf("noop let a peer into an allowlist: %+v", d)
	}
}

// A list's cells cannot carry formulas or terminal escapes out again: the
// published CSV neutralizes formula cells, and control characters are
// dropped on import.
func TestListCellsAreNeutralized(t *testing.T) {
	entries, err := ParseList([]byte("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"+
		"a.example,suspend,false,false,=HYPERLINK(1)\x1b[31m,false\n"), Suspend)
	if err != nil || len(entries) != 1 {
		t.Fatal(entries, err)
	}
	if c := entries[0].PublicComment; strings.ContainsRune(c, 0x1b) {
		t.Errorf("imported comment keeps an escape: %q", c)
	}
	var b strings.Builder
	if err := WriteMastodonBlocks(&b, []Rule{entries[0].Rule("list:test")}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `'=HYPERLINK`) {
		t.Errorf("exported CSV carries a formula:\n%s", b.String())
	}
	for _, bad := range []string{"=cmd.example", "+x.example", "@a.example", "a\x1b.example"} {
		if _, err := ParseList([]byte(bad+"\n"), Suspend); err == nil {
			t.Errorf("domain %q imported", bad)
		}
	}
}
