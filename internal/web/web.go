// Package web serves Synchroniser over HTTP: the original /synchronise/
// endpoint, webhooks under /hooks/{provider}, a JSON API under /api/, the
// status page at /, /metrics, /healthz and /readyz.
//
// Handlers never run a sync themselves: they check the request, resolve the
// mirror, check the destination (forge preflight or ls-remote) and queue a
// job; with ?wait=1 (or [legacy] wait = true) /synchronise/ waits for it.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/urlcheck"
)

// Queue is the job queue as web uses it.
type Queue interface {
	// Submit queues a sync of m. Jobs are unique per mirror: while one is
	// waiting, a second push joins it. A push whose (provider, delivery id)
	// was seen before is not queued again (Submission.Replayed).
	Submit(ctx context.Context, m mirror.Mirror, t Trigger) (*Submission, error)
	// Job returns the state of a job; an unknown id gives an error
	// wrapping ErrJobNotFound.
	Job(ctx context.Context, id int64) (*Job, error)
	// Wait blocks until the job has finished (or ctx ends) and returns its
	// final state.
	Wait(ctx context.Context, id int64) (*Job, error)
	// Depth is the number of jobs waiting or running.
	Depth(ctx context.Context) (int, error)
}

// ErrJobNotFound is wrapped by Queue.Job for an unknown job.
var ErrJobNotFound = errors.New("job not found")

// Submission is what Queue.Submit did.
type Submission struct {
	JobID     int64
	Replayed  bool // the delivery was seen before: nothing queued, JobID is the first delivery's job
	Coalesced bool // joined a job already queued or running
}

// Trigger says why a sync was queued.
type Trigger struct {
	Kind       string // store.TriggerPush, TriggerManual, ...
	Provider   string // webhook provider for pushes
	DeliveryID string
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobRetrying  = "retrying"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Job is a queued sync as the API shows it.
type Job struct {
	ID          int64     `json:"id"`
	Mirror      string    `json:"mirror"`
	State       string    `json:"state"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts,omitempty"`
	Created     time.Time `json:"created"`
	Finished    time.Time `json:"finished,omitzero"`
	Error       string    `json:"error,omitempty"`
	// Class is the mirror.Class of a failed job's error ("bad-request",
	// "internal", "transient", "permanent").
	Class      string   `json:"class,omitempty"`
	Changesets int      `json:"changesets"`
	Refs       []string `json:"refs,omitempty"`
}

// Done reports whether the job has finished, well or not.
func (j *Job) Done() bool {
	return j.State == JobSucceeded || j.State == JobFailed || j.State == JobCancelled
}

// Store is the part of the store web reads and writes.
type Store interface {
	MirrorStats(ctx context.Context, mirror string) (*store.MirrorStats, error)
	RecentRuns(ctx context.Context, limit int) ([]store.Run, error)
	JobRuns(ctx context.Context, jobID int64) ([]store.Run, error)
}

// Preflighter checks that a destination exists and the bot may push to it.
// Errors for which forge.IsBadRequest holds (or wrapping ErrDestination) are
// the request's fault (400); anything else is a server fault (500).
type Preflighter interface {
	Preflight(ctx context.Context, d mirror.Destination) error
}

// ErrDestination marks a destination the request named that cannot be
// pushed to (plain Git destinations: not reachable, not a repository).
var ErrDestination = errors.New("destination not usable")

// Options wires a Server.
type Options struct {
	Config    *config.Config
	Store     Store
	Queue     Queue
	Preflight Preflighter // nil: DefaultPreflight(Config, Git)
	// Ready holds the named checks /readyz runs ("database", "hg", "git");
	// each returns nil when ready.
	Ready   map[string]func(ctx context.Context) error
	Logger  *slog.Logger
	Metrics *Metrics // nil: NewMetrics()
	// Resolver resolves source hosts for the URL policy (nil = DNS).
	Resolver urlcheck.Resolver
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Adopter adopts hg-git conversions (POST /api/mirrors/{name}/adopt);
	// nil answers 501.
	Adopter Adopter
}

// Server is the HTTP service. Create it with New; it is an http.Handler.
type Server struct {
	cfg     *config.Config
	store   Store
	queue   Queue
	pre     Preflighter
	ready   map[string]func(ctx context.Context) error
	log     *slog.Logger
	metrics *Metrics
	policy  urlcheck.Policy
	now     func() time.Time
	handler http.Handler
	adopter Adopter

	mu   sync.Mutex
	seen map[string]bool // names of mirrors resolved since start (seed mirrors are not configured)
}

// New returns a Server for opts. Config, Store and Queue are required.
func New(opts Options) (*Server, error) {
	if opts.Config == nil || opts.Store == nil || opts.Queue == nil {
		return nil, errors.New("web: Config, Store and Queue are required")
	}
	s := &Server{
		cfg: opts.Config, store: opts.Store, queue: opts.Queue, pre: opts.Preflight,
		ready: opts.Ready, log: opts.Logger, metrics: opts.Metrics, now: opts.Now,
		seen: map[string]bool{}, adopter: opts.Adopter,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.pre == nil {
		s.pre = DefaultPreflight(opts.Config, nil)
	}
	src := opts.Config.Source
	s.policy = urlcheck.Policy{
		Schemes: src.Schemes, Hosts: src.Hosts, AllowPrivate: src.AllowPrivate,
		AllowFile: src.AllowFile, Resolver: opts.Resolver,
	}
	s.metrics.SetQueueDepth(opts.Queue.Depth)
	s.handler = s.routes()
	return s, nil
}

// Metrics returns the server's metrics (for the queue to report syncs to).
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// remember records a resolved mirror so that the API and status page list it.
func (s *Server) remember(m mirror.Mirror) {
	s.mu.Lock()
	s.seen[m.Name] = true
	s.mu.Unlock()
}

// mirror returns a mirror by name: configured, or a seed mirror.
func (s *Server) mirror(name string) (mirror.Mirror, bool) {
	return s.cfg.ResolveName(name)
}

// mirrors lists the configured mirrors, then by name the seed mirrors
// resolved since start or named by the history (runs), when given.
func (s *Server) mirrors(runs ...store.Run) []mirror.Mirror {
	out := s.cfg.Mirrors()
	names := map[string]bool{}
	s.mu.Lock()
	for name := range s.seen {
		names[name] = true
	}
	s.mu.Unlock()
	for _, r := range runs {
		names[r.Mirror] = true
	}
	var extra []mirror.Mirror
	for name := range names {
		if _, configured := s.cfg.Lookup(name); configured {
			continue
		}
		if m, ok := s.cfg.ResolveName(name); ok {
			extra = append(extra, m)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Name < extra[j].Name })
	return append(out, extra...)
}

func (s *Server) mirrorNames() []string {
	ms := s.mirrors()
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return names
}
