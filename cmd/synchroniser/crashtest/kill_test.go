package crashtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// phases are the points of a sync where the tests kill the process (see
// SYNCHRONISER_TEST_PAUSE_AT in cmd/synchroniser/testhook.go).
var phases = []string{"clone", "pull", "conversion", "pack", "push", "pushed"}

const pauseEnv = "SYNCHRONISER_TEST_PAUSE_AT="

// TestKillServeAtPhase: `synchroniser serve` (SQLite) is killed with
// SIGKILL at each phase of a sync and started again. The restarted service
// resumes the dead one's job by itself, within 30 s of its start; the
// destination was never half-updated (before or after the push, as a whole)
// and ends equal to a clean mirror of the source; a webhook sent after the
// restart syncs too (it is not coalesced into the dead job); the history
// says the killed run was interrupted; the cache left behind is used.
func TestKillServeAtPhase(t *testing.T) {
	t.Parallel()
	for _, phase := range phases {
		t.Run(phase, func(t *testing.T) {
			t.Parallel()
			testKillServe(t, phase)
		})
	}
}

func testKillServe(t *testing.T, phase string) {
	const initial = 40
	src, srv := newSource(t, initial)
	n := initial // changesets in the source
	o := newSingle(t, srv.URL, settings{})
	dest, data, m, cfg := o.dest, o.data, o.m, o.cfg
	prev := ""
	if phase == "pull" {
		// A first complete sync makes the cache the pull goes into.
		first := start(t, "serve-first", nil, "serve", "--config", cfg)
		mustHook(t, first.addr, m, "first")
		waitCommits(t, dest, n, time.Minute, first)
		first.term(30 * time.Second)
		prev = refs(dest)
	}
	if phase == "pull" || phase == "push" || phase == "pushed" {
		for i := range 3 {
			src.Write(fmt.Sprintf("new-%d.txt", i), "new\n")
			src.Commit()
			n++
		}
	}

	doomed := start(t, "serve-doomed", []string{pauseEnv + phase}, "serve", "--config", cfg)
	mustHook(t, doomed.addr, m, "doomed-1")
	doomed.waitLog("TEST PAUSE at "+phase, time.Minute)
	doomed.Kill()
	killed := refs(dest)
	// Never half-updated: as before the sync, or (killed after the push)
	// with every ref of the sync.
	if got := commits(dest); killed != prev && got != n {
		t.Fatalf("after the kill at %s the destination is half-updated (%d commits, want %d or as before):\n%s", phase, got, n, killed)
	}

	restartedAt := time.Now()
	restarted := start(t, "serve-restarted", nil, "serve", "--config", cfg)
	restarted.waitLog("job of a dead worker taken over", 30*time.Second)
	waitCommits(t, dest, n, 30*time.Second, restarted)
	restarted.waitLog("sync done", 30*time.Second)
	took := time.Since(restartedAt)
	t.Logf("killed at %s: synced and recorded %v after the restart", phase, took.Round(time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("the restarted service completed the mirror %v after its start, want within 30s", took)
	}

	// A push after the restart is synced as well.
	src.Write("after.txt", "after\n")
	src.Commit()
	n++
	mustHook(t, restarted.addr, m, "after-1")
	waitCommits(t, dest, n, 30*time.Second, restarted)
	restarted.term(30 * time.Second)
	if want := cleanMirror(t, src.Dir); refs(dest) != want {
		t.Fatalf("destination differs from a clean mirror of the source:\ngot  %s\nwant %s", refs(dest), want)
	}
	gittest.Run(t, "", "--git-dir="+dest, "fsck", "--no-progress", "--strict")

	// The cache is whole: no clone left half-made.
	if _, err := os.Stat(filepath.Join(data, "cache", "m", "hg.partial")); err == nil {
		t.Errorf("an interrupted clone is left in the cache")
	}
	if _, err := os.Stat(filepath.Join(data, "cache", "m", "hg", ".hg")); err != nil {
		t.Errorf("no hg cache: %v", err)
	}
	checkInterrupted(t, o.db(), "m", "")
}

// checkInterrupted checks that mirror's history has a run that says it was
// interrupted (by worker, if not ""), and that the last run succeeded.
func checkInterrupted(t *testing.T, sc store.Config, mirror, worker string) {
	t.Helper()
	runs := history(t, sc, mirror)
	if len(runs) == 0 || runs[0].Outcome != store.OutcomeSuccess {
		t.Fatalf("last run is not a success: %+v", runs)
	}
	for _, r := range runs {
		if r.Outcome == store.OutcomeAborted && strings.Contains(r.Error, "interrupted") && (worker == "" || r.Worker == worker) {
			return
		}
	}
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s by %s: %s %q", r.Trigger(), r.Worker, r.Outcome, r.Error))
	}
	t.Fatalf("no run of %s says it was interrupted:\n%s", mirror, strings.Join(got, "\n"))
}

