package console

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Recent activity the overview draws: deliveries and refusals in
// ten-minute buckets over the last 24 hours, and refusals of the last hour
// by reason. It is kept in memory (since the relay started); the metrics
// have the long history.
const (
	bucket  = 10 * time.Minute
	buckets = 144 // 24 h
	// maxReasons bounds the reasons kept per bucket (reasons are a fixed
	// set; this only guards against a new one per request).
	maxReasons = 64
)

type activityBucket struct {
	start      int64 // bucket number
	delivered  int
	failed     int
	refused    int
	refusedWhy map[string]int
}

// Recent records the relay's recent activity; the relay feeds it.
type Recent struct {
	mu sync.Mutex // guards ring
	// ring holds the buckets, by bucket number modulo buckets.
	ring [buckets]activityBucket
}

// NewRecent returns an empty record.
func NewRecent() *Recent { return &Recent{} }

func (a *Recent) at(now time.Time) *activityBucket {
	n := now.UnixNano() / int64(bucket)
	b := &a.ring[n%buckets]
	if b.start != n {
		*b = activityBucket{start: n}
	}
	return b
}

// Delivered counts a delivery attempt: ok when the inbox took it.
func (a *Recent) Delivered(ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.at(time.Now())
	if ok {
		b.delivered++
	} else {
		b.failed++
	}
}

// Refused counts an inbox refusal for reason.
func (a *Recent) Refused(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.at(time.Now())
	b.refused++
	if b.refusedWhy == nil {
		b.refusedWhy = map[string]int{}
	}
	if _, ok := b.refusedWhy[reason]; ok || len(b.refusedWhy) < maxReasons {
		b.refusedWhy[reason]++
	}
}

// series is the last 24 h of activity, oldest first.
type series struct {
	Delivered, Failed, Refused []int
	// LastHour are the refusals of the last hour by reason, most first.
	LastHour []reasonCount
}

type reasonCount struct {
	Reason string
	N      int
}

// snapshot reads the record at now.
func (a *Recent) snapshot(now time.Time) series {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := now.UnixNano() / int64(bucket)
	s := series{Delivered: make([]int, buckets), Failed: make([]int, buckets), Refused: make([]int, buckets)}
	why := map[string]int{}
	for i := 0; i < buckets; i++ {
		n := cur - int64(buckets-1-i)
		b := a.ring[((n%buckets)+buckets)%buckets]
		if b.start != n {
			continue
		}
		s.Delivered[i], s.Failed[i], s.Refused[i] = b.delivered, b.failed, b.refused
		if cur-n < int64(time.Hour/bucket) {
			for r, k := range b.refusedWhy {
				why[r] += k
			}
		}
	}
	for r, k := range why {
		s.LastHour = append(s.LastHour, reasonCount{r, k})
	}
	sort.Slice(s.LastHour, func(i, j int) bool { return s.LastHour[i].N > s.LastHour[j].N })
	return s
}

// sparkline is the SVG polyline points of counts, scaled to width x
// height (the largest count at the top).
func sparkline(counts []int, width, height int) string {
	top := 1
	for _, c := range counts {
		top = max(top, c)
	}
	var b strings.Builder
	for i, c := range counts {
		x := float64(i) * float64(width) / float64(max(len(counts)-1, 1))
		y := float64(height) - float64(c)*float64(height)/float64(top)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	return strings.TrimSpace(b.String())
}

// total sums counts.
func total(counts []int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
