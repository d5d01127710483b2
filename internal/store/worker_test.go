package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// TestLiveness checks the worker registry and the leases on every driver.
func TestLiveness(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
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
}