// TestKillWorkerPostgres: two `synchroniser worker` processes and a
// `serve --no-workers` share a PostgreSQL database; the worker syncing a
// mirror is killed with SIGKILL mid-sync, and the other completes the
// mirror within 30 s of the kill, with its own cache.
func TestKillWorkerPostgres(t *testing.T) {
	t.Parallel()
	for _, phase := range []string{"conversion", "push"} {
		t.Run(phase, func(t *testing.T) {
			t.Parallel()
			testKillWorker(t, phase)
		})
	}
}

func testKillWorker(t *testing.T, phase string) {
	db := storetest.NewDatabase(t)
	const initial = 40
	src, srv := newSource(t, initial)
	n := initial
	o := newSingle(t, srv.URL, settings{Database: db})
	dest, m, cfg := o.dest, o.m, o.cfg
	web := start(t, "serve", nil, "serve", "--config", cfg, "--no-workers")
	cacheA, cacheB := t.TempDir(), t.TempDir()
	// worker-a alone is up: it is the mirror's home.
	a := start(t, "worker-a", []string{pauseEnv + phase}, "worker", "--config", cfg, "--id", "worker-a", "--data-dir", cacheA)
	mustHook(t, web.addr, m, "d-1")
	a.waitLog("TEST PAUSE at "+phase, time.Minute)
	b := start(t, "worker-b", nil, "worker", "--config", cfg, "--id", "worker-b", "--data-dir", cacheB)
	a.Kill()
	took := waitCommits(t, dest, n, 30*time.Second, web, b) // within 30 s of the kill
	t.Logf("worker-a killed at %s: worker-b synced %v after the kill", phase, took.Round(time.Millisecond))

	// A later push goes to worker-b, the only live worker.
	src.Write("after.txt", "after\n")
	src.Commit()
	n++
	mustHook(t, web.addr, m, "d-2")
	waitCommits(t, dest, n, 30*time.Second, web, b)
	b.term(30 * time.Second)
	web.term(30 * time.Second)
	if want := cleanMirror(t, src.Dir); refs(dest) != want {
		t.Fatalf("destination differs from a clean mirror of the source:\ngot  %s\nwant %s", refs(dest), want)
	}
	if _, err := os.Stat(filepath.Join(cacheB, "cache", "m", "hg", ".hg")); err != nil {
		t.Errorf("worker-b has no cache of the mirror: %v", err)
	}
	checkInterrupted(t, store.Config{Driver: store.Postgres, URL: db}, "m", "worker-a")
}

// TestGracefulStop: SIGTERM during a sync. A sync that ends within
// shutdown_grace finishes (the destination is synced, the run succeeded);
// one that does not is cancelled and handed back, and the next start of
// the service completes it.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	t.Run("finishes", func(t *testing.T) {
		t.Parallel()
		const n = 30
		_, srv := newSource(t, n)
		o := newSingle(t, srv.URL, settings{Grace: "20s"})
		p := o.startPaused(t, "push", "SYNCHRONISER_TEST_PAUSE_FOR=2s")
		sent := time.Now()
		p.term(40 * time.Second)
		t.Logf("stopped %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
		if got := commits(o.dest); got != n {
			t.Fatalf("after a graceful stop the destination has %d commits, want %d (the sync finished)", got, n)
		}
		runs := history(t, o.db(), "m")
		if len(runs) != 1 || runs[0].Outcome != store.OutcomeSuccess {
			t.Fatalf("runs = %+v, want one success", runs)
		}
	})
	t.Run("handed back", func(t *testing.T) {
		t.Parallel()
		const n = 30
		_, srv := newSource(t, n)
		o := newSingle(t, srv.URL, settings{Grace: "1s"})
		p := o.startPaused(t, "push")
		sent := time.Now()
		p.term(40 * time.Second)
		if d := time.Since(sent); d > 15*time.Second {
			t.Errorf("stop took %v with a grace of 1s", d)
		}
		if !strings.Contains(p.log.String(), "sync interrupted by shutdown; job handed back") {
			t.Errorf("the running sync was not handed back")
		}
		if got := commits(o.dest); got != -1 {
			t.Fatalf("the cancelled sync pushed: destination has %d commits", got)
		}
		again := start(t, "serve-again", nil, "serve", "--config", o.cfg)
		waitCommits(t, o.dest, n, 30*time.Second, again)
		again.waitLog("sync done", 30*time.Second)
		again.term(30 * time.Second)
		runs := history(t, o.db(), "m")
		if len(runs) != 2 || runs[1].Outcome != store.OutcomeAborted || !strings.Contains(runs[1].Error, "shutting down") ||
			runs[0].Outcome != store.OutcomeSuccess || runs[0].JobID != runs[1].JobID {
			t.Fatalf("runs = %+v, want the aborted run then a success of the same job", runs)
		}
	})
}
