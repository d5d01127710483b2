package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/web"
)

func init() {
	commands["serve"] = command{"HTTP service with in-process workers", runServe}
	commands["worker"] = command{"workers only (several machines, one PostgreSQL)", runWorker}
}

// runServe is `synchroniser serve [--config FILE] [--no-workers]`.
func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := commandFlags("serve", "usage: synchroniser serve [--config FILE] [--no-workers]", stderr)
	noWorkers := fs.Bool("no-workers", false, "queue syncs but run none (workers run elsewhere: synchroniser worker)")
	cfg, code := parseConfigFlags(fs, args, stderr)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg, stderr)
	svc, err := newService(ctx, cfg, log, !*noWorkers)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", "address", cfg.Listen, "err", err)
		svc.Close(context.Background())
		return 1
	}
	srv := newHTTPServer(cfg, svc.Handler, log)
	log.Info("synchroniser serving "+svc.summary(ln.Addr().String()),
		"address", "http://"+ln.Addr().String(), "data_dir", cfg.DataDir, "database", cfg.DatabaseKind(),
		"mirrors", len(cfg.Mirror), "seed", cfg.Seed.Enabled, "providers", providers(cfg),
		"workers", svc.workers, "config", configName(cfg), "version", version)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	code = 0
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		log.Error("server failed", "err", err)
		code = 1
	}
	// Stop taking jobs and requests at once: running syncs finish within
	// [queue] shutdown_grace or are handed back to the queue, while the
	// requests in flight are answered (for up to 30 s).
	queueStopped := make(chan struct{})
	go func() {
		defer close(queueStopped)
		svc.stopQueue(context.Background())
	}()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	<-queueStopped
	svc.Close(context.Background())
	log.Info("stopped")
	return code
}

// newLogger builds the process logger from [log].
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel()}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	if p := testPauseFor(w); p != nil {
		h = pauseHandler{h, p}
	}
	return slog.New(h)
}

// queueConfig is the queue configuration shared by serve and worker.
func queueConfig(cfg *config.Config, st *store.Store, log *slog.Logger) queue.Config {
	return queue.Config{
		Store:         st,
		Workers:       cfg.Limits.ConcurrentSyncs,
		JobTimeout:    cfg.Limits.SyncTimeout,
		TakeoverAfter: cfg.Queue.TakeoverAfter,
		Heartbeat:     cfg.Queue.Heartbeat,
		ShutdownGrace: cfg.Queue.ShutdownGrace,
		RetryBase:     cfg.Queue.RetryBase,
		RetryMax:      cfg.Queue.RetryMax,
		CacheDir:      cfg.CacheDir(),
		Polls:         polls(cfg),
		Retryable:     func(err error) bool { return mirror.ClassOf(err) == mirror.Transient },
		Logger:        log,
	}
}

