package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Liveness (migration 003): the workers that are up, each with a heartbeat,
// and per mirror the lease of the sync running now. The queue decides from
// them which worker is a mirror's home and which running jobs lost their
// worker. Times are written with the writer's clock: the machines' clocks
// must agree to well within the takeover time (NTP).

// Worker states.
const (
	WorkerLive     = "live"     // takes jobs; may be a mirror's home
	WorkerStopping = "stopping" // finishing its running syncs; home of none
)

// Worker is a registered worker process.
type Worker struct {
	ID        string
	Queue     string // the River queue its jobs are routed to
	Host      string
	PID       int
	CacheDir  string
	State     string
	Started   time.Time
	Heartbeat time.Time
}

// RegisterWorker records w as live with a heartbeat now, replacing an
// earlier registration under the same id.
func (s *Store) RegisterWorker(ctx context.Context, w Worker) error {
	now := toMicros(time.Now())
	if w.State == "" {
		w.State = WorkerLive
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sync_worker (id, queue, host, pid, cache_dir, state, started_at, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, host = excluded.host, pid = excluded.pid,
			cache_dir = excluded.cache_dir, state = excluded.state, started_at = excluded.started_at,
			heartbeat_at = excluded.heartbeat_at`),
		w.ID, w.Queue, w.Host, w.PID, w.CacheDir, w.State, now, now)
	if err != nil {
		return fmt.Errorf("store: register worker %s: %w", w.ID, err)
	}
	return nil
}

// HeartbeatWorker refreshes the heartbeat of worker id and of the leases it
// holds. It returns false if the worker is not registered (another process
// judged it dead and removed it): the caller registers again.
func (s *Store) HeartbeatWorker(ctx context.Context, id string) (bool, error) {
	now := toMicros(time.Now())
	known, err := s.execOne(ctx, "heartbeat of worker "+id, `UPDATE sync_worker SET heartbeat_at = ? WHERE id = ?`, now, id)
	if err != nil {
		return false, err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE sync_lease SET heartbeat_at = ? WHERE worker = ?`), now, id); err != nil {
		return false, fmt.Errorf("store: heartbeat of worker %s: %w", id, err)
	}
	return known, nil
}

// SetWorkerState sets the state of worker id (WorkerLive or WorkerStopping).
func (s *Store) SetWorkerState(ctx context.Context, id, state string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE sync_worker SET state = ? WHERE id = ?`), state, id); err != nil {
		return fmt.Errorf("store: worker %s: %w", id, err)
	}
	return nil
}

// RemoveWorker forgets worker id and its leases.
func (s *Store) RemoveWorker(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sync_lease WHERE worker = ?`), id); err != nil {
		return fmt.Errorf("store: remove worker %s: %w", id, err)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sync_worker WHERE id = ?`), id); err != nil {
		return fmt.Errorf("store: remove worker %s: %w", id, err)
	}
	return nil
}

// Workers lists the registered workers, by id.
func (s *Store) Workers(ctx context.Context) ([]Worker, error) {
	return queryAll(ctx, s, "workers", scanWorker, `SELECT id, queue, host, pid, cache_dir, state, started_at, heartbeat_at
		FROM sync_worker ORDER BY id`)
}

func scanWorker(sc scanner) (Worker, error) {
	var w Worker
	var pid, started, beat int64
	if err := sc.Scan(&w.ID, &w.Queue, &w.Host, &pid, &w.CacheDir, &w.State, &started, &beat); err != nil {
		return Worker{}, err
	}
	w.PID, w.Started, w.Heartbeat = int(pid), fromMicros(started), fromMicros(beat)
	return w, nil
}

// Lease says which worker is syncing a mirror now.
type Lease struct {
	Mirror    string
	Worker    string
	JobID     int64
	RunID     int64
	Started   time.Time
	Heartbeat time.Time
}

// TakeLease records that l.Worker syncs l.Mirror. It fails (false) if
// another worker holds a lease on the mirror whose heartbeat is newer than
// staleBefore: that worker may still be syncing it.
func (s *Store) TakeLease(ctx context.Context, l Lease, staleBefore time.Time) (bool, error) {
	now := toMicros(time.Now())
	return s.execOne(ctx, "lease "+l.Mirror, `INSERT INTO sync_lease (mirror, worker, job_id, run_id, started_at, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (mirror) DO UPDATE SET worker = excluded.worker, job_id = excluded.job_id, run_id = excluded.run_id,
			started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at
		WHERE sync_lease.worker = excluded.worker OR sync_lease.heartbeat_at < ?`,
		l.Mirror, l.Worker, l.JobID, l.RunID, now, now, toMicros(staleBefore))
}

// SetLeaseRun records the run of the lease of mirror held by worker.
func (s *Store) SetLeaseRun(ctx context.Context, mirror, worker string, runID int64) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE sync_lease SET run_id = ? WHERE mirror = ? AND worker = ?`),
		runID, mirror, worker); err != nil {
		return fmt.Errorf("store: lease %s: %w", mirror, err)
	}
	return nil
}

