package queue

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/synchroniser/synchroniser/internal/store"
)

// Home workers. Each worker registers in sync_worker and works a River queue
// of its own (workerQueue). A mirror's home is the live worker with the
// highest rendezvous score for it (score = hash of worker id and mirror
// name), so a mirror's jobs go to one worker and its cache exists once; when
// a worker dies or leaves only its own mirrors move (each to the worker with
// the next score), and when one joins only the mirrors for which it scores
// highest move to it. Submit routes each job to its mirror's home; the
// maintenance pass of every process moves waiting jobs whose home changed
// and takes over running jobs whose worker died (liveness.go).

// workerQueue is the River queue of worker id.
func workerQueue(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "w_" + hex.EncodeToString(sum[:8])
}

// score is the rendezvous score of worker id for mirror.
func score(id, mirror string) uint64 {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(mirror))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// homeOf returns the home of mirror among workers, nil if there are none.
func homeOf(workers []store.Worker, mirror string) *store.Worker {
	var best *store.Worker
	var bestScore uint64
	for i := range workers {
		w := &workers[i]
		s := score(w.ID, mirror)
		if best == nil || s > bestScore || s == bestScore && w.ID < best.ID {
			best, bestScore = w, s
		}
	}
	return best
}

// liveView caches the live workers between maintenance passes.
type liveView struct {
	mu      sync.Mutex
	at      time.Time
	workers []store.Worker
}

// liveWorkers returns the workers that are live (registered, state live,
// heartbeat within TakeoverAfter), read at most maxAge ago.
func (q *Queue) liveWorkers(ctx context.Context, maxAge time.Duration) ([]store.Worker, error) {
	q.live.mu.Lock()
	defer q.live.mu.Unlock()
	if !q.live.at.IsZero() && time.Since(q.live.at) < maxAge {
		return q.live.workers, nil
	}
	all, err := q.store.Workers(ctx)
	if err != nil {
		return nil, err
	}
	q.live.workers, q.live.at = q.filterLive(all, time.Now()), time.Now()
	return q.live.workers, nil
}

func (q *Queue) filterLive(all []store.Worker, now time.Time) []store.Worker {
	var live []store.Worker
	for _, w := range all {
		if w.State == store.WorkerLive && now.Sub(w.Heartbeat) <= q.cfg.TakeoverAfter {
			live = append(live, w)
		}
	}
	return live
}

func (q *Queue) setLive(live []store.Worker) {
	q.live.mu.Lock()
	q.live.workers, q.live.at = live, time.Now()
	q.live.mu.Unlock()
}

// cachedLive returns the live workers as last read (for River's periodic
// job constructor, which has no context).
func (q *Queue) cachedLive() []store.Worker {
	q.live.mu.Lock()
	defer q.live.mu.Unlock()
	return q.live.workers
}

// homeQueue is the queue of mirror's home among live, or River's default
// queue (which no worker works: the first worker to come up routes its jobs)
// when no worker is live.
func homeQueue(live []store.Worker, mirror string) string {
	if h := homeOf(live, mirror); h != nil {
		return h.Queue
	}
	return river.QueueDefault
}

// Home returns the id of mirror's home worker, "" when no worker is live.
func (q *Queue) Home(ctx context.Context, mirror string) (string, error) {
	live, err := q.liveWorkers(ctx, time.Second)
	if err != nil {
		return "", err
	}
	if h := homeOf(live, mirror); h != nil {
		return h.ID, nil
	}
	return "", nil
}

// MirrorWorker returns the worker syncing mirror now (running true) or,
// when none is, its home worker ("" if no worker is live).
func (q *Queue) MirrorWorker(ctx context.Context, mirror string) (worker string, running bool, err error) {
	l, err := q.store.MirrorLease(ctx, mirror)
	if err == nil {
		return l.Worker, true, nil
	}
	if !errors.Is(err, store.ErrNoLease) {
		return "", false, err
	}
	h, err := q.Home(ctx, mirror)
	return h, false, err
}

// Workers returns the registered workers.
func (q *Queue) Workers(ctx context.Context) ([]store.Worker, error) { return q.store.Workers(ctx) }

// register takes this worker's presence lock and records it as live.
func (q *Queue) register(ctx context.Context) error {
	release, err := q.presence.hold(ctx, q.cfg.ID)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	if err := q.store.RegisterWorker(ctx, store.Worker{ID: q.cfg.ID, Queue: workerQueue(q.cfg.ID), Host: host,
		PID: os.Getpid(), CacheDir: q.cfg.CacheDir}); err != nil {
		release()
		return err
	}
	q.releasePresence = release
	q.registered.Store(true)
	return nil
}

