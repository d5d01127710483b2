package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// fixture is one database, one source and one destination per mirror, and
// a worker (in this process) with its own cache.
type fixture struct {
	t      *testing.T
	dir    string
	store  *store.Store
	srcs   map[string]*source
	dests  map[string]string
	syncer *gitSyncer
}

func newFixture(t *testing.T, driver string, mirrors ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), store: storetest.Open(t, driver), srcs: map[string]*source{}, dests: map[string]string{}}
	for _, m := range mirrors {
		d := filepath.Join(f.dir, m)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		f.srcs[m] = newSource(t, d)
		f.dests[m] = newDest(t, d)
	}
	cache := filepath.Join(f.dir, "cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	f.syncer = &gitSyncer{
		cache:   cache,
		sources: func(m string) string { return f.srcs[m].Bare },
		dests:   func(m string) string { return f.dests[m] },
	}
	return f
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// config returns a queue config with short intervals for tests.
func (f *fixture) config() queue.Config {
	return queue.Config{
		Store: f.store, Syncer: f.syncer, Retryable: retryable,
		Workers: 4, ID: "test-" + f.t.Name(),
		RetryBase: 100 * time.Millisecond, RetryMax: time.Second,
		JobTimeout: time.Minute, BusyRetry: 100 * time.Millisecond,
		ShutdownGrace: 200 * time.Millisecond, FetchInterval: 50 * time.Millisecond,
		Logger: testLogger(f.t),
	}
}

// start creates and starts a queue, stopped when the test ends.
func (f *fixture) start(cfg queue.Config) *queue.Queue {
	f.t.Helper()
	ctx := context.Background()
	q, err := queue.New(ctx, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			f.t.Errorf("stop: %v", err)
		}
	})
	return q
}

func (f *fixture) destTip(m string) string {
	out, err := gittest.RunContext(context.Background(), f.dests[m], nil, "rev-parse", "--verify", "-q", "refs/heads/master")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func wait(t *testing.T, q *queue.Queue, id int64) *queue.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := q.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait for job %d: %v", id, err)
	}
	return j
}

// TestQueue runs the same suite on every driver.
func TestQueue(t *testing.T) {
	t.Parallel()
	storetest.EachDriver(t, func(t *testing.T, driver string) {
		for _, tc := range []struct {
			name string
			fn   func(t *testing.T, driver string)
		}{
			{"EnqueueSyncs", testEnqueueSyncs},
			{"ReplayedDelivery", testReplayedDelivery},
			{"PushDuringRun", testPushDuringRun},
			{"PushAtFinish", testPushAtFinish},
			{"Burst", testBurst},
			{"RetryTransient", testRetryTransient},
			{"NoRetryPermanent", testNoRetryPermanent},
			{"Poll", testPoll},
			{"ShutdownHandsBack", testShutdownHandsBack},
			{"InsertOnly", testInsertOnly},
			{"WaitAtWorkEnd", testWaitAtWorkEnd},
			{"WaitEndBetweenReads", testWaitEndBetweenReads},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, driver)
			})
		}
	})
}

func testEnqueueSyncs(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	q := f.start(f.config())
	tip := f.srcs["m1"].Push(t)
	id, err := q.Enqueue(context.Background(), "m1", queue.Push("github", "del-1"))
	if err != nil {
		t.Fatal(err)
	}
	j := wait(t, q, id)
	if !j.Done() || !j.Succeeded() || j.State != queue.StateCompleted || j.Err() != nil {
		t.Fatalf("job = %+v", j)
	}
	if got := f.destTip("m1"); got != tip {
		t.Fatalf("destination master = %q, want %q", got, tip)
	}
	if len(j.Runs) != 1 {
		t.Fatalf("job runs = %+v, want 1", j.Runs)
	}
	r := j.Runs[0]
	if r.Mirror != "m1" || r.Outcome != store.OutcomeSuccess || r.TriggerKind != store.TriggerPush ||
		r.Provider != "github" || r.DeliveryID != "del-1" || r.JobID != id || r.Attempt != 1 ||
		len(r.RefsUpdated) != 1 || r.RefsUpdated[0] != "refs/heads/master" || r.Finished.IsZero() {
		t.Fatalf("run = %+v", r)
	}
	last, err := f.store.LastRun(context.Background(), "m1")
	if err != nil || last.ID != r.ID {
		t.Fatalf("LastRun = %+v, %v", last, err)
	}
	if j.Mirror != "m1" || j.Trigger != queue.Push("github", "del-1") {
		t.Fatalf("job mirror/trigger = %q %+v", j.Mirror, j.Trigger)
	}
	if _, err := q.Job(context.Background(), 1<<40); err == nil {
		t.Fatal("Job(unknown): no error")
	}
}

