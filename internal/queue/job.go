package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/synchroniser/synchroniser/internal/store"
)

// Job states (River's).
const (
	StateAvailable = string(rivertype.JobStateAvailable)
	StateScheduled = string(rivertype.JobStateScheduled)
	StatePending   = string(rivertype.JobStatePending)
	StateRunning   = string(rivertype.JobStateRunning)
	StateRetryable = string(rivertype.JobStateRetryable)
	StateCompleted = string(rivertype.JobStateCompleted)
	StateCancelled = string(rivertype.JobStateCancelled)
	StateDiscarded = string(rivertype.JobStateDiscarded)
)

// Submission is the result of Submit.
type Submission struct {
	JobID int64
	// Replayed is true when the delivery was seen before: nothing was
	// queued and JobID is the job of the first delivery.
	Replayed bool
	// Coalesced is true when the push joined a job already queued or
	// running (which will see it).
	Coalesced bool
}

// Enqueue requests a sync of mirror and returns the id of the job that will
// perform it. See Submit.
func (q *Queue) Enqueue(ctx context.Context, mirror string, trigger Trigger) (int64, error) {
	sub, err := q.Submit(ctx, mirror, trigger)
	if err != nil {
		return 0, err
	}
	return sub.JobID, nil
}

// Submit requests a sync of mirror. It returns quickly: the sync runs in a
// worker. Every push is seen by a sync that starts after Submit returns or
// by one already running that will run again. A delivery whose
// (provider, delivery id) was recorded before is a replay: it is not
// queued again (callers must not record deliveries themselves).
func (q *Queue) Submit(ctx context.Context, mirror string, trigger Trigger) (*Submission, error) {
	if mirror == "" {
		return nil, errors.New("queue: submit: no mirror")
	}
	if trigger.Kind == "" {
		trigger.Kind = store.TriggerManual
	}
	if trigger.DeliveryID != "" {
		isNew, err := q.store.RecordDelivery(ctx, trigger.Provider, trigger.DeliveryID, mirror)
		if err != nil {
			return nil, fmt.Errorf("queue: submit %s: %w", mirror, err)
		}
		if !isNew {
			d, err := q.store.Delivery(ctx, trigger.Provider, trigger.DeliveryID)
			if err != nil {
				return nil, fmt.Errorf("queue: submit %s: %w", mirror, err)
			}
			if d.JobID != 0 {
				q.log.Info("delivery replayed; not queued again", "mirror", mirror, "delivery", trigger.DeliveryID, "job", d.JobID)
				return &Submission{JobID: d.JobID, Replayed: true}, nil
			}
			// Recorded but never queued (a failure in between): queue it.
		}
	}
	sub, err := q.batch.submit(ctx, mirror, trigger, q.requestAndInsert)
	if err != nil {
		return nil, err
	}
	if err := q.store.AttachJob(ctx, trigger.Provider, trigger.DeliveryID, sub.JobID); err != nil {
		return nil, fmt.Errorf("queue: submit %s: %w", mirror, err)
	}
	q.log.Info("sync queued", "mirror", mirror, "job", sub.JobID, "trigger", trigger.String(), "coalesced", sub.Coalesced)
	return sub, nil
}

// requestAndInsert records a sync request and inserts the job.
func (q *Queue) requestAndInsert(ctx context.Context, mirror string, trigger Trigger) (*Submission, error) {
	req, err := q.store.RequestSync(ctx, mirror, trigger.Kind, trigger.Provider, trigger.DeliveryID)
	if err != nil {
		return nil, fmt.Errorf("queue: submit %s: %w", mirror, err)
	}
	return q.insert(ctx, mirror, trigger, req.FinishingJob)
}

