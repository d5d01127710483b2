package crashtest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/store"
)

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
		dest := gittest.Bare(t)
		data := t.TempDir()
		m := mirrorSpec{Name: "m", Source: srv.URL, Dest: dest}
		cfg := writeConfig(t, settings{DataDir: data, Mirrors: []mirrorSpec{m}, Grace: "20s"})
		p := start(t, "serve", []string{pauseEnv + "push", "SYNCHRONISER_TEST_PAUSE_FOR=2s"}, "serve", "--config", cfg)
		mustHook(t, p.addr, m, "d-1")
		p.waitLog("TEST PAUSE at push", time.Minute)
		sent := time.Now()
		p.term(40 * time.Second)
		t.Logf("stopped %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
		if got := commits(dest); got != n {
			t.Fatalf("after a graceful stop the destination has %d commits, want %d (the sync finished)", got, n)
		}
		runs := history(t, store.Config{Driver: store.SQLite, Path: filepath.Join(data, "synchroniser.db")}, "m")
		if len(runs) != 1 || runs[0].Outcome != store.OutcomeSuccess {
			t.Fatalf("runs = %+v, want one success", runs)
		}
	})
	t.Run("handed back", func(t *testing.T) {
		t.Parallel()
		const n = 30
		_, srv := newSource(t, n)
		dest := gittest.Bare(t)
		data := t.TempDir()
		m := mirrorSpec{Name: "m", Source: srv.URL, Dest: dest}
		cfg := writeConfig(t, settings{DataDir: data, Mirrors: []mirrorSpec{m}, Grace: "1s"})
		p := start(t, "serve", []string{pauseEnv + "push"}, "serve", "--config", cfg)
		mustHook(t, p.addr, m, "d-1")
		p.waitLog("TEST PAUSE at push", time.Minute)
		sent := time.Now()
		p.term(40 * time.Second)
		if d := time.Since(sent); d > 15*time.Second {
			t.Errorf("stop took %v with a grace of 1s", d)
		}
		if !strings.Contains(p.log.String(), "sync interrupted by shutdown; job handed back") {
			t.Errorf("the running sync was not handed back")
		}
		if got := commits(dest); got != -1 {
			t.Fatalf("the cancelled sync pushed: destination has %d commits", got)
		}
		again := start(t, "serve-again", nil, "serve", "--config", cfg)
		waitCommits(t, dest, n, 30*time.Second, again)
		again.waitLog("sync done", 30*time.Second)
		again.term(30 * time.Second)
		runs := history(t, store.Config{Driver: store.SQLite, Path: filepath.Join(data, "synchroniser.db")}, "m")
		if len(runs) != 2 || runs[1].Outcome != store.OutcomeAborted || !strings.Contains(runs[1].Error, "shutting down") ||
			runs[0].Outcome != store.OutcomeSuccess || runs[0].JobID != runs[1].JobID {
			t.Fatalf("runs = %+v, want the aborted run then a success of the same job", runs)
		}
	})
}

// history returns mirror's runs, newest first.
func history(t *testing.T, sc store.Config, mirror string) []store.Run {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(ctx, mirror, 100)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}
