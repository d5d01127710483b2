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
}

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
}

// Sync brings m's destination up to date with its source: it pulls what is
// new into the mirror's cache (cloning it the first time, or again when it
// is damaged), converts new changesets (hg), maps refs by m.Policy, and
// pushes the refs that changed, atomically. Divergence at the destination
// is refused unless m.Policy.Force. Errors are *Error values (see ClassOf).
func (s *Syncer) Sync(ctx context.Context, m Mirror, opts SyncOptions) (*Result, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = s.Logger
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With(slog.String("mirror", m.Name))
	if opts.JobID != 0 {
		log = log.With(slog.Int64("job", opts.JobID))
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.Source, m.Dest.URL = s.absLocal(m.Source), s.absLocal(m.Dest.URL)
	if err := s.checkSource(m); err != nil {
		return nil, err
	}
	if err := s.checkDest(m.Dest); err != nil {
		return nil, err
	}
	if s.CacheDir == "" {
		return nil, errorf(Internal, "sync", "no cache directory configured")
	}
	dir := filepath.Join(s.CacheDir, m.Name)
	unlock, err := Lock(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	log.InfoContext(ctx, "sync started", slog.String("scm", string(m.SCM)), slog.String("source", Redact(m.Source)), slog.Any("dest", m.Dest))

	var res *Result
	if m.SCM == SCMHg {
		res, err = s.syncHg(ctx, m, dir, opts, log)
	} else {
		res, err = s.syncGit(ctx, m, log)
	}
	if err != nil {
		log.WarnContext(ctx, "sync failed", slog.String("class", ClassOf(err).String()), slog.String("error", err.Error()), slog.Duration("duration", time.Since(start)))
		return nil, err
	}
	res.Duration = time.Since(start)
	log.InfoContext(ctx, "sync done", slog.Int("changesets", res.Changesets), slog.Int("refs_updated", len(res.RefsUpdated)),
		slog.Int("warnings", len(res.Warnings)), slog.Duration("duration", res.Duration))
	return res, nil
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
	root := filepath.Join(dir, "hg")
	src, err := s.hgCache(ctx, m, dir, root, log)
	if err != nil {
		return nil, err
	}
	conv := opts.Converter
	if conv == nil {
		conv = s.converter()
	}
	cres, err := conv.Convert(ctx, root, convert.Options{Progress: opts.Progress, Logger: log, Exclude: src.Excluded(), Settings: opts.Settings})
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
	want, refWarnings := m.Policy.hgRefs(cres.Bookmarks, cres.Tags, cres.BranchHeads, cres.Tip)
	res := &Result{Changesets: cres.Converted, Warnings: cres.Warnings, Source: src}
	for _, w := range refWarnings {
		log.WarnContext(ctx, "ref skipped", slog.String("reason", w))
		res.Warnings = append(res.Warnings, convert.Warning{Rev: -1, Kind: convert.WarnRef, Message: w})
	}
	res.RefsUpdated, err = s.push(ctx, m, convert.GitDir(root), want, log)
	if err != nil {
		return nil, err
	}
	return res, nil
}