// insert inserts the unique sync job. If it finds job finishing (which
// passed its final check before our request and will not see it) still
// running, it waits for it to stop and inserts again.
func (q *Queue) insert(ctx context.Context, mirror string, trigger Trigger, finishing int64) (*Submission, error) {
	deadline := time.Now().Add(q.cfg.FinishWait)
	live, err := q.liveWorkers(ctx, time.Second)
	if err != nil {
		return nil, fmt.Errorf("queue: submit %s: %w", mirror, err)
	}
	hq := homeQueue(live, mirror)
	for {
		res, err := q.engine.insert(ctx, SyncArgs{Mirror: mirror, Trigger: trigger}, hq)
		if err != nil {
			return nil, fmt.Errorf("queue: submit %s: %w", mirror, err)
		}
		q.inserted.fire()
		if !res.UniqueSkippedAsDuplicate {
			return &Submission{JobID: res.Job.ID}, nil
		}
		existing := res.Job
		if existing.State != rivertype.JobStateRunning {
			// Waiting: it will see this push. Route it to the home now
			// rather than at the next maintenance pass.
			if hq != river.QueueDefault && existing.Queue != hq {
				if _, err := q.store.MoveJob(ctx, existing.ID, hq); err != nil {
					return nil, fmt.Errorf("queue: submit %s: %w", mirror, err)
				}
			}
			return &Submission{JobID: existing.ID, Coalesced: true}, nil
		}
		// Coalesce only into a job that is alive: the job of a dead worker
		// is taken over now (made available; its next run sees this push).
		if by := lastWorker(existing); by != "" {
			if why := q.workerDeadWhy(ctx, by); why != "" {
				q.takeOver(ctx, existing, by, why, live)
				return &Submission{JobID: existing.ID, Coalesced: true}, nil
			}
		}
		if existing.ID != finishing {
			// A live job that has not passed its final check sees this push.
			return &Submission{JobID: existing.ID, Coalesced: true}, nil
		}
		if !time.Now().Before(deadline) {
			// The finishing job's worker is alive but slow: keep waiting
			// (bounded by ctx); if it dies, the check above takes it over.
			deadline = time.Now().Add(q.cfg.FinishWait)
		}
		if err := q.waitNotRunning(ctx, existing.ID, deadline); err != nil {
			return nil, err
		}
	}
}

