package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outcome is how a sync run ended.
type Outcome string

// Outcomes of a run.
const (
	OutcomeRunning Outcome = "running" // started, not finished (or its worker died: see Aborted)
	OutcomeSuccess Outcome = "success"
	OutcomeRetry   Outcome = "retry"   // transient fault; the job is retried with backoff
	OutcomeFailed  Outcome = "failed"  // permanent fault; not retried
	OutcomeAborted Outcome = "aborted" // shutdown or crash; the job was handed back
)

// Trigger kinds.
const (
	TriggerPush   = "push"   // a webhook delivery
	TriggerPoll   = "poll"   // a periodic poll
	TriggerManual = "manual" // an operator or the API
)

// Run is one execution of a sync of one mirror.
type Run struct {
	ID          int64
	Mirror      string
	JobID       int64 // River job id (0 when run outside the queue)
	Attempt     int   // River attempt number
	TriggerKind string
	Provider    string // webhook provider, for pushes
	DeliveryID  string // provider's delivery id, for pushes
	Worker      string // which worker ran it
	Started     time.Time
	Finished    time.Time // zero while running
	Outcome     Outcome
	Changesets  int      // changesets converted
	RefsUpdated []string // refs pushed, "refs/heads/master old..new" or as the syncer reports them
	Warnings    []string
	Error       string
	Lag         int    // changesets in the source not in the destination after the run; -1 unknown
	Steps       []Step // wall time of each step (pull, convert, push), in order; nil when none was recorded
}

// Trigger returns a short description: "poll", "push github 1234-abcd".
func (r *Run) Trigger() string {
	s := r.TriggerKind
	if r.Provider != "" {
		s += " " + r.Provider
	}
	if r.DeliveryID != "" {
		s += " " + r.DeliveryID
	}
	return s
}

// Duration is how long the run took (so far, when still running).
func (r *Run) Duration() time.Duration {
	if r.Finished.IsZero() {
		return time.Since(r.Started)
	}
	return r.Finished.Sub(r.Started)
}

// Finish is the outcome of a run, recorded by FinishRun.
type Finish struct {
	Outcome     Outcome
	Changesets  int
	RefsUpdated []string
	Warnings    []string
	Error       string
	Lag         int // -1 unknown
	Steps       []Step
}

// StartRun records that a run begins (Started defaults to now) and returns
// its id. Because runs of one mirror are serialised, any earlier run of the
// same mirror still marked running belonged to a worker that died: it is
// marked aborted.
func (s *Store) StartRun(ctx context.Context, r Run) (int64, error) {
	if r.Mirror == "" {
		return 0, errors.New("store: start run: no mirror")
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: start run %s: %w", r.Mirror, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE sync_run SET outcome = ?, finished_at = ?, error = ?
		WHERE mirror = ? AND outcome = ?`),
		OutcomeAborted, toMicros(r.Started), "worker stopped before the run finished", r.Mirror, OutcomeRunning); err != nil {
		return 0, fmt.Errorf("store: start run %s: %w", r.Mirror, err)
	}
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO sync_run
		(mirror, job_id, attempt, trigger_kind, provider, delivery_id, worker, started_at, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		r.Mirror, r.JobID, r.Attempt, r.TriggerKind, r.Provider, r.DeliveryID, r.Worker, toMicros(r.Started), OutcomeRunning).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: start run %s: %w", r.Mirror, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: start run %s: %w", r.Mirror, err)
	}
	return id, nil
}

// FinishRun records the outcome of run id.
func (s *Store) FinishRun(ctx context.Context, id int64, f Finish) error {
	if f.Outcome == "" || f.Outcome == OutcomeRunning {
		return fmt.Errorf("store: finish run %d: outcome %q is not final", id, f.Outcome)
	}
	refs, err := json.Marshal(nonNil(f.RefsUpdated))
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", id, err)
	}
	warns, err := json.Marshal(nonNil(f.Warnings))
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", id, err)
	}
	steps, err := encodeSteps(f.Steps)
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", id, err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE sync_run SET finished_at = ?, outcome = ?, changesets = ?,
		refs_updated = ?, warnings = ?, error = ?, lag = ?, steps = ? WHERE id = ?`),
		toMicros(time.Now()), f.Outcome, f.Changesets, string(refs), string(warns), f.Error, f.Lag, steps, id)
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: finish run %d: %w", id, ErrNotFound)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const runColumns = `id, mirror, job_id, attempt, trigger_kind, provider, delivery_id, worker,
	started_at, finished_at, outcome, changesets, refs_updated, warnings, error, lag, steps`

func scanRun(sc scanner) (Run, error) {
	var (
		r                 Run
		started           int64
		finished          sql.NullInt64
		outcome           string
		refs, warns, sts  string
		attempt, csets, l int64
	)
	if err := sc.Scan(&r.ID, &r.Mirror, &r.JobID, &attempt, &r.TriggerKind, &r.Provider, &r.DeliveryID, &r.Worker,
		&started, &finished, &outcome, &csets, &refs, &warns, &r.Error, &l, &sts); err != nil {
		return Run{}, err
	}
	r.Attempt, r.Changesets, r.Lag = int(attempt), int(csets), int(l)
	r.Started = fromMicros(started)
	if finished.Valid {
		r.Finished = fromMicros(finished.Int64)
	}
	r.Outcome = Outcome(outcome)
	if err := json.Unmarshal([]byte(refs), &r.RefsUpdated); err != nil {
		return Run{}, fmt.Errorf("run %d: refs_updated: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(warns), &r.Warnings); err != nil {
		return Run{}, fmt.Errorf("run %d: warnings: %w", r.ID, err)
	}
	steps, err := decodeSteps(sts)
	if err != nil {
		return Run{}, fmt.Errorf("run %d: steps: %w", r.ID, err)
	}
	r.Steps = steps
	return r, nil
}

func (s *Store) queryRuns(ctx context.Context, what, query string, args ...any) ([]Run, error) {
	return queryAll(ctx, s, what, scanRun, query, args...)
}

// Run returns run id, or ErrNotFound.
func (s *Store) Run(ctx context.Context, id int64) (*Run, error) {
	runs, err := s.queryRuns(ctx, "run", `SELECT `+runColumns+` FROM sync_run WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("store: run %d: %w", id, ErrNotFound)
	}
	return &runs[0], nil
}

