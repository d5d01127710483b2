package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// TestConformance runs the same suite against every driver.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.EachDriver(t, func(t *testing.T, driver string) {
		s := storetest.Open(t, driver)
		if s.Driver() != driver {
			t.Fatalf("Driver() = %q, want %q", s.Driver(), driver)
		}
		for _, tc := range []struct {
			name string
			fn   func(ctx context.Context, t *testing.T, s *store.Store)
		}{
			{"RunLifecycle", testRunLifecycle},
			{"RunsOrderAndLimit", testRunsOrderAndLimit},
			{"StartRunAbortsStale", testStartRunAbortsStale},
			{"MirrorStats", testMirrorStats},
			{"Delivery", testDelivery},
			{"DeliveryConcurrent", testDeliveryConcurrent},
			{"Requests", testRequests},
			{"RequestsConcurrent", testRequestsConcurrent},
			{"Errors", testErrors},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel() // tests use mirror names of their own
				tc.fn(context.Background(), t, s)
			})
		}
	})
}

// TestReopen checks that migrations are idempotent and data survives.
func TestReopen(t *testing.T) {
	t.Parallel()
	storetest.EachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		cfg := storetest.Config(t, driver)
		s, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.StartRun(ctx, store.Run{Mirror: "m", TriggerKind: store.TriggerPoll})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		// Two concurrent opens: migrations must serialise.
		var wg sync.WaitGroup
		stores := make([]*store.Store, 2)
		errs := make([]error, 2)
		for i := range stores {
			wg.Go(func() { stores[i], errs[i] = store.Open(ctx, cfg) })
		}
		wg.Wait()
		for i := range stores {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			defer stores[i].Close()
		}
		r, err := stores[0].Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Mirror != "m" || r.Outcome != store.OutcomeRunning {
			t.Fatalf("after reopen: %+v", r)
		}
	})
}