func (q *Queue) waitNotRunning(ctx context.Context, id int64, deadline time.Time) error {
	for time.Now().Before(deadline) {
		row, err := q.engine.jobGet(ctx, id)
		if errors.Is(err, river.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("queue: job %d: %w", id, err)
		}
		if row.State != rivertype.JobStateRunning {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Job is a sync job as River and the history know it.
type Job struct {
	ID          int64
	Mirror      string
	Trigger     Trigger
	State       string // River state (Available, ..., Completed); "" once River has cleaned the job out
	Attempt     int
	MaxAttempts int
	Created     time.Time
	Scheduled   time.Time      // when it is (or was) due to run
	Attempted   time.Time      // zero if never
	Finalized   time.Time      // zero until completed, cancelled or discarded
	Errors      []AttemptError // failed attempts, oldest first
	Runs        []store.Run
}

// AttemptError is the error of one failed attempt.
type AttemptError struct {
	At      time.Time
	Attempt int
	Error   string
}

// Done reports whether the job will not run again.
func (j *Job) Done() bool {
	switch j.State {
	case StateCompleted, StateCancelled, StateDiscarded:
		return true
	case "":
		return len(j.Runs) > 0 && j.Runs[len(j.Runs)-1].Outcome != store.OutcomeRunning
	}
	return false
}

// Succeeded reports whether the job is done and its last run succeeded.
func (j *Job) Succeeded() bool {
	if !j.Done() {
		return false
	}
	if j.State != "" && j.State != StateCompleted {
		return false
	}
	return len(j.Runs) == 0 || j.Runs[len(j.Runs)-1].Outcome == store.OutcomeSuccess
}

// Err returns the error of the last failed run or attempt, nil if none (or
// if the job succeeded).
func (j *Job) Err() error {
	if j.Succeeded() {
		return nil
	}
	for i := len(j.Runs) - 1; i >= 0; i-- {
		if e := j.Runs[i].Error; e != "" {
			return errors.New(e)
		}
		if j.Runs[i].Outcome == store.OutcomeSuccess {
			break
		}
	}
	if n := len(j.Errors); n > 0 && j.State != StateCompleted {
		return errors.New(j.Errors[n-1].Error)
	}
	return nil
}

// Job returns job id with its runs, or ErrNotFound.
func (q *Queue) Job(ctx context.Context, id int64) (*Job, error) {
	// River's row first: a run is finished before its job's state changes,
	// so the runs read afterwards are at least as recent as the state.
	row, err := q.engine.jobGet(ctx, id)
	runs, rerr := q.store.JobRuns(ctx, id)
	if rerr != nil {
		return nil, rerr
	}
	if errors.Is(err, river.ErrNotFound) {
		if len(runs) == 0 {
			return nil, fmt.Errorf("queue: job %d: %w", id, ErrNotFound)
		}
		// Cleaned out of River after its retention period: the history remains.
		first := runs[0]
		return &Job{ID: id, Mirror: first.Mirror, Created: first.Started, Runs: runs,
			Trigger: Trigger{Kind: first.TriggerKind, Provider: first.Provider, DeliveryID: first.DeliveryID}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: job %d: %w", id, err)
	}
	if row.Kind != (SyncArgs{}).Kind() {
		return nil, fmt.Errorf("queue: job %d is a %q job: %w", id, row.Kind, ErrNotFound)
	}
	var args SyncArgs
	if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
		return nil, fmt.Errorf("queue: job %d: args: %w", id, err)
	}
	j := &Job{
		ID: id, Mirror: args.Mirror, Trigger: args.Trigger, State: string(row.State),
		Attempt: row.Attempt, MaxAttempts: row.MaxAttempts,
		Created: row.CreatedAt, Scheduled: row.ScheduledAt, Runs: runs,
	}
	if row.AttemptedAt != nil {
		j.Attempted = *row.AttemptedAt
	}
	if row.FinalizedAt != nil {
		j.Finalized = *row.FinalizedAt
	}
	for _, e := range row.Errors {
		j.Errors = append(j.Errors, AttemptError{At: e.At, Attempt: e.Attempt, Error: e.Error})
	}
	return j, nil
}

// Wait waits until job id is done, or until one of its attempts fails
// after Wait was called (River will retry it, but a caller waiting for the
// outcome, like a webhook with ?wait=1, has its answer), and returns it.
func (q *Queue) Wait(ctx context.Context, id int64) (*Job, error) {
	return q.WaitSince(ctx, id, time.Now())
}

// WaitSince is Wait counting the failures from since on: a caller that
// takes the time before Submit does not miss a failure that happens between
// Submit and WaitSince.
func (q *Queue) WaitSince(ctx context.Context, id int64, since time.Time) (*Job, error) {
	poll := 20 * time.Millisecond
	for {
		ended := q.ends.wait()
		// The mark first: Work records its run before marking, so the runs
		// read after a mark are those of the end it marks. (Read the other
		// way round, a mark set in between would pair "completed" with a
		// run still shown running: a success answered as a failure.)
		mark, marked := q.final.Load(id)
		j, err := q.Job(ctx, id)
		if err != nil {
			return nil, err
		}
		if q.afterJobRead != nil {
			q.afterJobRead(id)
		}
		if marked {
			finalState(j, mark.(finalMark))
		}
		if j.Done() {
			return j, nil
		}
		// A failed attempt leaves the job retryable, or available when the
		// retry is due soon, or already running again.
		if n := len(j.Errors); n > 0 && !j.Errors[n-1].At.Before(since) {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-ended:
		case <-time.After(poll):
		}
		poll = min(poll*2, 250*time.Millisecond)
	}
}

// finalMark is how a job's Work in this process ended it for good.
type finalMark struct {
	state rivertype.JobState
	at    time.Time
}

// markFinal records that Work ended job id for good with the state River
// gives it, and wakes the waiters: River's completer records the state in
// batches up to 250ms later, too late for a caller waiting on a webhook.
func (q *Queue) markFinal(id int64, state rivertype.JobState) {
	q.final.Store(id, finalMark{state: state, at: time.Now()})
	q.ends.fire()
}

// finalState gives j, which River still shows running, the state m its
// Work in this process ended it with.
func finalState(j *Job, m finalMark) {
	if j.State != StateRunning {
		return
	}
	j.State, j.Finalized = string(m.state), m.at
}

// signal wakes every goroutine waiting on it when fired.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next fire.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
