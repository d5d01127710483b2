package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/scm"
)

func init() {
	commands["mirror"] = command{"one-shot sync of SOURCE to DEST", runMirror}
}

const mirrorUsage = `usage: synchroniser mirror [flags] SOURCE DEST

Mirrors SOURCE (a Mercurial repository: local path, file://, http(s):// or
ssh:// URL; or a Git repository with --scm git, detected for local ones) to
DEST (a Git URL or a local bare repository path, created with git init --bare
when it does not exist), once. Only what is new since the last run is pulled
and converted: the cache directory keeps each source's clone and hg-git's map
(<cache>/<name>/hg/.hg/git-mapfile).

Flags:
`

// mirrorFlags are the flags and operands of `synchroniser mirror`. A new
// flag is a field here and one line in define.
type mirrorFlags struct {
	scm                                                             scm.Kind
	name, cache, tipBranch, converter, tokenEnv, sshKey, knownHosts string
	refs                                                            stringList
	namedBranches, noTags, force, jsonOut, quiet, verbose           bool
	timeout                                                         time.Duration

	// Set by parseMirrorFlags, not flags.
	source, dest string // the operands
	token        string // read from the environment variable --token-env names

	// hg-git's options (--authors, --branch-bookmark-suffix, --hggit,
	// --reauthor; convert.go), and what they resolve to.
	settings settingsFlags
	resolved convert.Settings
}

// define adds the flags to fs, each bound to its field of f.
func (f *mirrorFlags) define(fs *flag.FlagSet) {
	fs.StringVar((*string)(&f.scm), "scm", "", "source `kind`: hg or git (default: detected for local paths, hg for URLs)")
	fs.StringVar(&f.name, "name", "", "mirror `name` (cache directory; default derived from SOURCE)")
	fs.StringVar(&f.cache, "cache", "", "cache `dir` (default $XDG_CACHE_HOME/synchroniser)")
	fs.StringVar(&f.tipBranch, "tip-branch", "master", "`branch` for tip when the repository has no bookmark")
	fs.BoolVar(&f.namedBranches, "named-branches", false, "push named-branch heads as branches/<name>")
	fs.BoolVar(&f.noTags, "no-tags", false, "do not push tags")
	fs.BoolVar(&f.force, "force", false, "overwrite destination refs that diverged")
	fs.Var(&f.refs, "ref", "push only refs matching `glob` (full ref names; repeatable)")
	fs.StringVar(&f.converter, "converter", "native", "conversion `backend`: native or hg-git")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	fs.StringVar(&f.tokenEnv, "token-env", "", "read the destination's HTTPS token from environment `variable`")
	fs.StringVar(&f.sshKey, "ssh-key", "", "SSH private key `file` for an ssh destination")
	fs.StringVar(&f.knownHosts, "known-hosts", "", "known_hosts `file` for an ssh destination")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress and no summary")
	fs.BoolVar(&f.verbose, "verbose", false, "log each step to stderr")
	fs.DurationVar(&f.timeout, "timeout", 6*time.Hour, "give up after this `duration`")
	f.settings.register(fs)
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// mirrorReport is the --json output.
type mirrorReport struct {
	Mirror      string             `json:"mirror"`
	Changesets  int                `json:"changesets"`
	RefsUpdated []mirror.RefUpdate `json:"refs_updated"`
	Seconds     float64            `json:"seconds"`
	Warnings    []string           `json:"warnings"`
	Cache       string             `json:"cache"`
	MapFile     string             `json:"map_file,omitempty"`
}

// mirrorUsageError is a mistake on the command line: exit status 2.
type mirrorUsageError struct{ msg string }

func (e *mirrorUsageError) Error() string { return e.msg }

func mirrorUsageErr(format string, a ...any) error {
	return &mirrorUsageError{fmt.Sprintf(format, a...)}
}

// runMirror parses the command line, builds the mirror and its syncer, runs
// one sync and reports it.
func runMirror(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseMirrorFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, mirrorUsage)
		fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
		new(mirrorFlags).define(fs)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	}
	if err != nil {
		return mirrorExit(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	j, err := buildMirror(ctx, f, stderr)
	if err != nil {
		return mirrorExit(stderr, err)
	}
	res, err := j.run(ctx, f.quiet, stderr)
	if err != nil {
		return mirrorExit(stderr, err)
	}
	return mirrorExit(stderr, j.report(res, f, stdout, stderr))
}

// mirrorExit reports err on stderr and returns the exit status: 0 for nil,
// 2 for a *mirrorUsageError (with a pointer to -h), 1 for a failure.
func mirrorExit(stderr io.Writer, err error) int {
	var usage *mirrorUsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "synchroniser: mirror: %s\n", usage.msg)
		fmt.Fprintln(stderr, "usage: synchroniser mirror [flags] SOURCE DEST (see synchroniser mirror -h)")
		return 2
	default:
		fmt.Fprintf(stderr, "synchroniser: %s\n", oneLine(err.Error()))
		return 1
	}
}