// deadWhy says why worker w is dead, "" if it is alive.
func (q *Queue) deadWhy(ctx context.Context, w *store.Worker, now time.Time) string {
	if w == nil {
		return "is not registered"
	}
	age := now.Sub(w.Heartbeat)
	if age > q.cfg.TakeoverAfter {
		return fmt.Sprintf("sent no heartbeat for %s", age.Round(time.Second))
	}
	// The fast path only once this process has seen the database answer
	// for a few passes: a database restart frees every session's locks,
	// and a live worker needs a heartbeat to take its lock again.
	if age > 2*q.cfg.Heartbeat && q.healthy.Load() >= 3 {
		if free, err := q.presence.free(ctx, w.ID); err == nil && free {
			return "exited (its process lock is free)"
		}
	}
	return ""
}

// workerDeadWhy reads the registry and says why worker id is dead, ""
// if it is alive (or if the registry cannot be read).
func (q *Queue) workerDeadWhy(ctx context.Context, id string) string {
	if id == q.cfg.ID && q.registered.Load() {
		return ""
	}
	all, err := q.store.Workers(ctx)
	if err != nil {
		return ""
	}
	for i := range all {
		if all[i].ID == id {
			return q.deadWhy(ctx, &all[i], time.Now())
		}
	}
	return q.deadWhy(ctx, nil, time.Now())
}

// lastWorker is the worker that fetched job's current attempt.
func lastWorker(job *rivertype.JobRow) string {
	if n := len(job.AttemptedBy); n > 0 {
		return job.AttemptedBy[n-1]
	}
	return ""
}

func jobMirror(job *rivertype.JobRow) string {
	var args SyncArgs
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return ""
	}
	return args.Mirror
}

// takeOver makes running job, whose worker by is dead, available again in
// its mirror's home queue, and records its run as interrupted. It reports
// whether it did (false if the job moved on meanwhile).
func (q *Queue) takeOver(ctx context.Context, job *rivertype.JobRow, by, why string, live []store.Worker) bool {
	mirror := jobMirror(job)
	hq := homeQueue(live, mirror)
	if hq == river.QueueDefault {
		hq = job.Queue // nobody is live: leave it where it is until a worker comes
	}
	ok, err := q.store.RequeueRunningJob(ctx, job.ID, job.Attempt, hq)
	if err != nil {
		q.log.Error("take over job", "job", job.ID, "mirror", mirror, "err", err)
		return false
	}
	if !ok {
		return false
	}
	reason := fmt.Sprintf("interrupted: worker %s %s; the job was taken over", by, why)
	if _, err := q.store.InterruptRuns(ctx, job.ID, by, reason); err != nil {
		q.log.Error("record interrupted run", "job", job.ID, "err", err)
	}
	if err := q.store.ReleaseLease(ctx, mirror, by); err != nil {
		q.log.Error("release lease of a dead worker", "mirror", mirror, "err", err)
	}
	q.log.Warn("job of a dead worker taken over", "mirror", mirror, "job", job.ID, "dead_worker", by, "why", why,
		"queue", hq, "by", q.cfg.ID)
	return true
}