// newHTTPServer wraps h with the server limits: timeouts and header size.
func newHTTPServer(cfg *config.Config, h http.Handler, log *slog.Logger) *http.Server {
	write := 2 * time.Minute
	if cfg.Legacy.WaitTimeout+time.Minute > write {
		write = cfg.Legacy.WaitTimeout + time.Minute // ?wait=1 answers after the sync
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      write,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    int(cfg.Limits.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func providers(cfg *config.Config) string {
	p := cfg.EnabledProviders()
	if cfg.Legacy.Enabled {
		p = append([]string{"synchronise"}, p...)
	}
	if len(p) == 0 {
		return "none"
	}
	return strings.Join(p, ",")
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "built-in defaults"
	}
	return cfg.File
}

// service is everything serve runs: store, queue (with workers) and web.
type service struct {
	Handler http.Handler
	Web     *web.Server
	Store   *store.Store
	Queue   *queue.Queue
	cfg     *config.Config
	log     *slog.Logger
	workers int
	once    sync.Once
}

// summary is the one-line description of what is served.
func (s *service) summary(addr string) string {
	return fmt.Sprintf("on http://%s: data in %s, %s database, %d configured mirror(s)%s, endpoints %s, %d worker(s)",
		addr, s.cfg.DataDir, s.cfg.DatabaseKind(), len(s.cfg.Mirror), map[bool]string{true: " + seed mapping", false: ""}[s.cfg.Seed.Enabled],
		providers(s.cfg), s.workers)
}

// newService opens the store, starts the queue (with workers unless
// workers is false) and builds the web handler.
func newService(ctx context.Context, cfg *config.Config, log *slog.Logger, workers bool) (*service, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	metrics := web.NewMetrics()
	qcfg := queueConfig(cfg, st, log)
	classes := newClassBook()
	if workers {
		qcfg.Syncer = &queueSyncer{cfg: cfg, syncer: newSyncer(cfg, st, log), metrics: metrics, classes: classes, apps: newAppTokens(cfg), log: log}
	}
	q, err := queue.New(ctx, qcfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := q.Start(ctx); err != nil {
		st.Close()
		return nil, err
	}
	svc := &service{Store: st, Queue: q, cfg: cfg, log: log}
	if workers {
		svc.workers = cfg.Limits.ConcurrentSyncs
		// The conversions run in this process: their bounds hold for it
		// only if the collector knows them.
		setMemoryLimit(syncMemoryLimit(int64(cfg.Convert.Memory), svc.workers))
	}
	w, err := web.New(web.Options{
		Config:    cfg,
		Store:     st,
		Queue:     &webQueue{q: q, db: st, classes: classes},
		Preflight: web.DefaultPreflight(cfg, lsRemoter(cfg)),
		Ready:     readyChecks(cfg, st),
		Logger:    log,
		Metrics:   metrics,
		Adopter:   &serveAdopter{syncer: newSyncer(cfg, st, log), apps: newAppTokens(cfg)}, // adopt.go
	})
	if err != nil {
		svc.Close(context.Background())
		return nil, err
	}
	svc.Web, svc.Handler = w, w
	return svc, nil
}

// stopQueue stops the queue: no new job is taken, running syncs finish or
// are handed back within the queue's grace period.
func (s *service) stopQueue(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, s.cfg.Queue.ShutdownGrace+time.Minute)
	defer cancel()
	if err := s.Queue.Stop(sctx); err != nil {
		s.log.Warn("queue stop", "err", err)
	}
}

// Close stops the queue (running syncs finish or are handed back, within
// the queue's grace period) and closes the store.
func (s *service) Close(ctx context.Context) {
	s.once.Do(func() {
		s.stopQueue(ctx)
		if err := s.Store.Close(); err != nil {
			s.log.Warn("store close", "err", err)
		}
	})
}

// openStore opens the configured database.
func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	sc := store.Config{Driver: store.SQLite, Path: cfg.SQLitePath()}
	if cfg.DatabaseKind() == "postgres" {
		sc = store.Config{Driver: store.Postgres, URL: cfg.DatabaseURL.Value()}
	}
	return store.Open(ctx, sc)
}

// polls maps polled mirrors to their interval.
func polls(cfg *config.Config) map[string]time.Duration {
	p := map[string]time.Duration{}
	for _, m := range cfg.Mirrors() {
		if m.Poll > 0 {
			p[m.Name] = m.Poll
		}
	}
	return p
}

func newGitRunner(cfg *config.Config) *git.Runner {
	return &git.Runner{
		Path:      cfg.Tools.Git,
		Timeout:   cfg.Limits.SubprocessTimeout,
		AllowFile: cfg.Source.AllowFile,
		AllowHTTP: allowHTTP(cfg),
	}
}

// lsRemoter gives the plain-Git preflight a runner with the destination's
// credentials (a private destination must be checked as the bot).
func lsRemoter(cfg *config.Config) web.LsRemoterFunc {
	base := newGitRunner(cfg)
	return func(d mirror.Destination) web.LsRemoter {
		return base.WithCredentials(git.Credentials{Token: d.Token, SSHKey: d.SSHKey, KnownHosts: d.KnownHosts})
	}
}

// allowHTTP: plain http is allowed when the source policy names it, or the
// seed Git host is an http URL (a local git http-backend).
func allowHTTP(cfg *config.Config) bool {
	return slices.Contains(cfg.Source.Schemes, "http") || strings.HasPrefix(cfg.Seed.GitHost, "http://")
}

// newSyncer builds the sync pipeline from [tools] and [limits], with the
// native converter (queueSyncer picks hg-git per mirror when configured),
// keeping leases and ref states in st.
func newSyncer(cfg *config.Config, st *store.Store, log *slog.Logger) *mirror.Syncer {
	var refs mirror.RefStore // nil: a file in each mirror's cache
	if st != nil {
		refs = mirror.DBRefs{Store: st}
	}
	return &mirror.Syncer{
		Refs:      refs,
		CacheDir:  cfg.CacheDir(),
		Hg:        &hg.Runner{Path: cfg.Tools.Hg, Timeout: cfg.Limits.SubprocessTimeout, Logger: log},
		Git:       newGitRunner(cfg),
		Converter: &convert.Native{Memory: int64(cfg.Convert.Memory)},
		Logger:    log,
		AllowFile: cfg.Source.AllowFile,
		AllowHTTP: allowHTTP(cfg),
	}
}

// readyChecks are /readyz's checks: the database answers, git (and hg
// when the configuration needs it) can run.
func readyChecks(cfg *config.Config, st *store.Store) map[string]func(context.Context) error {
	look := func(name, path string) func(context.Context) error {
		return func(context.Context) error {
			if _, err := exec.LookPath(path); err != nil {
				return fmt.Errorf("%s not found: %w", name, err)
			}
			return nil
		}
	}
	checks := map[string]func(context.Context) error{
		"database": func(ctx context.Context) error { return st.DB().PingContext(ctx) },
		"git":      look("git", cfg.Tools.Git),
	}
	if cfg.NeedsHg() { // else hg is only the native transport's fallback
		checks["hg"] = look("hg", cfg.Tools.Hg)
	}
	return checks
}

// queueSyncer runs a queued job's sync: it finds the mirror by name (a
// configured or seed mirror) and runs the pipeline.
type queueSyncer struct {
	cfg     *config.Config
	syncer  *mirror.Syncer
	metrics *web.Metrics
	classes *classBook
	apps    *appTokens
	log     *slog.Logger
}

func (q *queueSyncer) Sync(ctx context.Context, name string, trigger queue.Trigger) (*queue.RunResult, error) {
	m, ok := q.cfg.ResolveName(name)
	if !ok {
		err := &mirror.Error{Op: "resolve", Class: mirror.BadRequest, Err: fmt.Errorf("no mirror named %q in the configuration", name)}
		q.classes.set(name, err)
		return nil, err
	}
	if err := q.apps.authorise(ctx, &m); err != nil {
		q.classes.set(name, err)
		return nil, err
	}
	opts := mirror.SyncOptions{Logger: q.log.With("trigger", trigger.String()), Transport: q.cfg.Transport(name)}
	if p := testPauseFor(nil); p != nil {
		opts.Progress = p.progress
	}
	if q.cfg.Converter(name) == "hg-git" {
		opts.Converter = &hggit.Converter{Runner: q.syncer.Hg}
	}
	settings, err := q.cfg.ConvertSettings(name) // hg-git's options, [convert] and the mirror's
	if err != nil {
		err = &mirror.Error{Op: "convert", Class: mirror.BadRequest, Err: err}
		q.classes.set(name, err)
		return nil, err
	}
	opts.Settings = settings
	start := time.Now()
	res, err := q.syncer.Sync(ctx, m, opts)
	q.classes.set(name, err)
	if quota := int64(q.cfg.Limits.CacheQuota); quota > 0 {
		mirror.EnforceQuota(ctx, q.syncer.CacheDir, quota, name, q.log)
	}
	if err != nil {
		q.metrics.ObserveSync(name, outcomeOf(err), time.Since(start), 0, -1)
		if res != nil { // refs refused: the history keeps what was pushed and why
			return runResult(res), err
		}
		return nil, err
	}
	rr := runResult(res)
	q.metrics.ObserveSync(name, string(store.OutcomeSuccess), res.Duration, res.Changesets, 0)
	return rr, nil
}

// runResult is what the history keeps of a sync: each ref pushed as "REF
// OLD..NEW" (rewrites marked), each warning as "KIND: MESSAGE", and the
// time of each step.
func runResult(res *mirror.Result) *queue.RunResult {
	rr := &queue.RunResult{Changesets: res.Changesets, Lag: 0}
	for _, st := range res.Steps {
		rr.Steps = append(rr.Steps, store.Step{Name: st.Name, Duration: st.Duration})
	}
	for _, u := range res.RefsUpdated {
		rr.RefsUpdated = append(rr.RefsUpdated, u.String())
	}
	for _, w := range res.Warnings {
		msg := w.Message
		if w.Kind == mirror.WarnHeadUnexported && w.Node != "" {
			msg = w.Node + " " + w.Path + ": " + msg
		}
		rr.Warnings = append(rr.Warnings, fmt.Sprintf("%s: %s", w.Kind, msg))
	}
	return rr
}

func outcomeOf(err error) string {
	if mirror.ClassOf(err) == mirror.Transient {
		return string(store.OutcomeRetry)
	}
	return string(store.OutcomeFailed)
}

// classBook remembers the class of each mirror's latest sync error, so that
// a waiting request can tell a failure the request caused (400) from a
// server fault (500). Syncs of one mirror are serialised, so the latest is
// the one waited for. Only in-process workers fill it.
type classBook struct {
	mu sync.Mutex
	m  map[string]mirror.Class
}

func newClassBook() *classBook { return &classBook{m: map[string]mirror.Class{}} }

func (b *classBook) set(name string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.m, name)
		return
	}
	b.m[name] = mirror.ClassOf(err)
}

