// Package queue runs mirror syncs as durable River jobs: one job kind, sync,
// unique per mirror, so that a burst of pushes coalesces into one queued job;
// retries with exponential backoff for transient faults; periodic jobs for
// polled mirrors; and a per-mirror lock so that two workers never sync one
// mirror at the same time.
//
// The database is the store's: SQLite (riversqlite, one machine) or
// PostgreSQL (riverpgxv5, several worker processes sharing it).
//
// Coalescing without losing a push: River's unique jobs keep at most one job
// per mirror queued or running (River requires a unique job's states to
// include running). A push that arrives while the job runs is recorded by
// the store (RequestSync bumps a per-mirror sequence number); when the run
// ends, the job claims completion only if the number has not moved, and
// otherwise snoozes itself to run once more, which sees the push. A push that
// races with the very end of a job (after its final check) is detected by
// Submit, which queues a new job as soon as the old one stops running.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/synchroniser/synchroniser/internal/store"
)

// ErrNotFound is returned for a job that does not exist (or was cleaned
// out and left no run in the history).
var ErrNotFound = errors.New("queue: job not found")

// Trigger says why a sync was requested.
type Trigger struct {
	Kind       string `json:"kind"`                  // store.TriggerPush, TriggerPoll or TriggerManual
	Provider   string `json:"provider,omitempty"`    // webhook provider, for pushes
	DeliveryID string `json:"delivery_id,omitempty"` // provider's delivery id, for pushes
}

// Push returns the trigger of a webhook delivery.
func Push(provider, deliveryID string) Trigger {
	return Trigger{Kind: store.TriggerPush, Provider: provider, DeliveryID: deliveryID}
}

// Poll is the trigger of a periodic poll.
var Poll = Trigger{Kind: store.TriggerPoll}

// Manual is the trigger of a sync asked for by an operator.
var Manual = Trigger{Kind: store.TriggerManual}

// String returns "poll", "push github 1234", ...
func (t Trigger) String() string {
	return (&store.Run{TriggerKind: t.Kind, Provider: t.Provider, DeliveryID: t.DeliveryID}).Trigger()
}

// RunResult is what a sync did.
type RunResult struct {
	Changesets  int      // changesets converted
	RefsUpdated []string // refs pushed
	Warnings    []string
	Lag         int          // changesets in the source not in the destination; -1 unknown
	Steps       []store.Step // wall time of each step (pull, convert, push)
}

// Syncer performs one sync of a mirror. It must be safe to run again after a
// crash in the middle (the queue retries and rescues jobs).
type Syncer interface {
	Sync(ctx context.Context, mirror string, trigger Trigger) (*RunResult, error)
}

// SyncArgs are the arguments of a sync job. Only Mirror is part of the
// unique key, so all pushes to one mirror share one queued job.
type SyncArgs struct {
	Mirror  string  `json:"mirror" river:"unique"`
	Trigger Trigger `json:"trigger"`
}

// Kind is the River job kind.
func (SyncArgs) Kind() string { return "sync" }

// InsertOpts makes sync jobs unique per mirror among jobs that have not
// finished (completed, cancelled and discarded jobs do not block a new one).
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{
			rivertype.JobStateAvailable,
			rivertype.JobStatePending,
			rivertype.JobStateRetryable,
			rivertype.JobStateRunning,
			rivertype.JobStateScheduled,
		},
	}}
}

// idleQueue is the queue an insert-only Queue works: no job goes there.
const idleQueue = "insert_only"

