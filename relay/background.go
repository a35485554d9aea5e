package relay

import (
	"context"
	"sync"
	"sync/atomic"
)

// background tracks the relay's background goroutines, so that Serve
// returns only after every one of them has ended and the store may close.
type background struct {
	wg      sync.WaitGroup
	running atomic.Int64
	ctx     atomic.Pointer[context.Context] // set by start
}

// start records the context background work runs in until it ends.
func (b *background) start(ctx context.Context) { b.ctx.Store(&ctx) }

// Context is the context of background work: it ends when the relay
// stops (never, before it starts serving).
func (b *background) Context() context.Context {
	if p := b.ctx.Load(); p != nil {
		return *p
	}
	return context.Background()
}

// Go runs f in a goroutine tracked by b.
func (b *background) Go(f func()) {
	b.running.Add(1)
	b.wg.Go(func() {
		defer b.running.Add(-1)
		f()
	})
}

// Wait waits for every goroutine started with Go to end.
func (b *background) Wait() { b.wg.Wait() }

// Running is how many goroutines started with Go have not ended.
func (b *background) Running() int64 { return b.running.Load() }