func (b *classBook) get(name string) (mirror.Class, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.m[name]
	return c, ok
}

// webQueue adapts the queue to what web needs.
type webQueue struct {
	q       *queue.Queue
	db      *store.Store
	classes *classBook
}

func (w *webQueue) Submit(ctx context.Context, m mirror.Mirror, t web.Trigger) (*web.Submission, error) {
	sub, err := w.q.Submit(ctx, m.Name, queue.Trigger{Kind: t.Kind, Provider: t.Provider, DeliveryID: t.DeliveryID})
	if err != nil {
		return nil, err
	}
	return &web.Submission{JobID: sub.JobID, Replayed: sub.Replayed, Coalesced: sub.Coalesced}, nil
}

// MirrorWorker names the worker syncing mirror now, or its home worker.
func (w *webQueue) MirrorWorker(ctx context.Context, mirror string) (string, bool, error) {
	return w.q.MirrorWorker(ctx, mirror)
}

func (w *webQueue) Job(ctx context.Context, id int64) (*web.Job, error) {
	return w.job(w.q.Job(ctx, id))
}

func (w *webQueue) Wait(ctx context.Context, id int64) (*web.Job, error) {
	return w.job(w.q.Wait(ctx, id))
}

// job is the queue's answer j, err as web's: queue.ErrNotFound becomes
// web.ErrJobNotFound.
func (w *webQueue) job(j *queue.Job, err error) (*web.Job, error) {
	if errors.Is(err, queue.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", web.ErrJobNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	return w.convert(j), nil
}

// Depth counts sync jobs not finished, in River's table.
func (w *webQueue) Depth(ctx context.Context) (int, error) {
	var n int
	err := w.db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync'
		AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`).Scan(&n)
	return n, err
}

func (w *webQueue) convert(j *queue.Job) *web.Job {
	out := &web.Job{ID: j.ID, Mirror: j.Mirror, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
		Created: j.Created, Finished: j.Finalized}
	switch {
	case j.Succeeded():
		out.State = web.JobSucceeded
	case j.Done():
		out.State = web.JobFailed
		if j.State == queue.StateCancelled && j.Err() == nil {
			out.State = web.JobCancelled
		}
	case j.State == queue.StateRunning:
		out.State = web.JobRunning
	case j.State == queue.StateRetryable:
		out.State = web.JobRetrying
	default:
		out.State = web.JobQueued
	}
	if n := len(j.Runs); n > 0 {
		last := j.Runs[n-1]
		out.Changesets, out.Refs = last.Changesets, last.RefsUpdated
		if out.Finished.IsZero() && !last.Finished.IsZero() && out.State != web.JobQueued && out.State != web.JobRunning {
			out.Finished = last.Finished
		}
		if last.Outcome == store.OutcomeRunning && out.State == web.JobQueued {
			out.State = web.JobRunning
		}
	}
	if err := j.Err(); err != nil && out.State != web.JobSucceeded {
		out.Error = err.Error()
		out.Class = mirror.Internal.String()
		if c, ok := w.classes.get(j.Mirror); ok {
			out.Class = c.String()
		}
	}
	return out
}

// runWorker is `synchroniser worker [--config FILE] [--data-dir DIR] [--id NAME]`:
// it runs sync workers and no HTTP service. Several workers, on one machine
// or many, share the queue through one PostgreSQL database; each keeps its
// own cache (a cold cache clones). SIGTERM lets running syncs finish for the
// grace period, then hands them back to the queue.
func runWorker(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := commandFlags("worker", "usage: synchroniser worker [--config FILE] [--data-dir DIR] [--id NAME]", stderr)
	dataDir := fs.String("data-dir", "", "this worker's own data `dir` for its cache (the database stays the configured one); default: data_dir")
	id := fs.String("id", "", "worker `name`, stable across restarts: it decides which mirrors this worker is home of; default: host-pid")
	cfg, code := parseConfigFlags(fs, args, stderr)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg, stderr)
	if cfg.DatabaseKind() != "postgres" {
		log.Warn("worker on SQLite: only processes on this machine can share the database; set database_url to PostgreSQL for several machines",
			"database", cfg.SQLitePath())
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			log.Error("cannot create the data dir", "dir", cfg.DataDir, "err", err)
			return 1
		}
	}
	// The database is the shared one (data_dir's SQLite file or
	// database_url); --data-dir moves only this worker's cache.
	st, err := openStore(ctx, cfg)
	if err != nil {
		log.Error("cannot open the database", "database", cfg.DatabaseKind(), "err", err)
		return 1
	}
	defer st.Close()
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := os.MkdirAll(cfg.CacheDir(), 0o750); err != nil {
		log.Error("cannot create the cache dir", "dir", cfg.CacheDir(), "err", err)
		return 1
	}
	if *id == "" && cfg.DatabaseKind() == "postgres" {
		log.Warn("no --id: this worker is named host-pid, so a restart gives it another name and moves its mirrors (each is cloned again at its new home); give each worker a stable --id")
	}
	qcfg := queueConfig(cfg, st, log)
	qcfg.ID = *id
	qcfg.Syncer = &queueSyncer{cfg: cfg, syncer: newSyncer(cfg, st, log), metrics: web.NewMetrics(),
		classes: newClassBook(), apps: newAppTokens(cfg), log: log}
	q, err := queue.New(ctx, qcfg)
	if err != nil {
		log.Error("cannot start the queue", "err", err)
		return 1
	}
	setMemoryLimit(syncMemoryLimit(int64(cfg.Convert.Memory), cfg.Limits.ConcurrentSyncs))
	log.Info("synchroniser worker running", "database", cfg.DatabaseKind(), "cache", cfg.CacheDir(),
		"workers", cfg.Limits.ConcurrentSyncs, "mirrors", len(cfg.Mirror), "config", configName(cfg), "version", version)
	if err := q.Run(ctx); err != nil {
		log.Error("worker stopped with an error", "err", err)
		return 1
	}
	log.Info("worker stopped")
	return 0
}

// commandFlags is the flag set of serve or worker: errors and -h print usage
// and the flags to stderr.
func commandFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseConfigFlags adds --config to fs (serve and worker share it), parses
// args and loads the configuration; on failure cfg is nil and code is the exit
// status (0 for -h).
func parseConfigFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (cfg *config.Config, code int) {
	file := fs.String("config", os.Getenv("SYNCHRONISER_CONFIG"), "configuration `file` (TOML); default: built-in defaults and SYNCHRONISER_* variables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return nil, 2
	}
	cfg, err := config.Load(*file, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "synchroniser: %v\n", err)
		return nil, 2
	}
	return cfg, 0
}
