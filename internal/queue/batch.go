package queue

import (
	"context"
	"sync"
	"time"
)

// batcher merges concurrent submissions for one mirror in this process: a
// burst of hooks makes a few database round trips instead of one each
// (SQLite has a single connection). A submission joins the group that has
// not started yet; the group's request is made after every member joined,
// hence after every member's push, so the job it returns sees them all.
type batcher struct {
	mu      sync.Mutex
	pending map[string]*group // per mirror, the group that has not started
	active  map[string]bool   // per mirror, a leader goroutine is running
}

type group struct {
	trigger Trigger // of the latest member
	done    chan struct{}
	sub     Submission
	err     error
}

type submitFunc func(ctx context.Context, mirror string, trigger Trigger) (*Submission, error)

func (b *batcher) submit(ctx context.Context, mirror string, trigger Trigger, fn submitFunc) (*Submission, error) {
	b.mu.Lock()
	if b.pending == nil {
		b.pending, b.active = map[string]*group{}, map[string]bool{}
	}
	g := b.pending[mirror]
	if g == nil {
		g = &group{done: make(chan struct{})}
		b.pending[mirror] = g
	}
	g.trigger = trigger
	if !b.active[mirror] {
		b.active[mirror] = true
		// The leader outlives any one member's context.
		go b.lead(context.WithoutCancel(ctx), mirror, fn)
	}
	b.mu.Unlock()
	select {
	case <-g.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.err != nil {
		return nil, g.err
	}
	sub := g.sub
	return &sub, nil
}

// lead runs the pending groups of mirror one after another until none is left.
func (b *batcher) lead(ctx context.Context, mirror string, fn submitFunc) {
	for {
		b.mu.Lock()
		g := b.pending[mirror]
		delete(b.pending, mirror)
		if g == nil {
			delete(b.active, mirror)
			b.mu.Unlock()
			return
		}
		trigger := g.trigger
		b.mu.Unlock()
		func() {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			sub, err := fn(ctx, mirror, trigger)
			if err != nil {
				g.err = err
			} else {
				g.sub = *sub
			}
		}()
		close(g.done)
	}
}