// Config configures a Queue. Zero values take the defaults given.
type Config struct {
	Store *store.Store // required: the database for River and the history
	// Syncer runs the syncs. Nil makes an insert-only queue: it queues and
	// reports jobs but runs none (another process's workers do).
	Syncer Syncer
	// Retryable classifies a sync error: true for transient faults
	// (network, 5xx), retried with backoff; false for permanent ones
	// (authentication refused, divergence), recorded and not retried.
	// Nil treats every error as transient.
	Retryable func(error) bool
	Workers   int    // syncs run at once by this process (default 2)
	ID        string // worker name in the history and River (default host-pid)

	MaxAttempts int           // attempts before a job is discarded (default 10)
	RetryBase   time.Duration // first retry delay, doubled each attempt (default 15s)
	RetryMax    time.Duration // longest retry delay (default 1h)
	// JobTimeout is a sync's deadline (default 1h). It is never disabled:
	// River's rescuer ignores jobs without a timeout, so a job whose worker
	// was killed would stay running for ever.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before River's rescuer
	// hands it to another worker. It is the last resort: the takeover of a
	// dead worker's jobs (TakeoverAfter) comes much sooner. It must
	// exceed JobTimeout (else JobTimeout + 10m is used). The per-mirror lock
	// keeps a rescued job whose worker is in fact alive from running twice
	// at once.
	RescueAfter time.Duration
	// BusyRetry is how long a job waits when another worker holds its
	// mirror (default 5s).
	BusyRetry time.Duration
	// ShutdownGrace is how long Stop lets running syncs finish before
	// cancelling them; a cancelled sync hands its job back (default 30s).
	ShutdownGrace time.Duration
	// FetchInterval is how often idle workers look for jobs (default 1s).
	FetchInterval time.Duration
	// TakeoverAfter is how long a worker may go without a heartbeat before
	// it is presumed dead and its running jobs are taken over (default
	// 20s). A worker whose process has exited is found sooner: once its
	// presence lock is free and it has missed two heartbeats.
	TakeoverAfter time.Duration
	// Heartbeat is how often a worker records that it is alive, and how
	// often every process looks for jobs of dead workers and routes
	// waiting jobs to their mirror's home worker (default TakeoverAfter/10,
	// at least 100ms).
	Heartbeat time.Duration
	// CacheDir is this worker's cache, recorded in the worker registry.
	CacheDir string
	// FinishWait bounds how long Submit waits for a job that passed its
	// final check to stop running, before queueing after it (default 5s).
	FinishWait time.Duration
	// Polls maps mirrors to their poll interval; each gets a periodic job.
	Polls map[string]time.Duration
	// PollOnStart also polls every polled mirror when this process becomes
	// leader (default false).
	PollOnStart bool
	Logger      *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 15 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = time.Hour
	}
	if c.RescueAfter <= c.JobTimeout {
		c.RescueAfter = c.JobTimeout + 10*time.Minute
	}
	if c.BusyRetry <= 0 {
		c.BusyRetry = 5 * time.Second
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.FetchInterval <= 0 {
		c.FetchInterval = time.Second
	}
	if c.TakeoverAfter <= 0 {
		c.TakeoverAfter = 20 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = max(c.TakeoverAfter/10, 100*time.Millisecond)
	}
	if c.Heartbeat*3 > c.TakeoverAfter {
		c.Heartbeat = c.TakeoverAfter / 3
	}
	if c.FinishWait <= 0 {
		c.FinishWait = 5 * time.Second
	}
	if c.Retryable == nil {
		c.Retryable = func(error) bool { return true }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Queue queues syncs and, with a Syncer, works them.
type Queue struct {
	cfg      Config
	store    *store.Store
	log      *slog.Logger
	engine   engine
	locker   locker
	batch    batcher
	stopping atomic.Bool
	started  atomic.Bool

	presence        presence
	releasePresence func()
	registered      atomic.Bool // this worker is in sync_worker (it has a Syncer and started)
	live            liveView
	healthy         atomic.Int32 // maintenance passes in a row that reached the database
	active          sync.Map     // job id → time.Time: jobs in Work in this process (zero) or when Work ended
	final           sync.Map     // job id → finalMark: jobs whose Work here ended them for good
	ends            signal       // fired when a job is added to final
	inserted        signal       // fired when this process inserted a job (wakes the SQLite listener)
	stopMaintain    context.CancelFunc
	maintainDone    chan struct{}

	// afterFinishCheck, set by tests, runs when a job has passed its final
	// check and is about to complete.
	afterFinishCheck func(jobID int64)
	// afterJobRead, set by tests, runs in Wait after each read of the job.
	afterJobRead func(jobID int64)
}

// engine hides River's transaction type parameter (*sql.Tx or pgx.Tx).
type engine interface {
	start(ctx context.Context) error
	stop(ctx context.Context) error
	insert(ctx context.Context, args SyncArgs, queue string) (*rivertype.JobInsertResult, error)
	jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	list(ctx context.Context, states ...rivertype.JobState) ([]*rivertype.JobRow, error)
}

type riverEngine[TTx any] struct{ client *river.Client[TTx] }

func (e *riverEngine[TTx]) start(ctx context.Context) error { return e.client.Start(ctx) }
func (e *riverEngine[TTx]) stop(ctx context.Context) error  { return e.client.Stop(ctx) }
func (e *riverEngine[TTx]) insert(ctx context.Context, args SyncArgs, queue string) (*rivertype.JobInsertResult, error) {
	return e.client.Insert(ctx, args, &river.InsertOpts{Queue: queue})
}

// listMax bounds one listing of sync jobs in a state (one per mirror at most).
const listMax = 10_000

func (e *riverEngine[TTx]) list(ctx context.Context, states ...rivertype.JobState) ([]*rivertype.JobRow, error) {
	res, err := e.client.JobList(ctx, river.NewJobListParams().Kinds(SyncArgs{}.Kind()).States(states...).First(listMax))
	if err != nil {
		return nil, fmt.Errorf("queue: list jobs: %w", err)
	}
	return res.Jobs, nil
}
func (e *riverEngine[TTx]) jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return e.client.JobGet(ctx, id)
}

// New migrates River's tables in the store's database and returns a queue.
// Call Start to run workers (when cfg.Syncer is set) and periodic polls.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Store == nil {
		return nil, errors.New("queue: no store")
	}
	cfg.setDefaults()
	q := &Queue{cfg: cfg, store: cfg.Store, log: cfg.Logger}

	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{q: q})
	rcfg := &river.Config{
		ID:                   cfg.ID,
		Logger:               cfg.Logger,
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          &backoff{base: cfg.RetryBase, max: cfg.RetryMax},
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		SoftStopTimeout:      cfg.ShutdownGrace,
		FetchPollInterval:    cfg.FetchInterval,
		FetchCooldown:        min(100*time.Millisecond, cfg.FetchInterval),
		Workers:              workers,
	}
	if cfg.Syncer != nil {
		// Each worker works a queue of its own: Submit routes a mirror's
		// jobs to its home worker's queue (home.go).
		rcfg.Queues = map[string]river.QueueConfig{workerQueue(cfg.ID): {MaxWorkers: cfg.Workers}}
	} else {
		// An insert-only queue still takes part in leader election, so it
		// can schedule polls and run River's maintenance (rescuing jobs of
		// dead workers, cleaning old ones); it works a queue that no sync
		// job is ever put in.
		rcfg.Queues = map[string]river.QueueConfig{idleQueue: {MaxWorkers: 1}}
	}
	for mirror, every := range cfg.Polls {
		if every <= 0 {
			continue
		}
		rcfg.PeriodicJobs = append(rcfg.PeriodicJobs, river.NewPeriodicJob(
			river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) {
				return SyncArgs{Mirror: mirror, Trigger: Poll}, &river.InsertOpts{Queue: homeQueue(q.cachedLive(), mirror)}
			},
			&river.PeriodicJobOpts{ID: "poll-" + mirror, RunOnStart: cfg.PollOnStart},
		))
	}

	switch cfg.Store.Driver() {
	case store.SQLite:
		lockDir := filepath.Join(filepath.Dir(cfg.Store.Path()), "locks")
		engine, err := newEngine(ctx, newWakingDriver(cfg.Store.DB(), &q.inserted), rcfg, cfg.Logger,
			func() (func(), error) { return fileMigrationLock(ctx, lockDir) })
		if err != nil {
			return nil, err
		}
		q.engine = engine
		q.locker = &fileLocker{dir: lockDir}
		q.presence = &filePresence{dir: lockDir}
	case store.Postgres:
		engine, err := newEngine(ctx, riverpgxv5.New(cfg.Store.Pool()), rcfg, cfg.Logger,
			func() (func(), error) { return pgMigrationLock(ctx, cfg.Store) })
		if err != nil {
			return nil, err
		}
		q.engine = engine
		q.locker = &pgLocker{pool: cfg.Store.Pool()}
		q.presence = &pgPresence{pool: cfg.Store.Pool()}
	default:
		return nil, fmt.Errorf("queue: unsupported store driver %q", cfg.Store.Driver())
	}
	return q, nil
}