// ReleaseLease drops the lease of mirror if worker holds it.
func (s *Store) ReleaseLease(ctx context.Context, mirror, worker string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sync_lease WHERE mirror = ? AND worker = ?`), mirror, worker); err != nil {
		return fmt.Errorf("store: release lease %s: %w", mirror, err)
	}
	return nil
}

// Leases lists the leases held now.
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	return queryAll(ctx, s, "leases", scanLease, `SELECT `+leaseColumns+` FROM sync_lease ORDER BY mirror`)
}

const leaseColumns = `mirror, worker, job_id, run_id, started_at, heartbeat_at`

func scanLease(sc scanner) (Lease, error) {
	var l Lease
	var started, beat int64
	if err := sc.Scan(&l.Mirror, &l.Worker, &l.JobID, &l.RunID, &started, &beat); err != nil {
		return Lease{}, err
	}
	l.Started, l.Heartbeat = fromMicros(started), fromMicros(beat)
	return l, nil
}

// InterruptRuns marks the runs of job jobID by worker that are still
// running as aborted, with reason as their error, and returns how many.
func (s *Store) InterruptRuns(ctx context.Context, jobID int64, worker, reason string) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE sync_run SET outcome = ?, finished_at = ?, error = ?
		WHERE job_id = ? AND worker = ? AND outcome = ?`),
		OutcomeAborted, toMicros(time.Now()), reason, jobID, worker, OutcomeRunning)
	if err != nil {
		return 0, fmt.Errorf("store: interrupt runs of job %d: %w", jobID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// River's job rows. The queue hands jobs between workers with these two
// updates; River has no API for either.

// RequeueRunningJob makes River job id, running its attempt attempt,
// available again in queue, if it is still in that attempt (a job that
// another worker has fetched since is left alone). It reports whether it did.
func (s *Store) RequeueRunningJob(ctx context.Context, id int64, attempt int, queue string) (bool, error) {
	return s.execOne(ctx, fmt.Sprintf("requeue job %d", id), `UPDATE river_job SET state = 'available', queue = ?
		WHERE id = ? AND state = 'running' AND attempt = ?`,
		queue, id, attempt)
}

// MoveJob moves River job id to queue if it is waiting (not running and
// not finished). It reports whether it did.
func (s *Store) MoveJob(ctx context.Context, id int64, queue string) (bool, error) {
	return s.execOne(ctx, fmt.Sprintf("move job %d", id), `UPDATE river_job SET queue = ?
		WHERE id = ? AND queue <> ? AND state IN ('available', 'scheduled', 'retryable', 'pending')`,
		queue, id, queue)
}

// ErrNoLease is returned by MirrorLease for a mirror no worker syncs now.
var ErrNoLease = errors.New("store: no lease")

// MirrorLease returns the lease on mirror, or ErrNoLease.
func (s *Store) MirrorLease(ctx context.Context, mirror string) (*Lease, error) {
	l, err := scanLease(s.db.QueryRowContext(ctx, s.q(`SELECT `+leaseColumns+` FROM sync_lease WHERE mirror = ?`), mirror))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoLease
	}
	if err != nil {
		return nil, fmt.Errorf("store: lease %s: %w", mirror, err)
	}
	return &l, nil
}