func testRunLifecycle(ctx context.Context, t *testing.T, s *store.Store) {
	steps := []store.Step{
		{Name: "pull", Duration: 1500 * time.Millisecond},
		{Name: "convert", Duration: 42 * time.Microsecond},
		{Name: "push", Duration: 3 * time.Second},
	}
	start := time.Now().Add(-time.Second).Truncate(time.Microsecond)
	id, err := s.StartRun(ctx, store.Run{
		Mirror: "life", JobID: 42, Attempt: 2, TriggerKind: store.TriggerPush,
		Provider: "github", DeliveryID: "d-1", Worker: "w1", Started: start,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != store.OutcomeRunning || !r.Finished.IsZero() || !r.Started.Equal(start) {
		t.Fatalf("started run = %+v", r)
	}
	if got := r.Trigger(); got != "push github d-1" {
		t.Errorf("Trigger() = %q", got)
	}
	err = s.FinishRun(ctx, id, store.Finish{
		Outcome: store.OutcomeSuccess, Changesets: 7,
		RefsUpdated: []string{"refs/heads/master", "refs/tags/v1"},
		Warnings:    []string{"rev 3: odd file"}, Lag: 0,
		Steps: steps,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err = s.LastRun(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Run{
		ID: id, Mirror: "life", JobID: 42, Attempt: 2, TriggerKind: store.TriggerPush,
		Provider: "github", DeliveryID: "d-1", Worker: "w1", Started: start, Finished: r.Finished,
		Outcome: store.OutcomeSuccess, Changesets: 7, RefsUpdated: []string{"refs/heads/master", "refs/tags/v1"},
		Warnings: []string{"rev 3: odd file"}, Lag: 0,
		Steps: steps,
	}
	if fmt.Sprint(*r) != fmt.Sprint(want) {
		t.Fatalf("finished run\n got %+v\nwant %+v", *r, want)
	}
	if r.Finished.Before(r.Started) || r.Duration() <= 0 {
		t.Errorf("finished %v before started %v", r.Finished, r.Started)
	}
	runs, err := s.JobRuns(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("JobRuns(42) = %+v", runs)
	}
}

func testRunsOrderAndLimit(ctx context.Context, t *testing.T, s *store.Store) {
	var ids []int64
	for i := range 5 {
		id, err := s.StartRun(ctx, store.Run{Mirror: "order", TriggerKind: store.TriggerPoll, JobID: 100})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, id, store.Finish{Outcome: store.OutcomeSuccess, Changesets: i, Lag: -1}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	runs, err := s.Runs(ctx, "order", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range runs {
		got = append(got, r.ID)
	}
	if want := []int64{ids[4], ids[3], ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("Runs(order, 3) ids = %v, want %v", got, want)
	}
	recent, err := s.RecentRuns(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i, r := range recent {
		if i > 0 && r.ID >= recent[i-1].ID {
			t.Fatalf("RecentRuns not newest first: %d after %d", r.ID, recent[i-1].ID)
		}
		if r.Mirror == "order" {
			seen++
		}
	}
	if seen != 5 {
		t.Fatalf("RecentRuns has %d runs of order, want 5", seen)
	}
	jr, err := s.JobRuns(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(jr) != 5 || jr[0].ID != ids[0] {
		t.Fatalf("JobRuns(100) = %d runs, first %v", len(jr), jr)
	}
	none, err := s.Runs(ctx, "never-ran", 10)
	if err != nil || len(none) != 0 {
		t.Fatalf("Runs(never-ran) = %v, %v", none, err)
	}
}

func testStartRunAbortsStale(ctx context.Context, t *testing.T, s *store.Store) {
	dead, err := s.StartRun(ctx, store.Run{Mirror: "stale", TriggerKind: store.TriggerPoll})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.StartRun(ctx, store.Run{Mirror: "stale-other", TriggerKind: store.TriggerPoll})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(ctx, store.Run{Mirror: "stale", TriggerKind: store.TriggerPoll}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, dead)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != store.OutcomeAborted || r.Finished.IsZero() || r.Error == "" {
		t.Fatalf("stale run not aborted: %+v", r)
	}
	r, err = s.Run(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != store.OutcomeRunning {
		t.Fatalf("run of another mirror touched: %+v", r)
	}
}

func testMirrorStats(ctx context.Context, t *testing.T, s *store.Store) {
	st, err := s.MirrorStats(ctx, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != 0 || st.LastRun != nil || st.Lag != -1 {
		t.Fatalf("stats of a mirror that never ran: %+v", st)
	}
	run := func(f store.Finish) int64 {
		t.Helper()
		id, err := s.StartRun(ctx, store.Run{Mirror: "stats", TriggerKind: store.TriggerPoll})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, id, f); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ok := run(store.Finish{Outcome: store.OutcomeSuccess, Changesets: 3, Lag: 0})
	retry := run(store.Finish{Outcome: store.OutcomeRetry, Error: "dial tcp: refused", Lag: 4})
	fail := run(store.Finish{Outcome: store.OutcomeFailed, Error: "authentication refused", Lag: 5})
	st, err = s.MirrorStats(ctx, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != 3 || st.Failures != 2 || st.LastRun.ID != fail || st.LastSuccess.ID != ok ||
		st.LastFailure.ID != fail || st.LastError != "authentication refused" || st.Lag != 5 {
		t.Fatalf("stats = %+v", st)
	}
	_ = retry
	ok2 := run(store.Finish{Outcome: store.OutcomeSuccess, Lag: 0})
	running, err := s.StartRun(ctx, store.Run{Mirror: "stats", TriggerKind: store.TriggerPoll})
	if err != nil {
		t.Fatal(err)
	}
	st, err = s.MirrorStats(ctx, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if st.LastRun.ID != running || st.LastSuccess.ID != ok2 || st.LastError != "" || st.Lag != 0 || st.LastFailure.ID != fail {
		t.Fatalf("stats after recovery = %+v", st)
	}
}

func testDelivery(ctx context.Context, t *testing.T, s *store.Store) {
	isNew, err := s.RecordDelivery(ctx, "github", "del-1", "dmirror")
	if err != nil || !isNew {
		t.Fatalf("first RecordDelivery = %v, %v", isNew, err)
	}
	isNew, err = s.RecordDelivery(ctx, "github", "del-1", "dmirror")
	if err != nil || isNew {
		t.Fatalf("replayed RecordDelivery = %v, %v", isNew, err)
	}
	isNew, err = s.RecordDelivery(ctx, "gitlab", "del-1", "dmirror")
	if err != nil || !isNew {
		t.Fatalf("same id from another provider = %v, %v", isNew, err)
	}
	for range 2 {
		isNew, err = s.RecordDelivery(ctx, "generic", "", "dmirror")
		if err != nil || !isNew {
			t.Fatalf("empty delivery id = %v, %v", isNew, err)
		}
	}
	if err := s.AttachJob(ctx, "github", "del-1", 77); err != nil {
		t.Fatal(err)
	}
	d, err := s.Delivery(ctx, "github", "del-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.JobID != 77 || d.Mirror != "dmirror" || d.Received.IsZero() {
		t.Fatalf("Delivery = %+v", d)
	}
	if _, err := s.Delivery(ctx, "github", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown delivery: err = %v, want ErrNotFound", err)
	}
}

func testDeliveryConcurrent(ctx context.Context, t *testing.T, s *store.Store) {
	fresh := 0
	for _, isNew := range concurrently(t, 20, func(int) (bool, error) {
		return s.RecordDelivery(ctx, "github", "race", "dc")
	}) {
		if isNew {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d of 20 concurrent identical deliveries were new, want 1", fresh)
	}
}

func testRequests(ctx context.Context, t *testing.T, s *store.Store) {
	b, err := s.BeginSync(ctx, "req")
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != 0 {
		t.Fatalf("BeginSync on a fresh mirror: seq %d", b.Seq)
	}
	r, err := s.RequestSync(ctx, "req", store.TriggerPush, "github", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 || r.FinishingJob != 0 {
		t.Fatalf("first request = %+v", r)
	}
	// A request arrived after BeginSync: the job must not finish.
	if ok, err := s.FinishIfUnchanged(ctx, "req", b.Seq, 5); err != nil || ok {
		t.Fatalf("FinishIfUnchanged after a request = %v, %v; want false", ok, err)
	}
	b, err = s.BeginSync(ctx, "req")
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != 1 || b.Provider != "github" || b.DeliveryID != "d1" || b.TriggerKind != store.TriggerPush {
		t.Fatalf("BeginSync = %+v", b)
	}
	if ok, err := s.FinishIfUnchanged(ctx, "req", b.Seq, 5); err != nil || !ok {
		t.Fatalf("FinishIfUnchanged without requests = %v, %v; want true", ok, err)
	}
	// A request racing with the end of job 5 learns that 5 is finishing.
	r, err = s.RequestSync(ctx, "req", store.TriggerPush, "github", "d2")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 2 || r.FinishingJob != 5 {
		t.Fatalf("request after finish = %+v", r)
	}
	// The next sync clears the mark.
	b, err = s.BeginSync(ctx, "req")
	if err != nil {
		t.Fatal(err)
	}
	if b.FinishingJob != 0 || b.Seq != 2 {
		t.Fatalf("BeginSync after finish = %+v", b)
	}
	r, err = s.RequestSync(ctx, "req", store.TriggerPush, "github", "d3")
	if err != nil {
		t.Fatal(err)
	}
	if r.FinishingJob != 0 {
		t.Fatalf("finishing mark survived BeginSync: %+v", r)
	}
}

func testRequestsConcurrent(ctx context.Context, t *testing.T, s *store.Store) {
	seqs := concurrently(t, 50, func(i int) (int64, error) {
		r, err := s.RequestSync(ctx, "reqc", store.TriggerPush, "github", fmt.Sprint(i))
		if err != nil {
			return 0, err
		}
		return r.Seq, nil
	})
	slices.Sort(seqs)
	for i, v := range seqs {
		if v != int64(i+1) {
			t.Fatalf("sequence numbers not 1..50 without gaps: %v", seqs)
		}
	}
}

// concurrently calls fn(0) to fn(n-1) at once and returns, in no order,
// the results of the calls that did not fail; each failure is a t.Error.
func concurrently[T any](t *testing.T, n int, fn func(i int) (T, error)) []T {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out []T
	)
	for i := range n {
		wg.Go(func() {
			v, err := fn(i)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			out = append(out, v)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func testErrors(ctx context.Context, t *testing.T, s *store.Store) {
	if _, err := s.LastRun(ctx, "never"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LastRun(never) err = %v, want ErrNotFound", err)
	}
	if _, err := s.Run(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Run(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.FinishRun(ctx, 1<<40, store.Finish{Outcome: store.OutcomeSuccess}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun(unknown) err = %v, want ErrNotFound", err)
	}
	if err := s.FinishRun(ctx, 1, store.Finish{Outcome: store.OutcomeRunning}); err == nil {
		t.Error("FinishRun with outcome running: no error")
	}
	if _, err := s.StartRun(ctx, store.Run{}); err == nil {
		t.Error("StartRun without mirror: no error")
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, cfg := range []store.Config{
		{Driver: "mysql"},
		{Driver: store.SQLite},
		{Driver: store.Postgres},
		{Driver: store.Postgres, URL: "postgres://postgres@127.0.0.1:1/nope?sslmode=disable&connect_timeout=2"},
		{Driver: store.SQLite, Path: "/nonexistent-dir/x/y.db"},
	} {
		if s, err := store.Open(ctx, cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v): no error", cfg)
		}
	}
}

// TestRefs: leases and ref states round-trip on every driver; SaveRefs
// replaces them (a lease left out is dropped).
func TestRefs(t *testing.T) {
	t.Parallel()
	storetest.EachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if ls, err := s.RefLeases(ctx, "m"); err != nil || len(ls) != 0 {
			t.Fatalf("Leases of a new mirror = %v, %v", ls, err)
		}
		if _, _, err := s.MirrorRefs(ctx, "m"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("MirrorRefs of a new mirror: %v, want ErrNotFound", err)
		}
		at := time.UnixMicro(time.Now().UnixMicro()).UTC()
		a := strings.Repeat("a", 40)
		b := strings.Repeat("b", 40)
		first := []store.RefLease{
			{Ref: "refs/heads/main", Value: a, PushedAt: at},
			{Ref: "refs/heads/topic/default/x", Value: b, PushedAt: at, RewrittenFrom: a, RewrittenAt: at},
		}
		if err := s.SaveRefs(ctx, "m", first, json.RawMessage(`[{"ref":"refs/heads/main"}]`)); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveRefs(ctx, "other", []store.RefLease{{Ref: "refs/heads/main", Value: b}}, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.RefLeases(ctx, "m")
		if err != nil || !reflect.DeepEqual(got, first) {
			t.Fatalf("Leases = %+v, %v; want %+v", got, err, first)
		}
		refs, when, err := s.MirrorRefs(ctx, "m")
		if err != nil || string(refs) != `[{"ref":"refs/heads/main"}]` || time.Since(when) > time.Minute {
			t.Fatalf("MirrorRefs = %s, %v, %v", refs, when, err)
		}
		second := []store.RefLease{{Ref: "refs/heads/main", Value: b, PushedAt: at.Add(time.Second), RewrittenFrom: a, RewrittenAt: at}}
		if err := s.SaveRefs(ctx, "m", second, json.RawMessage(`[]`)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.RefLeases(ctx, "m"); err != nil || !reflect.DeepEqual(got, second) {
			t.Fatalf("Leases after the second save = %+v, %v; want %+v", got, err, second)
		}
		if got, err := s.RefLeases(ctx, "other"); err != nil || len(got) != 1 || got[0].Value != b {
			t.Fatalf("another mirror's leases = %+v, %v", got, err)
		}
		if err := s.SaveRefs(ctx, "m", nil, json.RawMessage(`{bad`)); err == nil {
			t.Fatal("SaveRefs took refs that are not JSON")
		}
		// 10,000 leases in one save, then one changed.
		many := make([]store.RefLease, 10000)
		for i := range many {
			many[i] = store.RefLease{Ref: fmt.Sprintf("refs/heads/bm/%05d", i), Value: a, PushedAt: at}
		}
		if err := s.SaveRefs(ctx, "many", many, nil); err != nil {
			t.Fatal(err)
		}
		many[5].Value = b
		if err := s.SaveRefs(ctx, "many", many[:9000], nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.RefLeases(ctx, "many"); err != nil || len(got) != 9000 || got[5].Value != b {
			t.Fatalf("many leases: %d, %v", len(got), err)
		}
	})
}

// TestLiveness checks the worker registry and the leases on every driver.
func TestLiveness(t *testing.T) {
	t.Parallel()
	storetest.EachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if err := s.RegisterWorker(ctx, store.Worker{ID: "w1", Queue: "q1", Host: "h", PID: 7, CacheDir: "/c"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RegisterWorker(ctx, store.Worker{ID: "w2", Queue: "q2"}); err != nil {
			t.Fatal(err)
		}
		ws, err := s.Workers(ctx)
		if err != nil || len(ws) != 2 || ws[0].ID != "w1" || ws[0].Queue != "q1" || ws[0].PID != 7 ||
			ws[0].State != store.WorkerLive || time.Since(ws[0].Heartbeat) > time.Minute {
			t.Fatalf("workers = %+v, %v", ws, err)
		}
		// A lease: taken, refused to another worker while fresh, taken
		// over once stale, released only by its holder.
		if ok, err := s.TakeLease(ctx, store.Lease{Mirror: "m", Worker: "w1", JobID: 3}, time.Now().Add(-time.Minute)); !ok || err != nil {
			t.Fatalf("take lease: %v %v", ok, err)
		}
		if ok, err := s.TakeLease(ctx, store.Lease{Mirror: "m", Worker: "w2", JobID: 4}, time.Now().Add(-time.Minute)); ok || err != nil {
			t.Fatalf("a fresh lease of w1 was taken by w2: %v %v", ok, err)
		}
		if err := s.SetLeaseRun(ctx, "m", "w1", 9); err != nil {
			t.Fatal(err)
		}
		if l, err := s.MirrorLease(ctx, "m"); err != nil || l.Worker != "w1" || l.JobID != 3 || l.RunID != 9 {
			t.Fatalf("lease = %+v, %v", l, err)
		}
		if ok, err := s.HeartbeatWorker(ctx, "w1"); !ok || err != nil {
			t.Fatalf("heartbeat: %v %v", ok, err)
		}
		if ok, err := s.TakeLease(ctx, store.Lease{Mirror: "m", Worker: "w2", JobID: 4}, time.Now().Add(time.Second)); !ok || err != nil {
			t.Fatalf("a stale lease was not taken over: %v %v", ok, err)
		}
		if err := s.ReleaseLease(ctx, "m", "w1"); err != nil {
			t.Fatal(err)
		}
		if l, err := s.MirrorLease(ctx, "m"); err != nil || l.Worker != "w2" {
			t.Fatalf("w1 released w2's lease: %+v, %v", l, err)
		}
		if ls, err := s.Leases(ctx); err != nil || len(ls) != 1 {
			t.Fatalf("leases = %+v, %v", ls, err)
		}
		if err := s.SetWorkerState(ctx, "w2", store.WorkerStopping); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveWorker(ctx, "w2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MirrorLease(ctx, "m"); !errors.Is(err, store.ErrNoLease) {
			t.Fatalf("the removed worker's lease remains: %v", err)
		}
		if ok, err := s.HeartbeatWorker(ctx, "w2"); ok || err != nil {
			t.Fatalf("heartbeat of a removed worker: %v %v", ok, err)
		}
		// Interrupted runs: only the named job's running runs by that worker.
		id, err := s.StartRun(ctx, store.Run{Mirror: "m", JobID: 5, Worker: "w1"})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.InterruptRuns(ctx, 5, "w1", "interrupted: test"); n != 1 || err != nil {
			t.Fatalf("interrupt: %d %v", n, err)
		}
		if r, err := s.Run(ctx, id); err != nil || r.Outcome != store.OutcomeAborted || r.Error != "interrupted: test" || r.Finished.IsZero() {
			t.Fatalf("run = %+v, %v", r, err)
		}
	})
}
