package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/mirror"
)

// pauseEnv names the phase of the first sync at which the process stops for
// good, for tests that kill it there with SIGKILL: the process writes
// "TEST PAUSE at <phase>" to its log and its sync never goes on. Phases:
//
//	clone       the hg clone is complete under its temporary name, not yet the cache
//	pull        the hg pull into the cache is done, nothing converted
//	conversion  half of the new changesets are converted (the pack is being written)
//	pack        every changeset is converted, the pack not yet committed nor the map saved
//	push        the destination's refs were listed, the push not yet made
//	pushed      the push is done, the run not yet recorded
//
// Unset (always, outside tests) it does nothing. pauseForEnv, a duration,
// ends the pause after that long (default: never); a pause in a hg or git
// command's log record also ends when the sync is cancelled (shutdown).
const (
	pauseEnv    = "SYNCHRONISER_TEST_PAUSE_AT"
	pauseForEnv = "SYNCHRONISER_TEST_PAUSE_FOR"
)

var testPauses = []string{"clone", "pull", "conversion", "pack", "push", "pushed"}

// testPause stops the calling goroutine at its phase, once.
type testPause struct {
	phase string
	d     time.Duration // 0 = for ever
	w     io.Writer
	mu    sync.Mutex
	hit   bool
}

var (
	pauseOnce sync.Once
	thePause  *testPause
)

// testPauseFor returns the configured pause (nil when pauseEnv is unset),
// logging to w.
func testPauseFor(w io.Writer) *testPause {
	pauseOnce.Do(func() {
		phase := os.Getenv(pauseEnv)
		if phase == "" {
			return
		}
		thePause = &testPause{phase: phase, w: w}
		if d, err := time.ParseDuration(os.Getenv(pauseForEnv)); err == nil && d > 0 {
			thePause.d = d
		}
		known := false
		for _, p := range testPauses {
			known = known || p == phase
		}
		if !known {
			fmt.Fprintf(w, "%s=%q: unknown phase (known: %v); ignored\n", pauseEnv, phase, testPauses)
			thePause = nil
		}
	})
	return thePause
}

// at blocks (for p.d, or until ctx is done) if phase is the configured one
// and was not hit yet.
func (p *testPause) at(ctx context.Context, phase string) {
	if p == nil || phase != p.phase {
		return
	}
	p.mu.Lock()
	if p.hit {
		p.mu.Unlock()
		return
	}
	p.hit = true
	p.mu.Unlock()
	fmt.Fprintf(p.w, "TEST PAUSE at %s\n", phase)
	var end <-chan time.Time
	if p.d > 0 {
		end = time.After(p.d)
	}
	select {
	case <-end:
	case <-ctx.Done():
	}
	fmt.Fprintf(p.w, "TEST PAUSE at %s ended\n", phase)
}

// progress is a conversion progress callback pausing at "conversion" and "pack".
func (p *testPause) progress(done, total int) {
	if p == nil || total == 0 {
		return
	}
	if done*2 >= total {
		p.at(context.Background(), "conversion")
	}
	if done >= total {
		p.at(context.Background(), "pack")
	}
}

// pauseHandler passes records to the process's handler and pauses after the
// records logged when an hg or git command ends.
type pauseHandler struct {
	slog.Handler
	p *testPause
}

func (h pauseHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h pauseHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.Handler.Enabled(ctx, r.Level) {
		err = h.Handler.Handle(ctx, r)
	}
	if phase := phaseOf(r); phase != "" {
		h.p.at(ctx, phase)
	}
	return err
}

func (h pauseHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return pauseHandler{h.Handler.WithAttrs(attrs), h.p}
}

func (h pauseHandler) WithGroup(name string) slog.Handler {
	return pauseHandler{h.Handler.WithGroup(name), h.p}
}

// phaseOf names the phase a record ends, "" if none: the native
// transport's records of its clone and pull (mirror.MsgClonePartial,
// mirror.MsgCachePulled), or a finished command ("command", logged by
// internal/command for every hg and git run): hg clone and hg pull by
// their subcommand, git by its op.
func phaseOf(r slog.Record) string {
	switch r.Message {
	case mirror.MsgClonePartial:
		return "clone"
	case mirror.MsgCachePulled:
		return "pull"
	case "command":
	default:
		return ""
	}
	var program, op string
	var args []string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "program":
			program = a.Value.String()
		case "op":
			op = a.Value.String()
		case "args":
			args, _ = a.Value.Any().([]string)
		}
		return true
	})
	switch op {
	case "ls-remote":
		return "push"
	case "push", git.OpSeed: // an empty local destination is seeded, not pushed to
		return "pushed"
	}
	if op == "" && strings.Contains(filepath.Base(program), "hg") {
		for _, a := range args {
			if a == "clone" || a == "pull" {
				return a
			}
		}
	}
	return ""
}