// parseMirrorFlags parses and checks the command line: flag.ErrHelp for -h,
// a *mirrorUsageError for a mistake. Flags may come before and after the
// operands.
func parseMirrorFlags(args []string) (*mirrorFlags, error) {
	f := &mirrorFlags{}
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	// Parse errors are reported in one line by runMirror; -h prints the usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f.define(fs)
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, mirrorUsageErr("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
	if len(operands) != 2 {
		return nil, mirrorUsageErr("want SOURCE and DEST, have %d operand(s)", len(operands))
	}
	f.source, f.dest = operands[0], operands[1]
	if f.source == "" || f.dest == "" {
		return nil, mirrorUsageErr("SOURCE and DEST must not be empty")
	}
	if f.scm != "" && !f.scm.Valid() {
		return nil, mirrorUsageErr("--scm %q: want hg or git", f.scm)
	}
	if f.name != "" && !mirror.ValidName(f.name) {
		return nil, mirrorUsageErr("--name %q: want letters, digits, '.', '_' or '-'", f.name)
	}
	if f.timeout <= 0 {
		return nil, mirrorUsageErr("--timeout must be positive")
	}
	for _, p := range []*string{&f.sshKey, &f.knownHosts} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, mirrorUsageErr("%v", err)
			}
			*p = abs
		}
	}
	switch f.converter {
	case "native", "hg-git", "hggit":
	default:
		return nil, mirrorUsageErr("--converter %q: want native or hg-git", f.converter)
	}
	resolved, err := f.settings.resolve()
	if err != nil {
		return nil, mirrorUsageErr("%s", strings.TrimPrefix(err.Error(), "convert: "))
	}
	f.resolved = resolved
	if f.tokenEnv != "" {
		f.token = os.Getenv(f.tokenEnv)
		if f.token == "" {
			return nil, mirrorUsageErr("--token-env: environment variable %s is empty or not set", f.tokenEnv)
		}
	}
	return f, nil
}

// mirrorJob is one sync to run: the mirror, its syncer, the sync's options
// and where its cache is.
type mirrorJob struct {
	m     mirror.Mirror
	s     *mirror.Syncer
	opts  mirror.SyncOptions // run adds the progress callback
	cache string             // absolute cache directory
}

// buildMirror turns checked flags into a mirrorJob: the source's SCM
// detected when not given, local paths made absolute, a local destination
// created as a bare repository, the cache directory and the mirror's name
// chosen, the converter and logger set up.
func buildMirror(ctx context.Context, f *mirrorFlags, stderr io.Writer) (*mirrorJob, error) {
	hgRunner := &hg.Runner{}
	var conv mirror.Converter = &convert.Native{}
	if f.converter != "native" {
		conv = &hggit.Converter{Runner: hgRunner}
	}
	kind := f.scm
	if kind == "" {
		var err error
		if kind, err = detectSCM(f.source); err != nil {
			return nil, err
		}
	}
	source, dest := localAbs(f.source), f.dest
	if isLocalPath(dest) {
		abs, err := git.EnsureBare(ctx, dest)
		if err != nil {
			return nil, err
		}
		dest = abs
	}
	cache := f.cache
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, mirrorUsageErr("no cache directory (set --cache): %v", err)
		}
		cache = filepath.Join(dir, "synchroniser")
	}
	cache, err := filepath.Abs(cache)
	if err != nil {
		return nil, err
	}
	name := f.name
	if name == "" {
		name = mirror.NameFor(source)
	}

	logLevel := slog.LevelError + 100 // nothing
	if f.verbose {
		logLevel = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	m := mirror.Mirror{
		Name:   name,
		SCM:    kind,
		Source: source,
		Dest:   mirror.Destination{URL: dest, Token: f.token, SSHKey: f.sshKey, KnownHosts: f.knownHosts},
		Policy: mirror.RefPolicy{
			TipBranch:     f.tipBranch,
			Refs:          f.refs,
			NamedBranches: f.namedBranches,
			Tags:          !f.noTags,
			Force:         f.force,
		},
	}
	s := &mirror.Syncer{
		CacheDir:  cache,
		Hg:        hgRunner,
		Git:       &git.Runner{},
		Converter: conv,
		Logger:    logger,
		AllowFile: true,
		AllowHTTP: true,
	}
	return &mirrorJob{m: m, s: s, opts: mirror.SyncOptions{Settings: f.resolved}, cache: cache}, nil
}

