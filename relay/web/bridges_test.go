package web

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// TestCatalogCache: an answer is built once while recent and shared by
// concurrent requests; a stale one is rebuilt; a flood of new queries
// evicts the oldest answers only; an empty answer is not kept.
func TestCatalogCache(t *testing.T) {
	var c catalogCache
	var builds atomic.Int32
	build := func(n int) func() ([]byte, int, error) {
		return func() ([]byte, int, error) {
			builds.Add(1)
			return []byte("catalog"), n, nil
		}
	}
	now := time.Now()
	q := store.ListingQuery{Kind: "offer", Now: now}
	// The first build is held until 19 other requests wait for it.
	waiting := make(chan struct{}, 19)
	c.waiting = func() { waiting <- struct{}{} }
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.get(q, func() ([]byte, int, error) { close(started); <-release; return build(3)() })
	}()
	<-started
	for i := 0; i < 19; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.get(q, build(3)) }()
	}
	for i := 0; i < 19; i++ {
		select {
		case <-waiting:
		case <-time.After(30 * time.Second):
			close(release)
			t.Fatalf("only %d of 19 requests waited for the build in progress", i)
		}
	}
	close(release)
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("20 concurrent requests built %d times", n)
	}
	q.Now = now.Add(catalogTTL / 2)
	if _, etag, _ := c.get(q, build(3)); builds.Load() != 1 || etag == "" {
		t.Fatalf("a recent answer was rebuilt (%d) or has no ETag", builds.Load())
	}
	q.Now = now.Add(catalogTTL + time.Second)
	c.get(q, build(3))
	if builds.Load() != 2 {
		t.Fatalf("a stale answer was not rebuilt: %d builds", builds.Load())
	}
	for i := 0; i < maxCachedQueries; i++ {
		junk := store.ListingQuery{Region: "junk" + strconv.Itoa(i), Now: q.Now.Add(time.Duration(i+1) * time.Millisecond)}
		c.get(junk, build(1))
	}
	builds.Store(0)
	c.get(store.ListingQuery{Region: "junk" + strconv.Itoa(maxCachedQueries-1), Now: q.Now.Add(time.Second)}, build(1))
	if builds.Load() != 0 {
		t.Fatal("the newest answer was evicted by older ones")
	}
	empty := store.ListingQuery{Region: "nowhere", Now: q.Now}
	c.get(empty, build(0))
	c.get(empty, build(0))
	if builds.Load() != 2 {
		t.Fatalf("an empty answer was kept: %d builds", builds.Load())
	}
}
