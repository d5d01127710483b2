package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/synchroniser/synchroniser/internal/store"
)

// syncWorker works sync jobs.
type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	q *Queue
}

// Work runs one sync of the job's mirror under the mirror's lock, records
// it in the history and decides what River does next:
//   - success: complete, unless pushes arrived during the run: then snooze
//     (run once more, now);
//   - transient error: return it (River retries with backoff);
//   - permanent error: cancel (no retry), unless pushes arrived;
//   - cancelled by shutdown: hand the job back (snooze 0, no attempt used).
func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	q := w.q
	mirror := job.Args.Mirror
	log := q.log.With("mirror", mirror, "job", job.ID, "attempt", job.Attempt)
	if q.cfg.Syncer == nil {
		return errors.New("queue: this process has no syncer")
	}
	q.active.Store(job.ID, time.Time{})
	defer func() { q.active.Store(job.ID, time.Now()) }() // River records the end soon after

	unlock, ok, err := q.locker.tryLock(ctx, mirror)
	if err != nil {
		return err
	}
	if !ok {
		log.Info("mirror is being synced by another worker; waiting", "retry_in", q.cfg.BusyRetry)
		return river.JobSnooze(q.cfg.BusyRetry)
	}
	defer unlock()
	// The lease records who syncs the mirror (for the page, and for the
	// takeover); a fresh lease of another worker means that worker may
	// still be syncing it (its lock was lost with a database restart).
	leased, err := q.store.TakeLease(ctx, store.Lease{Mirror: mirror, Worker: q.cfg.ID, JobID: job.ID},
		time.Now().Add(-q.cfg.TakeoverAfter))
	if err != nil {
		return err
	}
	if !leased {
		log.Info("mirror is leased by another worker; waiting", "retry_in", q.cfg.BusyRetry)
		return river.JobSnooze(q.cfg.BusyRetry)
	}
	defer func() {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := q.store.ReleaseLease(bctx, mirror, q.cfg.ID); err != nil {
			log.Warn("release lease", "err", err)
		}
	}()
	moved := q.movedFrom(ctx, mirror)

	req, err := q.store.BeginSync(ctx, mirror)
	if err != nil {
		return err
	}
	trigger := job.Args.Trigger
	if trigger.Kind == store.TriggerPush && req.TriggerKind == store.TriggerPush {
		// The run sees every push requested so far; name the latest.
		trigger = Push(req.Provider, req.DeliveryID)
	}
	runID, err := q.store.StartRun(ctx, store.Run{
		Mirror: mirror, JobID: job.ID, Attempt: job.Attempt, Worker: q.cfg.ID,
		TriggerKind: trigger.Kind, Provider: trigger.Provider, DeliveryID: trigger.DeliveryID,
	})
	if err != nil {
		return err
	}
	if err := q.store.SetLeaseRun(ctx, mirror, q.cfg.ID, runID); err != nil {
		log.Warn("lease", "err", err)
	}
	log.Info("sync started", "trigger", trigger.String(), "run", runID)
	if moved != "" {
		log.Info("mirror moved to this worker; its cache here is used or built", "from", moved, "cache", q.cfg.CacheDir)
	}

	res, syncErr := q.syncOnce(ctx, mirror, trigger)

	// Bookkeeping must happen even when ctx was cancelled.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	fin := store.Finish{Lag: -1}
	if res != nil {
		fin.Changesets, fin.RefsUpdated, fin.Warnings, fin.Lag, fin.Steps = res.Changesets, res.RefsUpdated, res.Warnings, res.Lag, res.Steps
	}
	if moved != "" {
		fin.Warnings = append(fin.Warnings, fmt.Sprintf("mirror moved from worker %s to worker %s", moved, q.cfg.ID))
	}
	var result error
	switch {
	case syncErr == nil:
		fin.Outcome = store.OutcomeSuccess
	case ctx.Err() != nil && q.stopping.Load():
		fin.Outcome, fin.Error = store.OutcomeAborted, "worker shutting down: "+syncErr.Error()
		if err := q.store.FinishRun(bctx, runID, fin); err != nil {
			log.Error("record run", "err", err)
		}
		log.Info("sync interrupted by shutdown; job handed back", "run", runID)
		return river.JobSnooze(0)
	case ctx.Err() != nil || q.cfg.Retryable(syncErr):
		// A deadline is a transient fault too: the next attempt resumes.
		fin.Outcome, fin.Error = store.OutcomeRetry, syncErr.Error()
		result = syncErr
	default:
		fin.Outcome, fin.Error = store.OutcomeFailed, syncErr.Error()
		result = river.JobCancel(syncErr)
	}
	if err := q.store.FinishRun(bctx, runID, fin); err != nil {
		log.Error("record run", "err", err)
	}
	if fin.Outcome == store.OutcomeRetry {
		log.Warn("sync failed; will retry", "run", runID, "err", syncErr)
		return result // the retry sees any push that arrived meanwhile
	}
	unchanged, err := q.store.FinishIfUnchanged(bctx, mirror, req.Seq, job.ID)
	if err != nil {
		log.Error("check for pushes during the sync; syncing again", "err", err)
		return river.JobSnooze(0)
	}
	if !unchanged {
		log.Info("pushes arrived during the sync; syncing again", "run", runID, "outcome", fin.Outcome)
		return river.JobSnooze(0)
	}
	if q.afterFinishCheck != nil {
		q.afterFinishCheck(job.ID)
	}
	if result != nil {
		log.Error("sync failed; not retrying", "run", runID, "err", syncErr)
		q.markFinal(job.ID, rivertype.JobStateCancelled)
	} else {
		log.Info("sync done", "run", runID, "changesets", fin.Changesets, "refs", len(fin.RefsUpdated))
		q.markFinal(job.ID, rivertype.JobStateCompleted)
	}
	return result
}

// movedFrom returns the worker of mirror's previous run when that was
// another worker on another machine or cache (with PostgreSQL: on SQLite
// all workers are on one machine and a restart changes the default id),
// else "".
func (q *Queue) movedFrom(ctx context.Context, mirror string) string {
	if q.store.Driver() != store.Postgres {
		return ""
	}
	last, err := q.store.LastRun(ctx, mirror)
	if err != nil || last.Worker == "" || last.Worker == q.cfg.ID {
		return ""
	}
	return last.Worker
}

// syncOnce calls the syncer, turning a panic into an error so that one bad
// repository cannot take the worker down.
func (q *Queue) syncOnce(ctx context.Context, mirror string, trigger Trigger) (res *RunResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("queue: sync %s panicked: %v", mirror, p)
		}
	}()
	return q.cfg.Syncer.Sync(ctx, mirror, trigger)
}