// run syncs the mirror once, with progress on stderr unless quiet, and
// points a local destination's HEAD at a branch that exists.
func (j *mirrorJob) run(ctx context.Context, quiet bool, stderr io.Writer) (*mirror.Result, error) {
	var prog *progress
	if !quiet {
		prog = newProgress(stderr)
	}
	opts := j.opts
	if prog != nil {
		opts.Progress = prog.update
	}
	res, err := j.s.Sync(ctx, j.m, opts)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return nil, err
	}
	if dest := j.m.Dest.URL; isLocalPath(dest) && len(res.RefsUpdated) > 0 {
		if err := j.s.Git.FixHead(ctx, dest, j.m.Policy.TipBranch); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// report prints the result: JSON with --json, else (unless --quiet) the
// warnings on stderr and a summary with the updated refs on stdout.
func (j *mirrorJob) report(res *mirror.Result, f *mirrorFlags, stdout, stderr io.Writer) error {
	name := j.m.Name
	mapFile := ""
	if p := convert.MapPath(j.s.HgRoot(name)); j.m.SCM == scm.Hg && fileExists(p) {
		mapFile = p // an empty repository has none
	}
	warnings := make([]string, 0, len(res.Warnings))
	for _, w := range res.Warnings {
		warnings = append(warnings, formatWarning(w))
	}
	if f.jsonOut {
		rep := mirrorReport{
			Mirror:      name,
			Changesets:  res.Changesets,
			RefsUpdated: res.RefsUpdated,
			Seconds:     res.Duration.Seconds(),
			Warnings:    warnings,
			Cache:       filepath.Join(j.cache, name),
			MapFile:     mapFile,
		}
		if rep.RefsUpdated == nil {
			rep.RefsUpdated = []mirror.RefUpdate{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if f.quiet {
		return nil
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	unit := "changesets"
	if j.m.SCM == scm.Git {
		unit = "commits"
	}
	if res.Changesets == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	refs := "refs"
	if len(res.RefsUpdated) == 1 {
		refs = "ref"
	}
	fmt.Fprintf(stdout, "%s: %d new %s, %d %s updated in %.1fs (cache %s)\n",
		name, res.Changesets, unit, len(res.RefsUpdated), refs, res.Duration.Seconds(), filepath.Join(j.cache, name))
	for _, u := range res.RefsUpdated {
		old := u.Old
		if old == "" {
			old = "(new)"
		} else {
			old = old[:min(12, len(old))]
		}
		fmt.Fprintf(stdout, "  %s %s -> %s\n", u.Ref, old, u.New[:min(12, len(u.New))])
	}
	return nil
}

func formatWarning(w convert.Warning) string {
	var b strings.Builder
	if w.Rev >= 0 && w.Node != "" {
		fmt.Fprintf(&b, "changeset %d (%s): ", w.Rev, w.Node[:min(12, len(w.Node))])
	}
	if w.Path != "" {
		b.WriteString(w.Path + ": ")
	}
	b.WriteString(w.Message)
	return oneLine(b.String())
}

// oneLine folds a multi-line message (hg's and git's stderr) into one line.
func oneLine(s string) string {
	var parts []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		for _, p := range strings.Split(line, "; ") {
			if p = strings.TrimSpace(p); p != "" && p != ";" {
				parts = append(parts, p)
			}
		}
	}
	return strings.Join(parts, "; ")
}

// isLocalPath reports whether s is a path rather than a URL (scheme:// or
// git's scp-like user@host:path).
func isLocalPath(s string) bool {
	if strings.Contains(s, "://") {
		return false
	}
	if i := strings.Index(s, ":"); i > 0 && !strings.Contains(s[:i], "/") {
		return false
	}
	return true
}

// localAbs makes a local path absolute (a clone's path must not depend on
// the directory hg runs in); URLs are returned as they are.
func localAbs(s string) string {
	if !isLocalPath(s) {
		return s
	}
	if abs, err := filepath.Abs(s); err == nil {
		return abs
	}
	return s
}

// detectSCM says whether a local SOURCE is a Mercurial or a Git
// repository; URLs are taken as Mercurial unless they end in ".git".
func detectSCM(source string) (scm.Kind, error) {
	path := source
	if strings.HasPrefix(source, "file://") {
		path = strings.TrimPrefix(source, "file://")
	} else if !isLocalPath(source) {
		if strings.HasSuffix(strings.TrimRight(source, "/"), ".git") {
			return mirror.SCMGit, nil
		}
		return mirror.SCMHg, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", source, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("source %s: not a directory", source)
	}
	if isDir(filepath.Join(path, ".hg")) {
		return mirror.SCMHg, nil
	}
	if git.IsRepository(path) {
		return mirror.SCMGit, nil
	}
	return "", fmt.Errorf("source %s: not a Mercurial or Git repository", source)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// progress shows conversion progress: a bar on a terminal, a line every 10%
// or 2 seconds otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	bar      *progressbar.ProgressBar
	lastPct  int
	lastTime time.Time
	done     int
	total    int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, lastPct: -1}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) update(done, total int) {
	p.done, p.total = done, total
	if total <= 0 {
		return
	}
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("converting"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("changesets"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		p.bar.Set(done)
		return
	}
	pct := done * 100 / total
	now := time.Now()
	if pct/10 > p.lastPct/10 || now.Sub(p.lastTime) >= 2*time.Second || done == total {
		if done == total && p.lastPct == 100 {
			return
		}
		p.lastPct, p.lastTime = pct, now
		fmt.Fprintf(p.w, "converted %d/%d changesets (%d%%)\n", done, total, pct)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
