package trust

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingFetcher struct {
	n       atomic.Int32
	owner   string
	delay   time.Duration
	failing bool // every key fails, not only "bad"
}

func (f *countingFetcher) FetchKey(_ context.Context, id string) (Key, error) {
	f.n.Add(1)
	time.Sleep(f.delay)
	if id == "bad" || f.failing {
		return Key{}, errors.New("not found")
	}
	return Key{ID: id, Owner: f.owner}, nil
}

func TestKeysCachesAndRefreshes(t *testing.T) {
	f := &countingFetcher{owner: "https://a.example/actor"}
	k := NewKeys(f, KeysConfig{TTL: time.Hour, MinRefetch: time.Minute})
	now := time.Unix(1000, 0)
	k.now = func() time.Time { return now }
	ctx := context.Background()

	key, cached, err := k.Get(ctx, "https://a.example/actor#main-key", "192.0.2.1")
	if err != nil || cached || key.Owner != f.owner {
		t.Fatalf("first Get = %+v, %v, %v", key, cached, err)
	}
	if _, cached, _ = k.Get(ctx, "https://a.example/actor#main-key", "192.0.2.1"); !cached {
		t.Fatal("second Get not cached")
	}
	if _, err := k.Refresh(ctx, "https://a.example/actor#main-key", "192.0.2.1"); !errors.Is(err, ErrRefetchTooSoon) {
		t.Fatalf("Refresh right away = %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := k.Refresh(ctx, "https://a.example/actor#main-key", "192.0.2.1"); err != nil {
		t.Fatalf("Refresh later = %v", err)
	}
	now = now.Add(2 * time.Hour)
	if _, cached, _ = k.Get(ctx, "https://a.example/actor#main-key", "192.0.2.1"); cached {
		t.Fatal("expired entry served from cache")
	}
	if got := f.n.Load(); got != 3 {
		t.Fatalf("fetches = %d, want 3", got)
	}
	if _, _, err := k.Get(ctx, "bad", "192.0.2.1"); err == nil {
		t.Fatal("fetch error not returned")
	}
}

func TestKeysSharesConcurrentFetches(t *testing.T) {
	f := &countingFetcher{delay: 50 * time.Millisecond}
	k := NewKeys(f, KeysConfig{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := k.Get(context.Background(), "k1", "192.0.2.1"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := f.n.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
}

func TestKeysBounded(t *testing.T) {
	f := &countingFetcher{}
	k := NewKeys(f, KeysConfig{MaxEntries: 3})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		k.Get(context.Background(), id, "192.0.2.1")
	}
	if n := len(k.entries); n != 3 {
		t.Fatalf("entries = %d, want 3", n)
	}
}

// A key id that could not be fetched is not fetched again for FailureTTL,
// however many requests name it: a peer cannot make the relay fetch on
// every failing request.
func TestKeysRememberFailures(t *testing.T) {
	f := &countingFetcher{}
	k := NewKeys(f, KeysConfig{FailureTTL: time.Minute, MaxEntries: 2})
	now := time.Unix(1000, 0)
	k.now = func() time.Time { return now }
	for range 5 {
		if _, _, err := k.Get(context.Background(), "bad", "192.0.2.1"); err == nil {
			t.Fatal("fetch error not returned")
		}
	}
	if got := f.n.Load(); got != 1 {
		t.Fatalf("fetches of a failing key within a minute = %d, want 1", got)
	}
	now = now.Add(2 * time.Minute)
	k.Get(context.Background(), "bad", "192.0.2.1")
	if got := f.n.Load(); got != 2 {
		t.Fatalf("fetches after the failure expired = %d, want 2", got)
	}
	for _, id := range []string{"bad", "bad2", "bad3"} { // bounded like the keys
		f.failing = true
		k.Get(context.Background(), id, "192.0.2.1")
	}
	if n := len(k.failed); n > 2 {
		t.Fatalf("failures remembered = %d, want at most 2", n)
	}
}

// A host minting key ids (or requests naming made-up ids on it) gets a
// bounded number of fetches; other hosts keep theirs, and the budget
// refills.
func TestKeyFetchesBoundedPerHost(t *testing.T) {
	f := &countingFetcher{owner: "https://evil.example/actor"}
	k := NewKeys(f, KeysConfig{HostFetches: RateConfig{PerSecond: 1, Burst: 3}})
	now := time.Unix(1000, 0)
	k.now = func() time.Time { return now }
	k.hosts.now = k.now
	ctx := context.Background()
	refused := 0
	for i := range 10 {
		_, _, err := k.Get(ctx, "https://EVIL.example/users/u"+string(rune('a'+i))+"#main-key", "192.0.2.1")
		var be *BudgetError
		switch {
		case errors.As(err, &be) && errors.Is(err, ErrHostFetchBudget) && be.Host == "evil.example" && be.RetryAfter > 0:
			refused++
		case err != nil:
			t.Fatalf("Get: %v", err)
		}
	}
	if got := f.n.Load(); got != 3 || refused != 7 {
		t.Fatalf("%d fetches and %d refusals for 10 minted key ids; want 3 and 7", got, refused)
	}
	if _, _, err := k.Get(ctx, "https://good.example/actor#main-key", "192.0.2.1"); err != nil {
		t.Fatalf("another host was refused: %v", err)
	}
	if _, cached, err := k.Get(ctx, "https://EVIL.example/users/ua#main-key", "192.0.2.1"); err != nil || !cached {
		t.Fatalf("a cached key costs no fetch: cached %v, %v", cached, err)
	}
	if _, _, err := k.Get(ctx, "https://evil.example/users/other#main-key", "198.51.100.7"); err != nil {
		t.Fatalf("another requester's share was spent: %v", err)
	}
	now = now.Add(time.Second)
	if _, _, err := k.Get(ctx, "https://evil.example/users/new#main-key", "192.0.2.1"); err != nil {
		t.Fatalf("after a second the host may be fetched from again: %v", err)
	}
}

// The share is per host in one spelling: the relay's normalisation is
// used, so that evil.example, EVIL.example. and evil.example:443 are one.
func TestKeyFetchBudgetUsesOneSpelling(t *testing.T) {
	f := &countingFetcher{owner: "https://evil.example/actor"}
	k := NewKeys(f, KeysConfig{HostFetches: RateConfig{PerSecond: 1, Burst: 2}, HostOf: func(id string) string {
		h := hostOf(id)
		h = strings.TrimSuffix(strings.TrimSuffix(h, ":443"), ".")
		return h
	}})
	now := time.Unix(1000, 0)
	k.now = func() time.Time { return now }
	k.hosts.now = k.now
	refused := 0
	for _, id := range []string{"https://evil.example/a", "https://EVIL.example./b", "https://evil.example:443/c"} {
		if _, _, err := k.Get(context.Background(), id, "192.0.2.1"); errors.Is(err, ErrHostFetchBudget) {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d of three spellings of one host refused, want 1 (one share of 2)", refused)
	}
}