// LastRun returns the latest run of mirror (possibly still running), or
// ErrNotFound if it never ran.
func (s *Store) LastRun(ctx context.Context, mirror string) (*Run, error) {
	runs, err := s.Runs(ctx, mirror, 1)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("store: last run of %s: %w", mirror, ErrNotFound)
	}
	return &runs[0], nil
}

// Runs returns up to limit runs of mirror, newest first.
func (s *Store) Runs(ctx context.Context, mirror string, limit int) ([]Run, error) {
	return s.queryRuns(ctx, "runs of "+mirror,
		`SELECT `+runColumns+` FROM sync_run WHERE mirror = ? ORDER BY id DESC LIMIT ?`, mirror, clampLimit(limit))
}

// RecentRuns returns up to limit runs of all mirrors, newest first.
func (s *Store) RecentRuns(ctx context.Context, limit int) ([]Run, error) {
	return s.queryRuns(ctx, "recent runs",
		`SELECT `+runColumns+` FROM sync_run ORDER BY id DESC LIMIT ?`, clampLimit(limit))
}

// JobRuns returns the runs of River job jobID, oldest first (a job runs more
// than once when it is retried or when pushes arrived during its run).
func (s *Store) JobRuns(ctx context.Context, jobID int64) ([]Run, error) {
	return s.queryRuns(ctx, fmt.Sprintf("runs of job %d", jobID),
		`SELECT `+runColumns+` FROM sync_run WHERE job_id = ? ORDER BY id`, jobID)
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 10000:
		return 10000
	}
	return n
}

// MirrorStats summarises the history of one mirror.
type MirrorStats struct {
	Mirror      string
	Runs        int  // runs recorded
	Failures    int  // runs that ended in failed or retry
	LastRun     *Run // nil if it never ran
	LastSuccess *Run // nil if it never succeeded
	LastFailure *Run // latest run that ended in failed or retry; nil if none
	// LastError is the error of the latest finished run if it failed, "" if
	// it succeeded.
	LastError string
	// Lag is the lag in changesets reported by the latest finished run
	// (-1 unknown).
	Lag int
}

// MirrorStats returns the summary of mirror's history. A mirror that never
// ran has zero counts and nil runs (not an error).
func (s *Store) MirrorStats(ctx context.Context, mirror string) (*MirrorStats, error) {
	st := &MirrorStats{Mirror: mirror, Lag: -1}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN outcome IN ('failed', 'retry') THEN 1 ELSE 0 END), 0)
		FROM sync_run WHERE mirror = ?`), mirror).Scan(&st.Runs, &st.Failures)
	if err != nil {
		return nil, fmt.Errorf("store: stats of %s: %w", mirror, err)
	}
	one := func(where string, args ...any) (*Run, error) {
		runs, err := s.queryRuns(ctx, "stats of "+mirror,
			`SELECT `+runColumns+` FROM sync_run WHERE mirror = ?`+where+` ORDER BY id DESC LIMIT 1`,
			append([]any{mirror}, args...)...)
		if err != nil || len(runs) == 0 {
			return nil, err
		}
		return &runs[0], nil
	}
	if st.LastRun, err = one(""); err != nil {
		return nil, err
	}
	if st.LastSuccess, err = one(` AND outcome = ?`, OutcomeSuccess); err != nil {
		return nil, err
	}
	if st.LastFailure, err = one(` AND outcome IN (?, ?)`, OutcomeFailed, OutcomeRetry); err != nil {
		return nil, err
	}
	last, err := one(` AND outcome <> ?`, OutcomeRunning)
	if err != nil {
		return nil, err
	}
	if last != nil {
		st.Lag = last.Lag
		if last.Outcome != OutcomeSuccess {
			st.LastError = last.Error
		}
	}
	return st, nil
}