func testReplayedDelivery(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	q := f.start(f.config())
	ctx := context.Background()
	first, err := q.Submit(ctx, "m1", queue.Push("gitlab", "same"))
	if err != nil {
		t.Fatal(err)
	}
	wait(t, q, first.JobID)
	again, err := q.Submit(ctx, "m1", queue.Push("gitlab", "same"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.JobID != first.JobID {
		t.Fatalf("replay = %+v, want Replayed with job %d", again, first.JobID)
	}
	time.Sleep(300 * time.Millisecond) // a sync, if one were queued, would start
	runs, err := f.store.Runs(ctx, "m1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d runs after a replayed delivery, want 1", len(runs))
	}
	// Another provider's delivery with the same id is a new delivery.
	other, err := q.Submit(ctx, "m1", queue.Push("github", "same"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Replayed || other.JobID == first.JobID {
		t.Fatalf("other provider = %+v", other)
	}
	wait(t, q, other.JobID)
}

func testPushDuringRun(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	f.syncer.gate = make(chan struct{})
	f.syncer.started = make(chan string, 1)
	q := f.start(f.config())
	ctx := context.Background()
	first, err := q.Submit(ctx, "m1", queue.Push("github", "a"))
	if err != nil {
		t.Fatal(err)
	}
	<-f.syncer.started // fetched already; the next push is not seen by this run
	tip := f.srcs["m1"].Push(t)
	second, err := q.Submit(ctx, "m1", queue.Push("github", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if second.JobID != first.JobID || !second.Coalesced {
		t.Fatalf("push during the run = %+v, want coalesced into job %d", second, first.JobID)
	}
	third, err := q.Submit(ctx, "m1", queue.Push("github", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if third.JobID != first.JobID {
		t.Fatalf("third push = %+v", third)
	}
	close(f.syncer.gate)
	j := wait(t, q, first.JobID)
	if !j.Succeeded() {
		t.Fatalf("job = %+v", j)
	}
	if got := f.destTip("m1"); got != tip {
		t.Fatalf("destination master = %q, want the last push %q", got, tip)
	}
	if len(j.Runs) != 2 {
		t.Fatalf("job ran %d times, want exactly 2 (one more after the pushes during the run)", len(j.Runs))
	}
	if r := j.Runs[1]; r.DeliveryID != "c" {
		t.Errorf("second run trigger = %q, want the latest delivery c", r.Trigger())
	}
	if n := f.syncer.overlap.Load(); n != 0 {
		t.Fatalf("%d overlapping syncs", n)
	}
}

// testPushAtFinish pushes while a job has passed its final check but is
// still running: the push must not be coalesced into that job (which would
// not see it) but get a job of its own once the first stops running.
func testPushAtFinish(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	cfg := f.config()
	q, err := queue.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	reached, hold := make(chan int64, 1), make(chan struct{})
	var once sync.Once
	queue.SetAfterFinishCheck(q, func(id int64) {
		once.Do(func() {
			reached <- id
			<-hold
		})
	})
	ctx := context.Background()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q.Stop(sctx) //nolint:errcheck // checked by other tests
	})
	first, err := q.Enqueue(ctx, "m1", queue.Push("github", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if id := <-reached; id != first {
		t.Fatalf("job %d reached the final check, want %d", id, first)
	}
	tip := f.srcs["m1"].Push(t)
	type result struct {
		sub *queue.Submission
		err error
	}
	done := make(chan result, 1)
	go func() {
		sub, err := q.Submit(ctx, "m1", queue.Push("github", "2"))
		done <- result{sub, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Submit returned %+v, %v while the finishing job was still running", r.sub, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	close(hold)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.sub.JobID == first || r.sub.Coalesced {
		t.Fatalf("push at the finish = %+v, want a new job after %d", r.sub, first)
	}
	j := wait(t, q, r.sub.JobID)
	if !j.Succeeded() {
		t.Fatalf("second job = %+v", j)
	}
	if got := f.destTip("m1"); got != tip {
		t.Fatalf("destination master = %q, want the push at the finish %q", got, tip)
	}
}

func testBurst(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	f.syncer.delay = 4 * time.Second // longer than the burst takes
	q := f.start(f.config())
	ctx := context.Background()
	const hooks = 200
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		jobs    = map[int64]bool{}
		lastTip string
	)
	begin := time.Now()
	for i := range hooks {
		if i == hooks/2 {
			// The last push happens in the middle of the burst; the hooks
			// after it are its deliveries.
			wg.Wait()
			lastTip = f.srcs["m1"].Push(t)
		}
		wg.Go(func() {
			id, err := q.Enqueue(ctx, "m1", queue.Push("github", fmt.Sprintf("burst-%d", i)))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			jobs[id] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(begin)
	t.Logf("%d Enqueue calls took %v, %d job(s)", hooks, took, len(jobs))
	for id := range jobs {
		wait(t, q, id)
	}
	runs, err := f.store.Runs(ctx, "m1", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) < 1 || len(runs) > 2 {
		if took > f.syncer.delay {
			t.Fatalf("%d syncs; the burst (%v) outlasted a sync, the test is not meaningful", len(runs), took)
		}
		t.Fatalf("%d syncs for %d hooks, want 1 or 2", len(runs), hooks)
	}
	for _, r := range runs {
		if r.Outcome != store.OutcomeSuccess {
			t.Fatalf("run %+v", r)
		}
	}
	if got := f.destTip("m1"); got != lastTip {
		t.Fatalf("destination master = %q, want the last push %q", got, lastTip)
	}
}

func testRetryTransient(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	// The destination answers 503 to the first two requests: the first two
	// attempts fail with a transient fault, the third succeeds.
	srv := gitHTTP(t, filepath.Join(f.dir, "m1"), func(n int) int {
		if n <= 2 {
			return 503
		}
		return 0
	})
	f.syncer.dests = func(string) string { return srv.URL + "/dest.git" }
	cfg := f.config()
	cfg.RetryBase = time.Second
	q := f.start(cfg)
	ctx := context.Background()
	tip := f.srcs["m1"].Push(t)
	before := time.Now()
	id, err := q.Enqueue(ctx, "m1", queue.Manual)
	if err != nil {
		t.Fatal(err)
	}
	// Wait answers after the first failed attempt (for ?wait=1).
	j, err := q.WaitSince(ctx, id, before)
	if err != nil {
		t.Fatal(err)
	}
	if j.Done() || j.Err() == nil || !strings.Contains(j.Err().Error(), "503") {
		t.Fatalf("after the first failure: state %s, err %v", j.State, j.Err())
	}
	waitFor(t, 30*time.Second, "the job to complete", func() bool {
		j, err = q.Job(ctx, id)
		return err == nil && j.Done()
	})
	if !j.Succeeded() || j.Attempt != 3 || len(j.Errors) != 2 {
		t.Fatalf("job = state %s attempt %d errors %+v", j.State, j.Attempt, j.Errors)
	}
	var outcomes []store.Outcome
	for _, r := range j.Runs {
		outcomes = append(outcomes, r.Outcome)
	}
	if fmt.Sprint(outcomes) != fmt.Sprint([]store.Outcome{store.OutcomeRetry, store.OutcomeRetry, store.OutcomeSuccess}) {
		t.Fatalf("run outcomes = %v", outcomes)
	}
	if !strings.Contains(j.Runs[0].Error, "503") {
		t.Errorf("first run error = %q, want the 503 recorded", j.Runs[0].Error)
	}
	if got := f.destTip("m1"); got != tip {
		t.Fatalf("destination master = %q, want %q", got, tip)
	}
	st, err := f.store.MirrorStats(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Failures != 2 || st.LastError != "" || st.LastSuccess == nil {
		t.Fatalf("stats = %+v", st)
	}
}

func testNoRetryPermanent(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	// The destination refuses authentication: a permanent fault.
	srv := gitHTTP(t, filepath.Join(f.dir, "m1"), func(int) int { return 401 })
	f.syncer.dests = func(string) string { return srv.URL + "/dest.git" }
	q := f.start(f.config())
	ctx := context.Background()
	id, err := q.Enqueue(ctx, "m1", queue.Manual)
	if err != nil {
		t.Fatal(err)
	}
	j := wait(t, q, id)
	if !j.Done() || j.Succeeded() || j.State != queue.StateCancelled || j.Err() == nil {
		t.Fatalf("job = state %s err %v", j.State, j.Err())
	}
	time.Sleep(500 * time.Millisecond) // five retry delays: none may happen
	j, err = q.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Runs) != 1 || j.Runs[0].Outcome != store.OutcomeFailed || j.Runs[0].Error == "" {
		t.Fatalf("runs = %+v, want one failed run with its error", j.Runs)
	}
	if j.Attempt != 1 {
		t.Fatalf("attempt = %d, want 1", j.Attempt)
	}
	st, err := f.store.MirrorStats(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if st.LastError == "" {
		t.Fatalf("stats = %+v, want the last error", st)
	}
	// A later push queues a new job (a cancelled job does not block it).
	next, err := q.Submit(ctx, "m1", queue.Manual)
	if err != nil {
		t.Fatal(err)
	}
	if next.JobID == id || next.Coalesced {
		t.Fatalf("submit after a permanent failure = %+v", next)
	}
}

func testPoll(t *testing.T, driver string) {
	f := newFixture(t, driver, "polled", "quiet")
	cfg := f.config()
	cfg.Polls = map[string]time.Duration{"polled": 300 * time.Millisecond}
	f.start(cfg)
	ctx := context.Background()
	for range 2 {
		tip := f.srcs["polled"].Push(t)
		waitFor(t, 30*time.Second, "the poll to sync "+tip, func() bool { return f.destTip("polled") == tip })
	}
	runs, err := f.store.Runs(ctx, "polled", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.TriggerKind != store.TriggerPoll {
			t.Fatalf("run trigger = %q, want poll", r.Trigger())
		}
	}
	if runs, _ := f.store.Runs(ctx, "quiet", 10); len(runs) != 0 {
		t.Fatalf("a mirror without poll ran %d times", len(runs))
	}
}

func testShutdownHandsBack(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	f.syncer.delay = time.Hour // never finishes on its own
	f.syncer.started = make(chan string, 1)
	cfg := f.config()
	ctx := context.Background()
	q1, err := queue.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tip := f.srcs["m1"].Push(t)
	id, err := q1.Enqueue(ctx, "m1", queue.Manual)
	if err != nil {
		t.Fatal(err)
	}
	<-f.syncer.started
	stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := q1.Stop(stopCtx); err != nil { // SIGTERM
		t.Fatal(err)
	}
	j, err := q1.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Handed back: available again, and the interrupted attempt not counted.
	if j.Done() || (j.State != queue.StateAvailable && j.State != queue.StateScheduled) || j.Attempt != 0 {
		t.Fatalf("after shutdown: state %s attempt %d, want handed back", j.State, j.Attempt)
	}
	if len(j.Runs) != 1 || j.Runs[0].Outcome != store.OutcomeAborted {
		t.Fatalf("runs = %+v, want one aborted", j.Runs)
	}
	// The next worker completes the job.
	f.syncer.delay = 0
	q2 := f.start(cfg)
	j = wait(t, q2, id)
	if !j.Succeeded() || len(j.Runs) != 2 {
		t.Fatalf("after restart: %+v", j)
	}
	if got := f.destTip("m1"); got != tip {
		t.Fatalf("destination master = %q, want %q", got, tip)
	}
}

func testInsertOnly(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	cfg := f.config()
	cfg.Syncer = nil
	web := f.start(cfg) // serves hooks, runs no syncs
	ctx := context.Background()
	tip := f.srcs["m1"].Push(t)
	id, err := web.Enqueue(ctx, "m1", queue.Push("gitea", "x"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	j, err := web.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != queue.StateAvailable || len(j.Runs) != 0 {
		t.Fatalf("insert-only queue ran the job: %+v", j)
	}
	cfg.Syncer = f.syncer
	if driver == store.SQLite {
		// One process owns a SQLite database: the worker shares its store.
		cfg.ID = "worker"
	}
	f.start(cfg)
	j = wait(t, web, id)
	if !j.Succeeded() || f.destTip("m1") != tip {
		t.Fatalf("job = %+v", j)
	}
}
