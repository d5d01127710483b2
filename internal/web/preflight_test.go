package web

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/mirror"
)

// countingLs is an LsRemoter that counts its calls and fails while fail is set.
type countingLs struct {
	calls atomic.Int32
	fail  atomic.Bool
}

func (c *countingLs) LsRemote(context.Context, string) (map[string]git.Hash, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return nil, errors.New("repository not found")
	}
	return map[string]git.Hash{}, nil
}

func TestPreflightRemembersSuccessOnly(t *testing.T) {
	t.Parallel()
	ls := &countingLs{}
	p := DefaultPreflight(config.Default(), func(mirror.Destination) LsRemoter { return ls }).(*preflight)
	now := time.Unix(1_700_000_000, 0)
	p.now = func() time.Time { return now }
	ctx := context.Background()
	d := mirror.Destination{URL: "https://git.example.org/a.git", Token: "t1"}

	ls.fail.Store(true)
	for range 2 {
		if err := p.Preflight(ctx, d); !errors.Is(err, ErrDestination) {
			t.Fatalf("failing destination: err = %v, want ErrDestination", err)
		}
	}
	if got := ls.calls.Load(); got != 2 {
		t.Fatalf("failures must not be remembered: %d ls-remote calls, want 2", got)
	}

	ls.fail.Store(false)
	for range 5 {
		if err := p.Preflight(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if got := ls.calls.Load(); got != 3 {
		t.Fatalf("a burst must cost one check: %d ls-remote calls, want 3", got)
	}

	other := d
	other.Token = "t2" // new credentials are checked afresh
	if err := p.Preflight(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := ls.calls.Load(); got != 4 {
		t.Fatalf("new token: %d ls-remote calls, want 4", got)
	}

	now = now.Add(PreflightTTL)
	ls.fail.Store(true)
	if err := p.Preflight(ctx, d); !errors.Is(err, ErrDestination) {
		t.Fatalf("after the TTL the destination is asked again: err = %v", err)
	}
	ls.fail.Store(false)
	if err := p.Preflight(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := len(p.passed); got != 1 {
		t.Fatalf("expired entries kept: %d remembered, want 1", got)
	}
}