// maintain runs one maintenance pass: heartbeat, forget dead workers, take
// over their running jobs, route waiting jobs to their home.
func (q *Queue) maintain(ctx context.Context) error {
	if q.registered.Load() {
		if err := q.presence.check(ctx); err != nil {
			q.log.Error("presence lock", "err", err)
		}
		ok, err := q.store.HeartbeatWorker(ctx, q.cfg.ID)
		if err != nil {
			return err
		}
		if !ok && !q.stopping.Load() {
			q.log.Warn("this worker was judged dead by another process; registering again", "worker", q.cfg.ID)
			host, _ := os.Hostname()
			if err := q.store.RegisterWorker(ctx, store.Worker{ID: q.cfg.ID, Queue: workerQueue(q.cfg.ID), Host: host,
				PID: os.Getpid(), CacheDir: q.cfg.CacheDir}); err != nil {
				return err
			}
		}
	}
	now := time.Now()
	all, err := q.store.Workers(ctx)
	if err != nil {
		return err
	}
	alive := map[string]bool{}
	var kept []store.Worker
	for i := range all {
		w := &all[i]
		if w.ID == q.cfg.ID && q.registered.Load() {
			alive[w.ID] = true
			kept = append(kept, *w)
			continue
		}
		if why := q.deadWhy(ctx, w, now); why != "" {
			if err := q.store.RemoveWorker(ctx, w.ID); err != nil {
				return err
			}
			q.log.Warn("worker is gone; its mirrors move to other workers", "dead_worker", w.ID, "why", why)
			continue
		}
		alive[w.ID] = true
		kept = append(kept, *w)
	}
	live := q.filterLive(kept, now)
	q.setLive(live)
	q.forgetEnded(now)

	running, err := q.engine.list(ctx, rivertype.JobStateRunning)
	if err != nil {
		return err
	}
	for _, job := range running {
		by := lastWorker(job)
		if by == q.cfg.ID && q.registered.Load() {
			// Ours: running here, unless its end was never recorded (the
			// database was unreachable when River tried).
			if q.lostOwn(job, now) {
				q.takeOver(ctx, job, by, "lost the job (its end was not recorded)", live)
			}
			continue
		}
		if alive[by] {
			continue
		}
		why := "is not registered"
		for i := range all {
			if all[i].ID == by {
				why = q.deadWhy(ctx, &all[i], now)
			}
		}
		if why == "" {
			why = "is gone"
		}
		q.takeOver(ctx, job, by, why, live)
	}
	return q.route(ctx, live)
}

// lostOwn reports whether job, running under this worker's id, is in fact
// not running here: Work ended more than TakeoverAfter ago and River could
// not record the end (the database was unreachable), or (fetched under this
// id by a process that is gone) Work never began here.
func (q *Queue) lostOwn(job *rivertype.JobRow, now time.Time) bool {
	v, ok := q.active.Load(job.ID)
	if !ok {
		return job.AttemptedAt != nil && now.Sub(*job.AttemptedAt) > q.cfg.TakeoverAfter
	}
	ended := v.(time.Time)
	return !ended.IsZero() && now.Sub(ended) > q.cfg.TakeoverAfter
}

// forgetEnded drops the marks of jobs whose Work ended long ago.
func (q *Queue) forgetEnded(now time.Time) {
	q.active.Range(func(k, v any) bool {
		if ended := v.(time.Time); !ended.IsZero() && now.Sub(ended) > 10*q.cfg.TakeoverAfter {
			q.active.Delete(k)
		}
		return true
	})
	q.final.Range(func(k, v any) bool {
		if now.Sub(v.(finalMark).at) > 10*q.cfg.TakeoverAfter {
			q.final.Delete(k)
		}
		return true
	})
}

// route moves waiting jobs to their mirror's home queue.
func (q *Queue) route(ctx context.Context, live []store.Worker) error {
	if len(live) == 0 {
		return nil
	}
	waiting, err := q.engine.list(ctx, rivertype.JobStateAvailable, rivertype.JobStateScheduled,
		rivertype.JobStateRetryable, rivertype.JobStatePending)
	if err != nil {
		return err
	}
	for _, job := range waiting {
		mirror := jobMirror(job)
		hq := homeQueue(live, mirror)
		if job.Queue == hq {
			continue
		}
		moved, err := q.store.MoveJob(ctx, job.ID, hq)
		if err != nil {
			return err
		}
		if moved {
			q.log.Info("job routed to its mirror's home worker", "mirror", mirror, "job", job.ID, "queue", hq)
		}
	}
	return nil
}

// maintainLoop runs maintain every Heartbeat until ctx is done.
func (q *Queue) maintainLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(q.cfg.Heartbeat)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(q.cfg.Heartbeat, 5*time.Second))
		if err := q.maintain(pctx); err != nil {
			q.healthy.Store(0)
			if ctx.Err() == nil {
				q.log.Warn("queue maintenance", "err", err)
			}
		} else {
			q.healthy.Add(1)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// adoptOwn, at start-up before taking jobs, takes over the running jobs
// that name this worker's id: they belong to a predecessor with the same id
// (this process has run none yet).
func (q *Queue) adoptOwn(ctx context.Context) error {
	running, err := q.engine.list(ctx, rivertype.JobStateRunning)
	if err != nil {
		return err
	}
	live, err := q.liveWorkers(ctx, 0)
	if err != nil {
		return err
	}
	for _, job := range running {
		if lastWorker(job) == q.cfg.ID {
			q.takeOver(ctx, job, q.cfg.ID, "was restarted", live)
		}
	}
	return nil
}
