package queue_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/kitrun"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/scm"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// workerEnv, when set (to a JSON workerSpec), makes the test binary a worker
// process instead of running tests.
const workerEnv = "SYNCHRONISER_QUEUE_TEST_WORKER"

// workerSpec configures a worker process.
type workerSpec struct {
	Kind        string        // "git": gitSyncer; "hg": mirror.Syncer over hg sources
	DB          string        // PostgreSQL URL
	Root        string        // <Root>/<mirror>/ holds the source and dest.git
	Cache       string        // this worker's cache dir
	ID          string        // worker name
	Delay       time.Duration // gitSyncer delay
	JobTimeout  time.Duration
	RescueAfter time.Duration
	// TakeoverAfter and Heartbeat: liveness (default 3s and 200ms here).
	TakeoverAfter time.Duration
	Heartbeat     time.Duration
}

// workerMain runs a worker until SIGTERM; it is the body of the subprocess.
func workerMain() int {
	var spec workerSpec
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "worker: bad spec:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := store.Open(ctx, store.Config{Driver: store.Postgres, URL: spec.DB})
	if err != nil {
		log.Error("open store", "err", err)
		return 1
	}
	defer st.Close()
	cfg := queue.Config{
		Store: st, ID: spec.ID, Workers: 4, Logger: log,
		RetryBase: 200 * time.Millisecond, RetryMax: 2 * time.Second,
		JobTimeout: spec.JobTimeout, RescueAfter: spec.RescueAfter,
		TakeoverAfter: cmp.Or(spec.TakeoverAfter, 3*time.Second), Heartbeat: cmp.Or(spec.Heartbeat, 200*time.Millisecond),
		CacheDir:  spec.Cache,
		BusyRetry: 100 * time.Millisecond, ShutdownGrace: time.Second, FetchInterval: 100 * time.Millisecond,
	}
	switch spec.Kind {
	case "git":
		cfg.Syncer = &gitSyncer{
			cache:   spec.Cache,
			sources: func(m string) string { return filepath.Join(spec.Root, m, "src.git") },
			dests:   func(m string) string { return filepath.Join(spec.Root, m, "dest.git") },
			delay:   spec.Delay,
			marker:  spec.Root,
		}
		cfg.Retryable = retryable
	case "hg":
		cfg.Syncer = &hgSyncer{root: spec.Root, syncer: &mirror.Syncer{
			CacheDir: spec.Cache, AllowFile: true, Logger: log,
			Hg:  &hg.Runner{Timeout: 5 * time.Minute},
			Git: &git.Runner{Timeout: 5 * time.Minute},
		}}
		cfg.Retryable = func(err error) bool { return mirror.ClassOf(err) == mirror.Transient }
	default:
		log.Error("unknown kind", "kind", spec.Kind)
		return 2
	}
	q, err := queue.New(ctx, cfg)
	if err != nil {
		log.Error("queue", "err", err)
		return 1
	}
	if err := q.Run(ctx); err != nil {
		log.Error("run", "err", err)
		return 1
	}
	return 0
}

// hgSyncer syncs <root>/<mirror>/src (hg) to <root>/<mirror>/dest.git with
// the real pipeline, writing its conversion progress to
// <root>/<mirror>/progress ("done total") for the test to watch.
type hgSyncer struct {
	root   string
	syncer *mirror.Syncer
}

func (h *hgSyncer) Sync(ctx context.Context, name string, _ queue.Trigger) (*queue.RunResult, error) {
	dir := filepath.Join(h.root, name)
	m := mirror.Mirror{Name: name, SCM: scm.Hg, Source: filepath.Join(dir, "src"),
		Dest: mirror.Destination{URL: filepath.Join(dir, "dest.git")}, Policy: mirror.DefaultPolicy()}
	progress := filepath.Join(dir, "progress")
	res, err := h.syncer.Sync(ctx, m, mirror.SyncOptions{Progress: func(done, total int) {
		os.WriteFile(progress, []byte(fmt.Sprintf("%d %d", done, total)), 0o644) //nolint:errcheck // best effort
	}})
	if err != nil {
		return nil, err
	}
	rr := &queue.RunResult{Changesets: res.Changesets, Lag: 0}
	for _, u := range res.RefsUpdated {
		rr.RefsUpdated = append(rr.RefsUpdated, u.Ref)
	}
	return rr, nil
}

// startWorker starts the test binary as a worker process (kitrun.Process,
// in a process group of its own) and waits until its queue has started.
// The test's end kills what is still running.
func startWorker(t *testing.T, spec workerSpec) *kitrun.Process {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(testEnv(), workerEnv+"="+string(raw))
	log := &kitrun.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	p, err := kitrun.Start("worker "+spec.ID, cmd, log.String)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("log of worker %s:\n%s", spec.ID, kitrun.Tail(log.String(), 60))
		}
	})
	if err := p.WaitOutput("queue started", time.Minute); err != nil {
		t.Fatal(err)
	}
	return p
}

