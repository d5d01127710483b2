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
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/mirror"
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

// mirrorFlags are the flags of `synchroniser mirror`.
type mirrorFlags struct {
	scm, name, cache, tipBranch, converter, tokenEnv, sshKey, knownHosts string
	refs                                                                 stringList
	namedBranches, noTags, force, jsonOut, quiet, verbose                bool
	timeout                                                              time.Duration
	// Living sources (issue 10).
	layout, phases, rewrites                                   string
	wildHeads, prune                                           bool
	sourceUser, sourceTokenEnv, sourceSSHKey, sourceKnownHosts string
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// mirrorReport is the --json output.
type mirrorReport struct {
	Mirror      string             `json:"mirror"`
	Changesets  int                `json:"changesets"`
	RefsUpdated []mirror.RefUpdate `json:"refs_updated"`
	Refs        []mirror.RefStatus `json:"refs"`    // every ref: origin, Git value, state
	Refused     []string           `json:"refused"` // refs refused (diverged): the sync failed
	Seconds     float64            `json:"seconds"`
	Warnings    []string           `json:"warnings"`
	Cache       string             `json:"cache"`
	MapFile     string             `json:"map_file,omitempty"`
}

func runMirror(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f mirrorFlags
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	// Parse errors are reported in one line below; -h prints the usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&f.scm, "scm", "", "source `kind`: hg or git (default: detected for local paths, hg for URLs)")
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
	fs.StringVar(&f.layout, "layout", mirror.LayoutHgGit, "ref `layout`: hg-git or heptapod (branch/NAME, topic/BRANCH/TOPIC, wild/NODE)")
	fs.StringVar(&f.phases, "phases", mirror.PhasesAll, "export `phases`: all (every visible non-secret changeset) or public")
	fs.BoolVar(&f.wildHeads, "wild-heads", false, "push heads no ref reaches as refs/heads/wild/NODE")
	fs.StringVar(&f.rewrites, "rewrites", mirror.RewritesMarkers, "non-fast-forward `policy`: markers (follow rewrites the source's obsolescence markers prove) or refuse")
	fs.BoolVar(&f.prune, "prune", false, "delete refs this mirror pushed that the source no longer has")
	fs.StringVar(&f.sourceUser, "source-user", "", "user `name` for a private HTTPS source")
	fs.StringVar(&f.sourceTokenEnv, "source-token-env", "", "read a private HTTPS source's token from environment `variable`")
	fs.StringVar(&f.sourceSSHKey, "source-ssh-key", "", "SSH private key `file` for an ssh:// source")
	fs.StringVar(&f.sourceKnownHosts, "source-known-hosts", "", "known_hosts `file` for an ssh:// source (required with --source-ssh-key)")

	// Flags may come before and after the operands.
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, mirrorUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return 0
			}
			fmt.Fprintf(stderr, "synchroniser: mirror: %v\n", err)
			fmt.Fprintln(stderr, "usage: synchroniser mirror [flags] SOURCE DEST (see synchroniser mirror -h)")
			return 2
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "synchroniser: mirror: "+format+"\n", a...)
		fmt.Fprintln(stderr, "usage: synchroniser mirror [flags] SOURCE DEST (see synchroniser mirror -h)")
		return 2
	}
	if len(operands) != 2 {
		return usageErr("want SOURCE and DEST, have %d operand(s)", len(operands))
	}
	source, dest := operands[0], operands[1]
	if source == "" || dest == "" {
		return usageErr("SOURCE and DEST must not be empty")
	}
	switch f.scm {
	case "", mirror.SCMHg, mirror.SCMGit:
	default:
		return usageErr("--scm %q: want hg or git", f.scm)
	}
	if f.name != "" && !mirror.ValidName(f.name) {
		return usageErr("--name %q: want letters, digits, '.', '_' or '-'", f.name)
	}
	if f.timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	for _, c := range []struct {
		flag, v string
		ok      []string
	}{{"layout", f.layout, mirror.Layouts}, {"phases", f.phases, mirror.PhaseModes}, {"rewrites", f.rewrites, mirror.RewriteModes}} {
		if !slices.Contains(c.ok, c.v) {
			return usageErr("--%s %q: want %s", c.flag, c.v, strings.Join(c.ok, " or "))
		}
	}
	if (f.sourceSSHKey == "") != (f.sourceKnownHosts == "") {
		return usageErr("--source-ssh-key and --source-known-hosts go together (unknown host keys are refused)")
	}
	if f.sourceTokenEnv != "" && f.sourceUser == "" {
		return usageErr("--source-token-env needs --source-user (HTTP Basic sends both)")
	}
	for _, p := range []*string{&f.sshKey, &f.knownHosts, &f.sourceSSHKey, &f.sourceKnownHosts} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return usageErr("%v", err)
			}
			*p = abs
		}
	}
	hgRunner := &hg.Runner{}
	var conv mirror.Converter
	switch f.converter {
	case "native":
		conv = &convert.Native{}
	case "hg-git", "hggit":
		conv = &hggit.Converter{Runner: hgRunner}
	default:
		return usageErr("--converter %q: want native or hg-git", f.converter)
	}
	var token string
	if f.tokenEnv != "" {
		token = os.Getenv(f.tokenEnv)
		if token == "" {
			return usageErr("--token-env: environment variable %s is empty or not set", f.tokenEnv)
		}
	}
	var sourceToken string
	if f.sourceTokenEnv != "" {
		sourceToken = os.Getenv(f.sourceTokenEnv)
		if sourceToken == "" {
			return usageErr("--source-token-env: environment variable %s is empty or not set", f.sourceTokenEnv)
		}
	}
	failed := func(err error) int {
		fmt.Fprintf(stderr, "synchroniser: %s\n", oneLine(err.Error()))
		return 1
	}

	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	if f.scm == "" {
		scm, err := detectSCM(source)
		if err != nil {
			return failed(err)
		}
		f.scm = scm
	}
	source = localAbs(source)
	if isLocalPath(dest) {
		abs, err := ensureBareRepo(ctx, dest)
		if err != nil {
			return failed(err)
		}
		dest = abs
	}
	cache := f.cache
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return usageErr("no cache directory (set --cache): %v", err)
		}
		cache = filepath.Join(dir, "synchroniser")
	}
	cache, err := filepath.Abs(cache)
	if err != nil {
		return failed(err)
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
		SCM:    f.scm,
		Source: source,
		SourceAuth: mirror.SourceAuth{User: f.sourceUser, Token: sourceToken,
			SSHKey: f.sourceSSHKey, KnownHosts: f.sourceKnownHosts},
		Dest: mirror.Destination{URL: dest, Token: token, SSHKey: f.sshKey, KnownHosts: f.knownHosts},
		Policy: mirror.RefPolicy{
			TipBranch:     f.tipBranch,
			Refs:          f.refs,
			NamedBranches: f.namedBranches,
			Tags:          !f.noTags,
			Force:         f.force,
			Layout:        f.layout,
			Phases:        f.phases,
			WildHeads:     f.wildHeads,
			Rewrites:      f.rewrites,
			Prune:         f.prune,
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
	var prog *progress
	if !f.quiet {
		prog = newProgress(stderr)
	}
	opts := mirror.SyncOptions{}
	if prog != nil {
		opts.Progress = prog.update
	}
	res, err := s.Sync(ctx, m, opts)
	if prog != nil {
		prog.finish()
	}
	if err != nil && res == nil {
		return failed(err)
	}
	// A sync that refused refs pushed the others: report, then fail
	// naming each refused ref.
	refused := res.Refused()
	exit := 0
	if err != nil {
		exit = 1
	}
	refusedNames := make([]string, 0, len(refused))
	for _, r := range refused {
		refusedNames = append(refusedNames, r.Ref)
	}
	reportRefused := func() int {
		for _, r := range refused {
			fmt.Fprintf(stderr, "synchroniser: refused %s (%s %s): %s\n", r.Ref, r.Origin, r.Name, oneLine(r.Detail))
		}
		if exit != 0 && len(refused) == 0 {
			return failed(err)
		}
		return exit
	}
	if isLocalPath(dest) && len(res.RefsUpdated) > 0 {
		if err := fixHead(ctx, s.Git, dest, f.tipBranch); err != nil {
			return failed(err)
		}
	}
	mapFile := ""
	if p := convert.MapPath(s.HgRoot(name)); m.SCM == mirror.SCMHg && fileExists(p) {
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
			Refs:        res.Refs,
			Refused:     refusedNames,
			Seconds:     res.Duration.Seconds(),
			Warnings:    warnings,
			Cache:       filepath.Join(cache, name),
			MapFile:     mapFile,
		}
		if rep.RefsUpdated == nil {
			rep.RefsUpdated = []mirror.RefUpdate{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if rep.Refs == nil {
			rep.Refs = []mirror.RefStatus{}
		}
		if err := enc.Encode(rep); err != nil {
			return failed(err)
		}
		return reportRefused()
	}
	if f.quiet {
		return reportRefused()
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	unit := "changesets"
	if m.SCM == mirror.SCMGit {
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
		name, res.Changesets, unit, len(res.RefsUpdated), refs, res.Duration.Seconds(), filepath.Join(cache, name))
	for _, u := range res.RefsUpdated {
		old, new := "(new)", "(deleted)"
		if !u.Old.IsZero() {
			old = u.Old.String()[:12]
		}
		if !u.New.IsZero() {
			new = u.New.String()[:12]
		}
		note := ""
		if u.Rewritten {
			note = " (rewritten)"
		}
		fmt.Fprintf(stdout, "  %s %s -> %s%s\n", u.Ref, old, new, note)
	}
	return reportRefused()
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
func detectSCM(source string) (string, error) {
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
	if isDir(filepath.Join(path, ".git")) || isBareRepo(path) {
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

func isBareRepo(p string) bool {
	_, err := os.Stat(filepath.Join(p, "HEAD"))
	return err == nil && isDir(filepath.Join(p, "objects")) && isDir(filepath.Join(p, "refs"))
}

// ensureBareRepo returns path made absolute, creating a bare repository
// there when nothing exists at path. The repository is made under a
// temporary name and renamed into place, so a concurrent run never sees it
// half made. An existing path must be a Git repository (bare or not).
func ensureBareRepo(ctx context.Context, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".init-")
		if err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		defer os.RemoveAll(tmp) // gone once renamed
		if err := git.Init(ctx, tmp, true); err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		if err := os.Chmod(tmp, 0o755); err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		// Renaming onto a directory another run made first fails: theirs is kept.
		os.Rename(tmp, abs)
	}
	if !isBareRepo(abs) && !isDir(filepath.Join(abs, ".git")) {
		return "", fmt.Errorf("destination %s: exists and is not a Git repository", path)
	}
	return abs, nil
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

// fixHead points the HEAD of the local repository gitDir at a branch that
// exists when it names none (a fresh repository's HEAD is refs/heads/master,
// the mirror may have pushed only main or bookmarks): the tip branch if
// pushed, else the first branch.
func fixHead(ctx context.Context, g *git.Runner, gitDir, tipBranch string) error {
	r := *g
	r.AllowFile = true
	refs, err := r.Refs(ctx, gitDir)
	if err != nil {
		return fmt.Errorf("destination %s: %w", gitDir, err)
	}
	out, err := r.Run(ctx, gitDir, "--git-dir="+gitDir, "symbolic-ref", "-q", "HEAD")
	if err != nil {
		return nil // detached or unreadable HEAD: not ours to change
	}
	if _, ok := refs[strings.TrimSpace(string(out))]; ok {
		return nil
	}
	target := ""
	if _, ok := refs["refs/heads/"+tipBranch]; ok {
		target = "refs/heads/" + tipBranch
	} else {
		for ref := range refs {
			if strings.HasPrefix(ref, "refs/heads/") && (target == "" || ref < target) {
				target = ref
			}
		}
	}
	if target == "" {
		return nil
	}
	if _, err := r.Run(ctx, gitDir, "--git-dir="+gitDir, "symbolic-ref", "HEAD", target); err != nil {
		return fmt.Errorf("destination %s: set HEAD: %w", gitDir, err)
	}
	return nil
}
