package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// syncBuffer is a bytes.Buffer safe for the worker goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWorkerCommand runs `synchroniser worker` on each driver: a job queued
// by another store handle (the hook side) is synced with the worker's own
// cache (--data-dir), and cancelling the context (SIGTERM) stops it cleanly.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			testWorkerCommand(t, driver)
		})
	}
}

func testWorkerCommand(t *testing.T, driver string) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	hgtest.Run(t, "", "init", "--", src)
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hgtest.Run(t, src, "commit", "--addremove", "-d", "1600000000 0", "-m", "first")
	dest := filepath.Join(dir, "dest.git")
	gittest.Run(t, "", "init", "-q", "--bare", "--", dest)

	dataDir := filepath.Join(dir, "data")
	scfg := store.Config{Driver: store.SQLite, Path: filepath.Join(dataDir, "synchroniser.db")}
	dbURL := ""
	if driver == store.Postgres {
		dbURL = storetest.NewDatabase(t)
		scfg = store.Config{Driver: store.Postgres, URL: dbURL}
	}
	cacheRoot := filepath.Join(dir, "worker-data")
	conf := filepath.Join(dir, "synchroniser.toml")
	toml := fmt.Sprintf(`data_dir = %q
database_url = %q

[source]
allow_file = true

[limits]
concurrent_syncs = 2

[[mirror]]
name = "demo"
scm = "hg"
source = %q
[mirror.destination]
url = %q
`, dataDir, dbURL, src, dest)
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"worker", "--config", conf, "--data-dir", cacheRoot, "--id", "w1"}, &stderr, &stderr)
	}()

	// The worker creates the database; the hook side opens it when it exists.
	var st *store.Store
	var err error
	deadline := time.Now().Add(time.Minute)
	for {
		if _, serr := os.Stat(scfg.Path); driver == store.Postgres || serr == nil {
			if st, err = store.Open(context.Background(), scfg); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("open the database: %v\nworker log:\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer st.Close()
	q, err := queue.New(context.Background(), queue.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	id, err := q.Enqueue(context.Background(), "demo", queue.Push("generic", "d-1"))
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer wcancel()
	j, err := q.Wait(wctx, id)
	if err != nil {
		t.Fatalf("wait: %v\nworker log:\n%s", err, stderr.String())
	}
	if !j.Succeeded() || len(j.Runs) != 1 || j.Runs[0].Worker != "w1" {
		t.Fatalf("job = state %s err %v runs %+v\nworker log:\n%s", j.State, j.Err(), j.Runs, stderr.String())
	}
	if got := strings.TrimSpace(gittest.Run(t, "", "--git-dir="+dest, "log", "-1", "--format=%s", "refs/heads/master")); got != "first" {
		t.Fatalf("destination master message = %q", got)
	}
	if _, err := os.Stat(filepath.Join(cacheRoot, "cache", "demo")); err != nil {
		t.Fatalf("the worker's cache is not under --data-dir: %v", err)
	}

	cancel() // SIGTERM
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("worker exited with %d\n%s", c, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("worker did not stop within a minute of SIGTERM")
	}
	if log := stderr.String(); !strings.Contains(log, "worker stopped") || (dbURL != "" && strings.Contains(log, dbURL)) {
		t.Fatalf("worker log (must say it stopped and never print the database URL):\n%s", log)
	}
}

func TestWorkerCommandErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"worker", "extra"}, 2},
		{[]string{"worker", "--bogus"}, 2},
		{[]string{"worker", "--config", "/nonexistent/synchroniser.toml"}, 2},
		{[]string{"worker", "--help"}, 0},
	} {
		var out bytes.Buffer
		if got := run(context.Background(), tt.args, &out, &out); got != tt.want {
			t.Errorf("%v: exit %d, want %d\n%s", tt.args, got, tt.want, out.String())
		}
	}
}
