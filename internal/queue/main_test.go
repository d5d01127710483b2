package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/queue"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a worker process (see worker_process_test.go).
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

// testEnv is the environment of the worker processes and the git and hg
// they run: the test's own, then the kits' fixed git and hg environments.
func testEnv() []string { return append(append(os.Environ(), gittest.Env()...), hgtest.Env()...) }

func mustGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(gittest.Run(t, dir, args...))
}

// source is a bare git repository that receives pushes from a work tree.
type source struct {
	Bare, Work string
	n          int
}

func newSource(t testing.TB, dir string) *source {
	t.Helper()
	s := &source{Bare: filepath.Join(dir, "src.git"), Work: filepath.Join(dir, "work")}
	mustGit(t, dir, "init", "-q", "--bare", "-b", "master", "--", s.Bare)
	mustGit(t, dir, "init", "-q", "-b", "master", "--", s.Work)
	mustGit(t, s.Work, "remote", "add", "origin", s.Bare)
	s.Push(t)
	return s
}

// Push commits a new file and pushes it to the bare repository; it returns
// the new tip.
func (s *source) Push(t testing.TB) string {
	t.Helper()
	s.n++
	name := fmt.Sprintf("f%04d", s.n)
	if err := os.WriteFile(filepath.Join(s.Work, name), []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, s.Work, "add", "--", name)
	mustGit(t, s.Work, "commit", "-q", "-m", "commit "+name)
	mustGit(t, s.Work, "push", "-q", "origin", "master")
	return mustGit(t, s.Work, "rev-parse", "HEAD")
}

// Transient marks an error as a transient fault (for the tests' Retryable).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var te *transientError
	return errors.As(err, &te)
}

// gitSyncer is a real sync: fetch the source into a per-worker cache (a cold
// cache clones), push its branches to the destination.
type gitSyncer struct {
	cache   string                     // this worker's cache dir
	sources func(mirror string) string // mirror → source URL
	dests   func(mirror string) string // mirror → destination URL
	delay   time.Duration              // extra time inside a sync, to widen races
	// marker, if set, is a directory shared by worker processes: a sync
	// holds <marker>/<mirror>/syncing and leaves <marker>/<mirror>/OVERLAP
	// if it finds it held.
	marker string
	// gate, if not nil, holds every sync after its fetch until closed.
	gate chan struct{}

	mu      sync.Mutex
	active  map[string]int // mirror → syncs running now
	overlap atomic.Int32   // times two syncs of a mirror overlapped
	calls   atomic.Int32
	started chan string // if not nil, receives the mirror when a sync starts
}

func (g *gitSyncer) Sync(ctx context.Context, mirror string, _ queue.Trigger) (*queue.RunResult, error) {
	g.calls.Add(1)
	g.mu.Lock()
	if g.active == nil {
		g.active = map[string]int{}
	}
	g.active[mirror]++
	if g.active[mirror] > 1 {
		g.overlap.Add(1)
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.active[mirror]--
		g.mu.Unlock()
	}()
	if g.marker != "" {
		held := filepath.Join(g.marker, mirror, "syncing")
		f, err := os.OpenFile(held, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			os.WriteFile(filepath.Join(g.marker, mirror, "OVERLAP"), []byte(err.Error()), 0o644) //nolint:errcheck
		} else {
			f.Close()
			defer os.Remove(held)
		}
	}
	if g.started != nil {
		select {
		case g.started <- mirror:
		default:
		}
	}
	if err := os.MkdirAll(g.cache, 0o755); err != nil {
		return nil, err
	}
	cache := filepath.Join(g.cache, mirror+".git")
	if _, err := os.Stat(cache); err != nil {
		tmp := cache + ".tmp"
		os.RemoveAll(tmp)
		if _, err := gittest.RunContext(ctx, g.cache, nil, "clone", "-q", "--mirror", "--", g.sources(mirror), tmp); err != nil {
			return nil, &transientError{err}
		}
		if err := os.Rename(tmp, cache); err != nil {
			return nil, err
		}
	} else if _, err := gittest.RunContext(ctx, cache, nil, "fetch", "-q", "--prune", "origin"); err != nil {
		return nil, &transientError{err}
	}
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if g.delay > 0 {
		select {
		case <-time.After(g.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out, err := gittest.RunContext(ctx, cache, nil, "push", "--porcelain", "--", g.dests(mirror), "+refs/heads/*:refs/heads/*")
	if err != nil {
		if strings.Contains(err.Error(), "returned error: 5") {
			return nil, &transientError{err}
		}
		return nil, err // authentication refused, missing repository: permanent
	}
	res := &queue.RunResult{Lag: 0}
	for _, line := range strings.Split(out, "\n") {
		// "<flag>\t<from>:<to>\t<summary>"; "=" is up to date.
		f := strings.Split(line, "\t")
		if len(f) >= 2 && f[0] != "=" && strings.Contains(f[1], ":") {
			res.RefsUpdated = append(res.RefsUpdated, f[1][strings.Index(f[1], ":")+1:])
		}
	}
	return res, nil
}

// newDest creates a bare destination repository.
func newDest(t testing.TB, dir string) string {
	t.Helper()
	return gittest.BareAt(t, filepath.Join(dir, "dest.git"))
}

// gitHTTP serves the bare repositories under root with git http-backend on
// 127.0.0.1; fail(n) answers instead for request n (from 1) if it returns a
// status other than 0.
func gitHTTP(t testing.TB, root string, fail func(n int) int) *gittest.Server {
	t.Helper()
	return gittest.HTTPServer(t, root, "", gittest.WithFailures(fail))
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
