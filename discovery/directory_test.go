package discovery

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// A full directory makes room in its documented order — expired, down,
// the others by oldest last-heard — and never pushes out peers that
// must stay (followed, or added by an operator): with only those left, a
// new peer is refused.
func TestDirectoryIsBounded(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	rec := func(d string, expires time.Time) Record { return Record{Domain: d, Seq: 1, Expires: expires} }
	live := now.Add(time.Hour)
	tests := []struct {
		name    string
		fill    func(d *Directory)
		want    []string // the domains held after "new.example" is put
		refused bool
	}{
		{"expired goes first", func(d *Directory) {
			d.Put(rec("old.example", live), nil, SourceDHT, now.Add(-3*time.Hour))
			d.Put(rec("expired.example", now.Add(-time.Minute)), nil, SourceDHT, now)
			d.Put(rec("down.example", live), nil, SourceGossip, now)
			d.m["down.example"].Down = true
		}, []string{"down.example", "new.example", "old.example"}, false},
		{"then down", func(d *Directory) {
			d.Put(rec("old.example", live), nil, SourceDHT, now.Add(-3*time.Hour))
			d.Put(rec("down.example", live), nil, SourceGossip, now)
			d.m["down.example"].Down = true
			d.Put(rec("fresh.example", live), nil, SourceDHT, now)
		}, []string{"fresh.example", "new.example", "old.example"}, false},
		{"then the oldest heard", func(d *Directory) {
			d.Put(rec("old.example", live), nil, SourceDHT, now.Add(-3*time.Hour))
			d.Put(rec("older.example", live), nil, SourceDHT, now.Add(-4*time.Hour))
			d.Put(rec("fresh.example", live), nil, SourceDHT, now)
		}, []string{"fresh.example", "new.example", "old.example"}, false},
		{"followed and manual stay", func(d *Directory) {
			d.Put(rec("followed.example", now.Add(-time.Minute)), nil, SourceDHT, now.Add(-9*time.Hour))
			d.Put(rec("manual.example", live), nil, SourceManual, now.Add(-9*time.Hour))
			d.Put(rec("fresh.example", live), nil, SourceDHT, now)
			d.Keep([]string{"followed.example"})
		}, []string{"followed.example", "manual.example", "new.example"}, false},
		{"only kept: refused", func(d *Directory) {
			d.Put(rec("a.example", live), nil, SourceManual, now)
			d.Put(rec("b.example", live), nil, SourceDHT, now)
			d.Put(rec("c.example", live), nil, SourceDHT, now)
			d.Keep([]string{"b.example", "c.example"})
		}, []string{"a.example", "b.example", "c.example"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDirectoryOf(3)
			tc.fill(d)
			held := d.Put(rec("new.example", live), nil, SourceGossip, now)
			var got []string
			for dom := range d.m {
				got = append(got, dom)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || held == tc.refused {
				t.Fatalf("held %v (put reported %v), want %v (refused %v)", got, held, tc.want, tc.refused)
			}
			if want := int64(0); !tc.refused && d.Evicted() != 1 || tc.refused && d.Evicted() != want {
				t.Fatalf("evicted %d", d.Evicted())
			}
		})
	}
}

// A flood of new peers leaves the directory at its bound; a record that
// expired over a day ago is pruned.
func TestDirectoryFloodAndPrune(t *testing.T) {
	now := time.Now()
	d := NewDirectoryOf(100)
	for i := range 1000 {
		d.Put(Record{Domain: fmt.Sprintf("flood%04d.example", i), Seq: 1, Expires: now.Add(time.Hour)}, nil, SourceDHT, now)
	}
	if d.Len() != 100 || d.Evicted() != 900 {
		t.Fatalf("after a flood of 1,000: %d held, %d evicted", d.Len(), d.Evicted())
	}
	d.Put(Record{Domain: "gone.example", Seq: 1, Expires: now.Add(-25 * time.Hour)}, nil, SourceDHT, now)
	if n := d.Prune(now); n != 1 || d.Len() != 99 {
		t.Fatalf("pruned %d, %d left", n, d.Len())
	}
}

// Down changes only with a newer announcement: the same one heard again
// (a DHT lookup, a state exchange handing out a departed peer's until it
// expires) leaves a peer seen down as down; a newer one says whether the
// peer is leaving.
func TestDirectoryDownFollowsNewerAnnouncements(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	rec := func(seq uint64, leaving bool) Record {
		return Record{Domain: "peer.example", Gossip: "127.0.0.1:7946", Seq: seq, Leaving: leaving,
			Issued: time.Now().Add(time.Minute), Expires: now.Add(time.Hour)}
	}
	signedBefore := rec(2, false) // signed before gossip saw the peer go down
	signedBefore.Issued = time.Now().Add(-time.Minute)
	tests := []struct {
		name     string
		seenDown bool   // gossip saw the peer go down after the first record
		then     Record // heard next
		src      Source
		wantDown bool
	}{
		{"same record again from the DHT", true, rec(1, false), SourceDHT, true},
		{"same record again from gossip", true, rec(1, false), SourceGossip, true},
		{"an older record", true, rec(0, false), SourceDHT, true},
		{"a newer record", true, rec(2, false), SourceDHT, false},
		{"a newer record signed before the peer went down", true, signedBefore, SourceDHT, true},
		{"a newer record, leaving", false, rec(2, true), SourceDHT, true},
		{"the same record again, never down", false, rec(1, false), SourceGossip, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDirectory()
			d.Put(rec(1, false), nil, SourceGossip, now)
			if tc.seenDown {
				d.SetDown("peer.example", "127.0.0.1:7946", true)
			}
			d.Put(tc.then, nil, tc.src, now.Add(time.Minute))
			if e, _ := d.Get("peer.example"); e.Down != tc.wantDown {
				t.Fatalf("down %v, want %v", e.Down, tc.wantDown)
			}
		})
	}
}