// newEngine brings River's schema up to date on driver while holding the
// migration lock that lock takes, then makes the River client.
func newEngine[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], rcfg *river.Config, logger *slog.Logger,
	lock func() (func(), error)) (*riverEngine[TTx], error) {
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	err = migrateRiver(ctx, driver, logger)
	unlock()
	if err != nil {
		return nil, err
	}
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		return nil, fmt.Errorf("queue: river client: %w", err)
	}
	return &riverEngine[TTx]{client: client}, nil
}

func migrateRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], logger *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("queue: river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue: river migrations: %w", err)
	}
	return nil
}

// Start starts the workers (if the queue has a Syncer) and, on the leader,
// the periodic polls. Jobs keep running until Stop, whatever happens to ctx.
//
// A queue with a Syncer first registers its worker (presence lock and
// heartbeat) and takes back the jobs its predecessor under the same id left
// running; every queue then runs the maintenance pass every Heartbeat (see
// home.go and liveness.go).
func (q *Queue) Start(ctx context.Context) error {
	if q.cfg.Syncer != nil {
		if err := q.register(ctx); err != nil {
			return err
		}
		if err := q.adoptOwn(ctx); err != nil {
			q.unregister(ctx)
			return err
		}
	}
	if err := q.engine.start(context.WithoutCancel(ctx)); err != nil {
		q.unregister(ctx)
		return fmt.Errorf("queue: start: %w", err)
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.stopMaintain, q.maintainDone = cancel, make(chan struct{})
	go q.maintainLoop(mctx, q.maintainDone)
	q.started.Store(true)
	q.log.Info("queue started", "worker", q.cfg.ID, "workers", q.cfg.Syncer != nil, "driver", q.store.Driver())
	return nil
}

// Stop stops taking jobs, lets running syncs finish for up to ShutdownGrace,
// then cancels them: a cancelled sync hands its job back to the queue
// (snoozed, without using up an attempt) for the next worker. It returns
// when every job has ended or ctx is done.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.started.Load() || q.stopping.Swap(true) {
		return nil // not started, or stopped already
	}
	if q.registered.Load() {
		// Home of no mirror from now on: new jobs go to other workers.
		if err := q.store.SetWorkerState(ctx, q.cfg.ID, store.WorkerStopping); err != nil {
			q.log.Warn("mark worker stopping", "err", err)
		}
	}
	// The maintenance pass keeps beating while running syncs finish.
	err := q.engine.stop(ctx)
	q.stopMaintain()
	<-q.maintainDone
	q.unregister(ctx)
	if err != nil {
		return fmt.Errorf("queue: stop: %w", err)
	}
	q.log.Info("queue stopped", "worker", q.cfg.ID)
	return nil
}

// unregister removes this worker from the registry, releases its presence
// lock and routes the jobs it handed back to their new home workers.
func (q *Queue) unregister(ctx context.Context) {
	if !q.registered.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := q.store.RemoveWorker(ctx, q.cfg.ID); err != nil {
		q.log.Warn("unregister worker", "err", err)
	}
	q.registered.Store(false)
	q.releasePresence()
	if live, err := q.liveWorkers(ctx, 0); err == nil {
		if err := q.route(ctx, live); err != nil {
			q.log.Warn("route handed-back jobs", "err", err)
		}
	}
}

// Run starts the queue, waits for ctx to be done (e.g. SIGTERM) and stops
// it gracefully.
func (q *Queue) Run(ctx context.Context) error {
	if err := q.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.cfg.ShutdownGrace+30*time.Second)
	defer cancel()
	return q.Stop(stopCtx)
}

// backoff is an exponential retry policy with jitter: base, 2·base, 4·base,
// ... capped at max.
type backoff struct{ base, max time.Duration }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	// ±10% so that mirrors failing together do not retry together.
	d += time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return time.Now().Add(d)
}
