package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
	log.InfoContext(ctx, "sync started", slog.String("scm", m.SCM), slog.String("source", Redact(m.Source)), slog.Any("dest", m.Dest))

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
	if err := s.hgCache(ctx, m, dir, root, log); err != nil {
		return nil, err
	}
	conv := opts.Converter
	if conv == nil {
		conv = s.converter()
	}
	cres, err := conv.Convert(ctx, root, convert.Options{Progress: opts.Progress, Logger: log, Settings: opts.Settings})
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
	res := &Result{Changesets: cres.Converted, Warnings: cres.Warnings}
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

// hgCache leaves an up-to-date clone of m.Source at root: pulled when a
// usable clone is there, cloned otherwise. A clone is made under a
// temporary name and renamed when complete, so an interrupted clone is
// never mistaken for a cache.
func (s *Syncer) hgCache(ctx context.Context, m Mirror, dir, root string, log *slog.Logger) error {
	h := s.hg()
	usable, why := s.hgUsable(ctx, root)
	if usable {
		if b, err := os.ReadFile(filepath.Join(dir, sourceFile)); err == nil && strings.TrimSpace(string(b)) != sourceID(m.Source) {
			usable, why = false, "the mirror's source changed"
		}
	}
	if usable {
		err := h.Pull(ctx, root, m.Source)
		if err == nil {
			log.DebugContext(ctx, "hg cache pulled", slog.String("cache", root))
			return nil
		}
		if !cacheCorrupt(err) {
			return classify("pull", sourceSide, err)
		}
		log.WarnContext(ctx, "hg cache damaged: cloning again", slog.String("cache", root), slog.String("error", err.Error()))
	} else if why != "" {
		log.WarnContext(ctx, "hg cache unusable: cloning again", slog.String("cache", root), slog.String("reason", why))
	}
	tmp := filepath.Join(dir, "hg.partial")
	if err := os.RemoveAll(tmp); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := h.Clone(ctx, m.Source, tmp); err != nil {
		os.RemoveAll(tmp)
		return classify("clone", sourceSide, err)
	}
	if err := os.RemoveAll(root); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := os.Rename(tmp, root); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := os.WriteFile(filepath.Join(dir, sourceFile), []byte(sourceID(m.Source)+"\n"), 0o644); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	log.InfoContext(ctx, "hg cache cloned", slog.String("cache", root))
	return nil
}

// sourceFile, in a mirror's cache directory, identifies the source the hg
// cache was cloned from: a mirror pointed elsewhere starts afresh.
const sourceFile = "hg.source"

// sourceID identifies a source URL without its credentials (a rotated
// token is the same source).
func sourceID(source string) string {
	sum := sha256.Sum256([]byte(Redact(source)))
	return hex.EncodeToString(sum[:])
}

// hgUsable reports whether root holds a Mercurial repository that can be
// pulled into; when not, why says what is wrong ("" when there is nothing).
// An interrupted transaction is rolled back with `hg recover` first.
func (s *Syncer) hgUsable(ctx context.Context, root string) (ok bool, why string) {
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		return false, ""
	}
	if _, err := os.Stat(filepath.Join(root, ".hg", "store", "journal")); err == nil {
		if _, err := s.hg().Run(ctx, root, "recover", "--repository", root); err != nil {
			return false, "interrupted transaction, recover failed: " + err.Error()
		}
	}
	r, err := hg.Open(root)
	if declaredRequirement(err) {
		return true, "" // hg can pull into it; the converter reports the format
	}
	if err != nil {
		return false, err.Error()
	}
	r.Close()
	return true, ""
}

// declaredRequirement reports whether err is the reader refusing a
// requirement the repository declares in a requires file (a real format
// it does not support), rather than a damaged store it could not make sense of.
func declaredRequirement(err error) bool {
	var unsup *hg.UnsupportedError
	if !errors.As(err, &unsup) || filepath.Base(unsup.Path) != "requires" {
		return false
	}
	b, rerr := os.ReadFile(unsup.Path)
	if rerr != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == unsup.Requirement {
			return true
		}
	}
	return false
}

