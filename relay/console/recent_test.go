package console

import (
	"testing"
	"time"
)

func TestRecentActivity(t *testing.T) {
	a := NewRecent()
	now := time.Now()
	a.Delivered(true)
	a.Delivered(true)
	a.Delivered(false)
	a.Refused("signature")
	a.Refused("signature")
	a.Refused("policy")
	s := a.snapshot(now)
	last := buckets - 1
	if s.Delivered[last] != 2 || s.Failed[last] != 1 || s.Refused[last] != 3 {
		t.Errorf("last bucket: delivered %d failed %d refused %d", s.Delivered[last], s.Failed[last], s.Refused[last])
	}
	if len(s.LastHour) != 2 || s.LastHour[0] != (reasonCount{"signature", 2}) {
		t.Errorf("last hour = %+v", s.LastHour)
	}
	// A day later the same slots read as empty, not as today's counts.
	if s := a.snapshot(now.Add(24 * time.Hour)); total(s.Delivered) != 0 || len(s.LastHour) != 0 {
		t.Errorf("a day later: %d delivered, %+v", total(s.Delivered), s.LastHour)
	}
	// Two hours later the counts are still in the day, not in the hour.
	if s := a.snapshot(now.Add(2 * time.Hour)); total(s.Refused) != 3 || len(s.LastHour) != 0 {
		t.Errorf("two hours later: %d refused, %+v", total(s.Refused), s.LastHour)
	}
	for _, tt := range []struct {
		counts []int
		want   string
	}{
		{[]int{0, 2, 1}, "0.0,10.0 50.0,0.0 100.0,5.0"},
		{[]int{0, 0}, "0.0,10.0 100.0,10.0"},
	} {
		if got := sparkline(tt.counts, 100, 10); got != tt.want {
			t.Errorf("sparkline(%v) = %q, want %q", tt.counts, got, tt.want)
		}
	}
}
