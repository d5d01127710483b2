package mirror

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// Converter turns the Mercurial repository at hgRoot into Git objects in
// hgRoot/.hg/git, recorded in hgRoot/.hg/git-mapfile (convert.Native, or
// hggit.Converter).
type Converter interface {
	Convert(ctx context.Context, hgRoot string, opts convert.Options) (*convert.Result, error)
}

// Syncer runs syncs over a cache directory. Its fields must not change
// once Sync has been called; a Syncer is safe for concurrent use (syncs of
// one mirror are serialised, see Lock).
type Syncer struct {
	CacheDir  string      // one directory per mirror: <CacheDir>/<name>/
	Hg        *hg.Runner  // nil = a zero Runner
	Git       *git.Runner // nil = a zero Runner
	Converter Converter   // nil = &convert.Native{}
	Logger    *slog.Logger
	// AllowFile allows local paths and file:// URLs as sources and
	// destinations (tests, the command line); never for webhooks.
	AllowFile bool
	// AllowHTTP allows plain http:// sources and destinations.
	AllowHTTP bool
	// Refs keeps leases and ref states (nil = a file in each mirror's
	// cache directory).
	Refs RefStore
	// MaxSmallPacks is how many small packs (git.SmallPackSize) the git
	// repository of an hg mirror's cache may hold before a sync, once it
	// has pushed, combines them (0 = DefaultMaxSmallPacks): each
	// conversion writes one.
	MaxSmallPacks int
}

// DefaultMaxSmallPacks is Syncer.MaxSmallPacks's default.
const DefaultMaxSmallPacks = 32

// SyncOptions tune one sync.
type SyncOptions struct {
	Progress func(done, total int) // changesets converted; may be nil
	Logger   *slog.Logger          // nil = Syncer.Logger
	JobID    int64                 // queue job running the sync, logged as "job" when not 0
	// Converter, when not nil, converts this sync instead of
	// Syncer.Converter (a mirror configured for the hg-git backend).
	Converter Converter
	// Settings are the hg-git options of the mirror's conversion.
	Settings convert.Settings
	// Transport talks to a Mercurial source ("" = TransportNative).
	Transport Transport
}

// Sync brings m's destination up to date with its source: it pulls what is
// new into the mirror's cache (cloning it the first time, or again when it
// is damaged), converts new changesets (hg), maps refs by m.Policy, and
// pushes the refs that changed, atomically. Divergence at the destination
// is refused unless m.Policy.Force. Errors are *Error values (see ClassOf).
func (s *Syncer) Sync(ctx context.Context, m Mirror, opts SyncOptions) (*Result, error) {
	start := time.Now()
	log := s.logger(opts.Logger, m.Name)
	if opts.JobID != 0 {
		log = log.With(slog.Int64("job", opts.JobID))
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkMirror("sync", &m); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.CacheDir, m.Name)
	unlock, err := Lock(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	log.InfoContext(ctx, "sync started", slog.String("scm", string(m.SCM)), slog.String("source", Redact(m.Source)), slog.Any("dest", m.Dest))

	var res *Result
	if m.SCM == scm.Hg {
		res, err = s.syncHg(ctx, m, dir, opts, log)
	} else {
		res, err = s.syncGit(ctx, m, log)
	}
	if err != nil {
		log.WarnContext(ctx, "sync failed", slog.String("class", ClassOf(err).String()), slog.String("error", err.Error()), slog.Duration("duration", time.Since(start)))
		if res != nil { // refs refused: the others were pushed
			res.Duration = time.Since(start)
		}
		return res, err
	}
	res.Duration = time.Since(start)
	log.InfoContext(ctx, "sync done", slog.Int("changesets", res.Changesets), slog.Int("refs_updated", len(res.RefsUpdated)),
		slog.Int("warnings", len(res.Warnings)), slog.Duration("duration", res.Duration))
	return res, nil
}

// logger returns log, else s.Logger, else a logger that discards, with
// the mirror's name.
func (s *Syncer) logger(log *slog.Logger, mirror string) *slog.Logger {
	if log == nil {
		log = s.Logger
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return log.With(slog.String("mirror", mirror))
}

func (s *Syncer) hg() *hg.Runner {
	if s.Hg != nil {
		return s.Hg
	}
	return &hg.Runner{}
}

func (s *Syncer) converter() Converter {
	if s.Converter != nil {
		return s.Converter
	}
	return &convert.Native{}
}

// HgRoot returns where the Mercurial cache of mirror name is kept; hg-git's
// map is HgRoot/.hg/git-mapfile and its git repository HgRoot/.hg/git.
func (s *Syncer) HgRoot(name string) string { return filepath.Join(s.CacheDir, name, "hg") }

// GitCache returns where the bare Git cache of a git mirror is kept.
func (s *Syncer) GitCache(name string) string { return filepath.Join(s.CacheDir, name, "git") }

func (s *Syncer) syncHg(ctx context.Context, m Mirror, dir string, opts SyncOptions, log *slog.Logger) (*Result, error) {
	clock := newStepClock()
	root := filepath.Join(dir, "hg")
	src, err := s.hgSource(ctx, m, dir, root, opts.Transport, log)
	if err != nil {
		return nil, err
	}
	clock.done(StepPull)
	conv := opts.Converter
	if conv == nil {
		conv = s.converter()
	}
	cres, err := conv.Convert(ctx, root, convert.Options{Progress: opts.Progress, Logger: log, Exclude: src.Excluded(), Settings: opts.Settings})
	clock.done(StepConvert)
	if err != nil {
		var unsup *hg.UnsupportedError
		switch {
		case errors.As(err, &unsup):
			return nil, &Error{Op: "convert", Class: BadRequest, Err: err}
		case ctx.Err() != nil:
			return nil, &Error{Op: "convert", Class: Transient, Err: err}
		}
		return nil, &Error{Op: "convert", Class: Internal, Err: err}
	}
	res := &Result{Changesets: cres.Converted, Source: src}
	res, err = s.pushHg(ctx, m, root, cres, src, res, log)
	clock.done(StepPush)
	clock.record(res)
	if err == nil && cres.Converted > 0 {
		s.combinePacks(ctx, convert.GitDir(root), log)
	}
	return res, err
}

// combinePacks bounds the packs of gitDir (see Syncer.MaxSmallPacks),
// after the push so that a sync waits for it only once in many. A failure
// is only logged: every object stays in some pack.
func (s *Syncer) combinePacks(ctx context.Context, gitDir string, log *slog.Logger) {
	max := s.MaxSmallPacks
	if max <= 0 {
		max = DefaultMaxSmallPacks
	}
	start := time.Now()
	n, err := s.gitRunner(Destination{}).CombinePacks(ctx, gitDir, max)
	switch {
	case err != nil:
		log.WarnContext(ctx, "git cache: small packs not combined", slog.Any("err", err))
	case n > 0:
		log.DebugContext(ctx, "git cache: small packs combined", slog.Int("packs", n), slog.Duration("took", time.Since(start)))
	}
}