func (s *Syncer) syncGit(ctx context.Context, m Mirror, log *slog.Logger) (*Result, error) {
	gitDir := s.GitCache(m.Name)
	g := s.gitRunner(Destination{})
	if _, err := os.Stat(filepath.Join(gitDir, "HEAD")); err != nil {
		os.RemoveAll(gitDir)
		if err := git.Init(ctx, gitDir, true); err != nil {
			return nil, &Error{Op: "init", Class: Internal, Err: err}
		}
	}
	before, err := localRefs(ctx, g, gitDir)
	if err != nil {
		return nil, err
	}
	refspecs := []string{"+refs/heads/*:refs/heads/*"}
	if m.Policy.Tags {
		refspecs = append(refspecs, "+refs/tags/*:refs/tags/*")
	}
	if err := g.FetchWithOptions(ctx, gitDir, m.Source, refspecs, git.FetchOptions{Prune: true, NoTags: !m.Policy.Tags}); err != nil {
		return nil, classify("fetch", sourceSide, err)
	}
	after, err := localRefs(ctx, g, gitDir)
	if err != nil {
		return nil, err
	}
	n, err := newCommits(ctx, g, gitDir, before, after)
	if err != nil {
		return nil, err
	}
	log.DebugContext(ctx, "git cache fetched", slog.String("cache", gitDir), slog.Int("commits", n))
	want := m.Policy.gitRefs(after)
	res := &Result{Changesets: n}
	res.RefsUpdated, err = s.push(ctx, m, gitDir, want, log)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// localRefs lists the refs of gitDir (full name → sha).
func localRefs(ctx context.Context, g *git.Runner, gitDir string) (map[string]string, error) {
	refs, err := g.Refs(ctx, gitDir)
	if err != nil {
		return nil, &Error{Op: "for-each-ref", Class: Internal, Err: err}
	}
	out := make(map[string]string, len(refs))
	for ref, h := range refs {
		out[ref] = h.String()
	}
	return out, nil
}

// newCommits counts the commits reachable from after's values and not from
// before's.
func newCommits(ctx context.Context, g *git.Runner, gitDir string, before, after map[string]string) (int, error) {
	args := []string{"--git-dir=" + gitDir, "rev-list", "--count"}
	seen := map[string]bool{}
	for _, v := range after {
		if !seen[v] {
			seen[v] = true
			args = append(args, v)
		}
	}
	if len(seen) == 0 {
		return 0, nil
	}
	args = append(args, "--not")
	for _, v := range before {
		args = append(args, v)
	}
	args = append(args, "--")
	out, err := g.Run(ctx, gitDir, args...)
	if err != nil {
		return 0, &Error{Op: "rev-list", Class: Internal, Err: err}
	}
	var n int
	if _, err := fmt.Sscan(string(out), &n); err != nil {
		return 0, &Error{Op: "rev-list", Class: Internal, Err: fmt.Errorf("unexpected output %q", out)}
	}
	return n, nil
}

// push makes the destination's refs equal to want where they differ,
// refusing divergence unless the policy forces, in one atomic push from
// gitDir. Nothing is pushed when nothing changed.
func (s *Syncer) push(ctx context.Context, m Mirror, gitDir string, want map[string]string, log *slog.Logger) ([]RefUpdate, error) {
	g := s.gitRunner(m.Dest)
	remote, err := g.LsRemote(ctx, m.Dest.URL)
	if err != nil {
		return nil, classify("ls-remote", destSide, err)
	}
	have := make(map[string]string, len(remote))
	for ref, h := range remote {
		have[ref] = h.String()
	}
	updates, err := plan(want, have, m.Policy.Force, func(oldV, newV string) (bool, bool, error) {
		oh, err := git.ParseHash(oldV)
		if err != nil {
			return false, false, nil
		}
		nh, err := git.ParseHash(newV)
		if err != nil {
			return false, false, &Error{Op: "push", Class: Internal, Err: err}
		}
		have, err := git.ObjectExists(gitDir, oh)
		if err != nil {
			return false, false, &Error{Op: "push", Class: Internal, Err: err}
		}
		if !have {
			return false, false, nil
		}
		ok, err := g.IsAncestor(ctx, gitDir, oh, nh)
		if err != nil {
			return false, true, &Error{Op: "merge-base", Class: Internal, Err: err}
		}
		return ok, true, nil
	})
	if err != nil {
		var d *DivergedError
		if errors.As(err, &d) {
			log.WarnContext(ctx, "destination diverged", slog.Any("refs", d.Refs))
			return nil, &Error{Op: "push", Class: BadRequest, Err: err}
		}
		return nil, err
	}
	if len(updates) == 0 {
		log.InfoContext(ctx, "destination up to date")
		return nil, nil
	}
	refspecs := make([]string, len(updates))
	out := make([]RefUpdate, len(updates))
	for i, u := range updates {
		refspecs[i] = u.New + ":" + u.Ref
		if u.force {
			refspecs[i] = "+" + refspecs[i]
		}
		out[i] = u.RefUpdate
	}
	if err := g.Push(ctx, gitDir, m.Dest.URL, refspecs, git.PushOptions{Atomic: true}); err != nil {
		return nil, classify("push", destSide, err)
	}
	for _, u := range out {
		log.InfoContext(ctx, "ref updated", slog.String("ref", u.Ref), slog.String("old", u.Old), slog.String("new", u.New))
	}
	return out, nil
}

// gitRunner returns the git Runner for talking to d (no credentials for
// the zero Destination), allowing what the Syncer allows.
func (s *Syncer) gitRunner(d Destination) *git.Runner {
	base := s.Git
	if base == nil {
		base = &git.Runner{}
	}
	c := git.Credentials{Token: d.Token, SSHKey: d.SSHKey, KnownHosts: d.KnownHosts}
	if d.Forge == "gitlab" {
		c.Username = "oauth2"
	}
	r := base.WithCredentials(c)
	r.AllowFile = r.AllowFile || s.AllowFile
	r.AllowHTTP = r.AllowHTTP || s.AllowHTTP
	if r.Logger == nil {
		r.Logger = s.Logger
	}
	return r
}

// CheckDestination checks that dest can be reached and is a Git repository
// (git ls-remote), for destinations no forge API describes: BadRequest when
// the repository does not exist or the URL is not allowed, Permanent when
// credentials are refused, Transient for network faults, Internal when git
// is missing.
func (s *Syncer) CheckDestination(ctx context.Context, dest Destination) error {
	dest.URL = s.absLocal(dest.URL)
	if err := s.checkDest(dest); err != nil {
		return err
	}
	if _, err := s.gitRunner(dest).LsRemote(ctx, dest.URL); err != nil {
		return classify("ls-remote", destSide, err)
	}
	return nil
}

// checkSource refuses source URLs the Syncer does not allow.
func (s *Syncer) checkSource(m Mirror) error {
	scheme, err := s.scheme(m.Source)
	if err != nil {
		return &Error{Op: "source", Class: BadRequest, Err: err}
	}
	if scheme == "scp" && m.SCM == SCMHg {
		return errorf(BadRequest, "source", "%s: not a Mercurial URL", Redact(m.Source))
	}
	return nil
}

// checkDest refuses destinations the Syncer does not allow, and ssh ones
// without a key and known_hosts.
func (s *Syncer) checkDest(d Destination) error {
	scheme, err := s.scheme(d.URL)
	if err != nil {
		return &Error{Op: "destination", Class: BadRequest, Err: err}
	}
	if (scheme == "ssh" || scheme == "scp") && (d.SSHKey == "" || d.KnownHosts == "") {
		return errorf(BadRequest, "destination", "%s: an ssh destination needs an SSH key and a known_hosts file", d)
	}
	return nil
}

// scheme returns the transport of raw ("https", "http", "ssh", "scp" for
// git's user@host:path, "file" for file:// and local paths) or an error
// when the Syncer does not allow it.
func (s *Syncer) scheme(raw string) (string, error) {
	if raw == "" || strings.HasPrefix(raw, "-") || strings.ContainsAny(raw, "\x00\n\r") {
		return "", fmt.Errorf("invalid URL %q", Redact(raw))
	}
	scheme := "file"
	if i := strings.Index(raw, "://"); i > 0 {
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("invalid URL %s", Redact(raw))
		}
		scheme = strings.ToLower(u.Scheme)
		if scheme != "file" && u.Host == "" {
			return "", fmt.Errorf("URL %s has no host", Redact(raw))
		}
	} else if at := strings.Index(raw, ":"); at > 0 && !strings.Contains(raw[:at], "/") {
		scheme = "scp"
	}
	switch scheme {
	case "https", "ssh", "scp":
		return scheme, nil
	case "http":
		if s.AllowHTTP {
			return scheme, nil
		}
	case "file":
		if s.AllowFile {
			return scheme, nil
		}
		return "", fmt.Errorf("%s: local paths and file:// URLs are not allowed", Redact(raw))
	}
	return "", fmt.Errorf("%s: scheme %q is not allowed", Redact(raw), scheme)
}

// absLocal makes a local path absolute when local paths are allowed (git
// and hg must not resolve them against their working directory).
func (s *Syncer) absLocal(raw string) string {
	if !s.AllowFile || raw == "" || strings.HasPrefix(raw, "-") {
		return raw
	}
	if sc, err := s.scheme(raw); err != nil || sc != "file" || strings.Contains(raw, "://") {
		return raw
	}
	if abs, err := filepath.Abs(raw); err == nil {
		return abs
	}
	return raw
}