// stopWorker sends SIGTERM and waits for the worker's clean exit.
func stopWorker(t *testing.T, p *kitrun.Process) {
	t.Helper()
	if err := p.Term(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited with %d after SIGTERM", p.Name, code)
	}
}

// hookSide opens a new PostgreSQL database and a queue on it as the hook
// side has it: it queues, runs nothing, and is not even started.
func hookSide(t *testing.T) (store.Config, *store.Store, *queue.Queue) {
	t.Helper()
	cfg := storetest.Config(t, store.Postgres)
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, err := queue.New(context.Background(), queue.Config{Store: st, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, st, q
}

// TestTwoWorkerProcesses runs two worker processes, each with its own cache,
// against one PostgreSQL database, and pushes to 10 mirrors repeatedly:
// every mirror ends up synced and no mirror is ever synced by both at once.
func TestTwoWorkerProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, st, q := hookSide(t)
	root := t.TempDir()
	var mirrors []string
	srcs := map[string]*source{}
	for i := range 10 {
		m := fmt.Sprintf("mirror%02d", i)
		mirrors = append(mirrors, m)
		dir := filepath.Join(root, m)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		srcs[m] = newSource(t, dir)
		newDest(t, dir)
	}
	var workers []*kitrun.Process
	for _, id := range []string{"worker-a", "worker-b"} {
		workers = append(workers, startWorker(t, workerSpec{
			Kind: "git", DB: cfg.URL, Root: root, Cache: filepath.Join(t.TempDir(), "cache"), ID: id,
			Delay: 300 * time.Millisecond, JobTimeout: time.Minute, RescueAfter: 2 * time.Minute,
		}))
	}
	tips := map[string]string{}
	jobs := map[int64]bool{}
	for round := range 4 {
		for _, m := range mirrors {
			tips[m] = srcs[m].Push(t)
			id, err := q.Enqueue(ctx, m, queue.Push("github", fmt.Sprintf("%s-%d", m, round)))
			if err != nil {
				t.Fatal(err)
			}
			jobs[id] = true
		}
		time.Sleep(200 * time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for id := range jobs {
		j, err := q.Wait(wctx, id)
		if err != nil {
			t.Fatalf("wait for job %d: %v", id, err)
		}
		for !j.Done() { // Wait also returns on a failed attempt
			if j, err = q.Wait(wctx, id); err != nil {
				t.Fatalf("wait for job %d: %v", id, err)
			}
		}
		if !j.Succeeded() {
			t.Fatalf("job %d: state %s err %v", id, j.State, j.Err())
		}
	}
	for _, w := range workers {
		stopWorker(t, w)
	}
	byWorker := map[string]int{}
	for _, m := range mirrors {
		dest := filepath.Join(root, m, "dest.git")
		got := mustGit(t, dest, "rev-parse", "refs/heads/master")
		if got != tips[m] {
			t.Errorf("%s: destination master %s, want the last push %s", m, got, tips[m])
		}
		if _, err := os.Stat(filepath.Join(root, m, "OVERLAP")); err == nil {
			t.Errorf("%s: two syncs ran at the same time", m)
		}
		runs, err := st.Runs(ctx, m, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range runs {
			byWorker[r.Worker]++
			if r.Finished.IsZero() {
				t.Errorf("%s: run %d never finished", m, r.ID)
				continue
			}
			// Newest first: each run must start after the previous ended.
			if i+1 < len(runs) && runs[i+1].Finished.After(r.Started) {
				t.Errorf("%s: run %d (%s, %v) overlaps run %d (%s, ended %v)", m, r.ID, r.Worker, r.Started,
					runs[i+1].ID, runs[i+1].Worker, runs[i+1].Finished)
			}
		}
		if len(runs) > 8 {
			t.Errorf("%s: %d runs for 4 pushes; coalescing failed", m, len(runs))
		}
	}
	t.Logf("runs by worker: %v", byWorker)
	if byWorker["worker-a"] == 0 || byWorker["worker-b"] == 0 {
		t.Errorf("one worker did all the work: %v", byWorker)
	}
}

// TestKillWorkerDuringSync kills a worker with SIGKILL in the middle of
// converting a large repository; a second worker on the same cache
// completes the job, and the destination and the map are consistent (and
// identical to a conversion that was never interrupted).
func TestKillWorkerDuringSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, _, q := hookSide(t)
	root := t.TempDir()
	dir := filepath.Join(root, "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const revs = 1500
	src := filepath.Join(dir, "src")
	hgtest.Run(t, "", "init", "--", src)
	hgtest.Run(t, src, "debugbuilddag", "--new-file", "+"+strconv.Itoa(revs))
	dest := newDest(t, dir)
	cache := filepath.Join(t.TempDir(), "cache")
	// River's own rescue would wait for JobTimeout + RescueAfter (20 min
	// here); the takeover of a dead worker's job must come in seconds.
	spec := workerSpec{Kind: "hg", DB: cfg.URL, Root: root, Cache: cache, ID: "doomed",
		JobTimeout: 10 * time.Minute, RescueAfter: 20 * time.Minute}
	doomed := startWorker(t, spec)

	id, err := q.Enqueue(ctx, "big", queue.Push("github", "big-1"))
	if err != nil {
		t.Fatal(err)
	}
	progress := filepath.Join(dir, "progress")
	waitFor(t, 2*time.Minute, "the conversion to be a third done", func() bool {
		b, err := os.ReadFile(progress)
		if err != nil {
			return false
		}
		var done, total int
		if _, err := fmt.Sscan(string(b), &done, &total); err != nil {
			return false
		}
		if done >= total && total > 0 {
			t.Fatalf("conversion finished (%d/%d) before the kill: repository too small for this machine", done, total)
		}
		return total > 0 && done*3 >= total
	})
	doomed.Kill() // SIGKILL, to the worker and its hg and git
	killed, _ := os.ReadFile(progress)
	t.Logf("killed at progress %s", killed)
	j, err := q.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != queue.StateRunning {
		t.Fatalf("after the kill the job is %s, want still running (until taken over)", j.State)
	}
	killedAt := time.Now()

	spec.ID = "survivor"
	survivor := startWorker(t, spec)
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	for {
		if j, err = q.Wait(wctx, id); err != nil {
			t.Fatalf("wait: %v", err)
		}
		if j.Done() {
			break
		}
	}
	stopWorker(t, survivor)
	if !j.Succeeded() {
		t.Fatalf("job: state %s err %v runs %+v", j.State, j.Err(), j.Runs)
	}
	first, last := j.Runs[0], j.Runs[len(j.Runs)-1]
	if first.Worker != "doomed" || first.Outcome != store.OutcomeAborted || !strings.Contains(first.Error, "interrupted") {
		t.Errorf("first run = %s by %s (%q), want aborted by doomed, interrupted", first.Outcome, first.Worker, first.Error)
	}
	if d := last.Started.Sub(killedAt); d > 30*time.Second {
		t.Errorf("the survivor resumed the job %v after the kill, want within 30s", d)
	}
	if last.Worker != "survivor" || last.Outcome != store.OutcomeSuccess {
		t.Errorf("last run = %s by %s, want success by survivor", last.Outcome, last.Worker)
	}

	// The map: one entry per changeset, every commit present, the tip's
	// commit at the destination.
	hgRoot := filepath.Join(cache, "big", "hg")
	mapping := readMap(t, filepath.Join(hgRoot, ".hg", "git-mapfile"))
	if len(mapping) != revs {
		t.Fatalf("map has %d entries, want %d", len(mapping), revs)
	}
	tipNode := strings.TrimSpace(hgtest.Run(t, src, "log", "-r", "tip", "-T", "{node}"))
	tipSHA, ok := mapping[tipNode]
	if !ok {
		t.Fatalf("tip %s not in the map", tipNode)
	}
	if got := mustGit(t, dest, "rev-parse", "refs/heads/master"); got != tipSHA {
		t.Fatalf("destination master = %s, map says tip is %s", got, tipSHA)
	}
	if n := mustGit(t, dest, "rev-list", "--count", "refs/heads/master"); n != strconv.Itoa(revs) {
		t.Fatalf("destination master has %s commits, want %d", n, revs)
	}
	mustGit(t, dest, "fsck", "--no-progress", "--strict")
	var shas bytes.Buffer
	for _, sha := range mapping {
		shas.WriteString(sha + "\n")
	}
	out := gittest.RunInput(t, "", shas.Bytes(), "--git-dir="+filepath.Join(hgRoot, ".hg", "git"), "cat-file", "--batch-check")
	if strings.Contains(out, "missing") {
		t.Fatalf("map names commits missing from the cache:\n%s", kitrun.Tail(out, 5))
	}

	// An uninterrupted conversion gives the same commits.
	ref := &mirror.Syncer{CacheDir: t.TempDir(), AllowFile: true,
		Hg: &hg.Runner{Timeout: 5 * time.Minute}, Git: &git.Runner{Timeout: 5 * time.Minute}}
	refDest := filepath.Join(t.TempDir(), "ref.git")
	mustGit(t, "", "init", "-q", "--bare", "--", refDest)
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer rcancel()
	if _, err := ref.Sync(rctx, mirror.Mirror{Name: "big", SCM: scm.Hg, Source: src,
		Dest: mirror.Destination{URL: refDest}, Policy: mirror.DefaultPolicy()}, mirror.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := mustGit(t, refDest, "rev-parse", "refs/heads/master"); want != tipSHA {
		t.Fatalf("after the crash master is %s; an uninterrupted conversion gives %s", tipSHA, want)
	}
}

// readMap reads hg-git's map: "<git sha> <hg node>" a line; it returns
// hg node → git sha and fails on a malformed or duplicated line.
func readMap(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		sha, node, ok := strings.Cut(line, " ")
		if !ok || len(sha) != 40 || len(node) != 40 {
			t.Fatalf("%s:%d: malformed line %q", path, i+1, line)
		}
		if _, dup := m[node]; dup {
			t.Fatalf("%s:%d: node %s mapped twice", path, i+1, node)
		}
		m[node] = sha
	}
	return m
}
