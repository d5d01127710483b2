package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	// Living sources (issue 10).
	layout, phases, rewrites, transport                        string
	wildHeads, prune                                           bool
	sourceUser, sourceTokenEnv, sourceSSHKey, sourceKnownHosts string

	// Set by parseMirrorFlags, not flags.
	source, dest string // the operands
	token        string // read from the environment variable --token-env names

	// hg-git's options (--authors, --branch-bookmark-suffix, --hggit,
	// --reauthor; cli.go), and what they resolve to.
	settings    settingsFlags
	resolved    convert.Settings
	sourceToken string // read from the environment variable --source-token-env names
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
	fs.StringVar(&f.transport, "transport", string(mirror.TransportNative), "Mercurial `transport`: native (wire protocol in Go, hg as the fallback) or hg")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	fs.StringVar(&f.tokenEnv, "token-env", "", "read the destination's HTTPS token from environment `variable`")
	fs.StringVar(&f.sshKey, "ssh-key", "", "SSH private key `file` for an ssh destination")
	fs.StringVar(&f.knownHosts, "known-hosts", "", "known_hosts `file` for an ssh destination")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress and no summary")
	fs.BoolVar(&f.verbose, "verbose", false, "log each step to stderr")
	fs.DurationVar(&f.timeout, "timeout", 6*time.Hour, "give up after this `duration`")
	f.settings.register(fs)
	fs.StringVar(&f.layout, "layout", mirror.LayoutHgGit, "ref `layout`: hg-git or heptapod (branch/NAME, topic/BRANCH/TOPIC, wild/NODE)")
	fs.StringVar(&f.phases, "phases", mirror.PhasesAll, "export `phases`: all (every visible non-secret changeset) or public")
	fs.BoolVar(&f.wildHeads, "wild-heads", false, "push heads no ref reaches as refs/heads/wild/NODE")
	fs.StringVar(&f.rewrites, "rewrites", mirror.RewritesMarkers, "non-fast-forward `policy`: markers (follow rewrites the source's obsolescence markers prove) or refuse")
	fs.BoolVar(&f.prune, "prune", false, "delete refs this mirror pushed that the source no longer has")
	fs.StringVar(&f.sourceUser, "source-user", "", "user `name` for a private HTTPS source")
	fs.StringVar(&f.sourceTokenEnv, "source-token-env", "", "read a private HTTPS source's token from environment `variable`")
	fs.StringVar(&f.sourceSSHKey, "source-ssh-key", "", "SSH private key `file` for an ssh:// source")
	fs.StringVar(&f.sourceKnownHosts, "source-known-hosts", "", "known_hosts `file` for an ssh:// source (required with --source-ssh-key)")
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
	Steps       []mirror.Step      `json:"steps"` // {"name": "pull", "seconds": 1.2}, then convert and push
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
		fs := newFlagSet("mirror")
		new(mirrorFlags).define(fs)
		printHelp(stdout, mirrorUsage, fs)
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
	if f.converter == "native" {
		setMemoryLimit(syncMemoryLimit(0, 1)) // one sync, the converter's default bound
	}
	res, err := j.run(ctx, f.quiet, stderr)
	if err != nil && res == nil {
		return mirrorExit(stderr, err)
	}
	if rerr := j.report(res, f, stdout, stderr); rerr != nil {
		return mirrorExit(stderr, rerr)
	}
	// Refs refused: the others were pushed and reported; fail naming each.
	for _, r := range res.Refused() {
		fmt.Fprintf(stderr, "synchroniser: refused %s (%s %s): %s\n", r.Ref, r.Origin, r.Name, oneLine(r.Detail))
	}
	return mirrorExit(stderr, err)
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
	fs := newFlagSet("mirror")
	f.define(fs)
	operands, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		return nil, mirrorUsageErr("%v", err)
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
	for _, c := range []struct {
		flag, v string
		ok      []string
	}{{"layout", f.layout, mirror.Layouts}, {"phases", f.phases, mirror.PhaseModes}, {"rewrites", f.rewrites, mirror.RewriteModes},
		{"transport", f.transport, mirror.Transports}} {
		if !slices.Contains(c.ok, c.v) {
			return nil, mirrorUsageErr("--%s %q: want %s", c.flag, c.v, strings.Join(c.ok, " or "))
		}
	}
	if (f.sourceSSHKey == "") != (f.sourceKnownHosts == "") {
		return nil, mirrorUsageErr("--source-ssh-key and --source-known-hosts go together (unknown host keys are refused)")
	}
	if f.sourceTokenEnv != "" && f.sourceUser == "" {
		return nil, mirrorUsageErr("--source-token-env needs --source-user (HTTP Basic sends both)")
	}
	for _, p := range []*string{&f.sshKey, &f.knownHosts, &f.sourceSSHKey, &f.sourceKnownHosts} {
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
	if f.sourceTokenEnv != "" {
		f.sourceToken = os.Getenv(f.sourceTokenEnv)
		if f.sourceToken == "" {
			return nil, mirrorUsageErr("--source-token-env: environment variable %s is empty or not set", f.sourceTokenEnv)
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
		var err error
		if cache, err = userCacheDir(); err != nil {
			return nil, mirrorUsageErr("no cache directory (set --cache): %v", err)
		}
	}
	cache, err := filepath.Abs(cache)
	if err != nil {
		return nil, err
	}
	name := f.name
	if name == "" {
		name = mirror.NameFor(source)
	}

	logger := stepLogger(stderr, f.verbose)

	m := mirror.Mirror{
		Name:   name,
		SCM:    kind,
		Source: source,
		SourceAuth: mirror.SourceAuth{User: f.sourceUser, Token: f.sourceToken,
			SSHKey: f.sourceSSHKey, KnownHosts: f.sourceKnownHosts},
		Dest: mirror.Destination{URL: dest, Token: f.token, SSHKey: f.sshKey, KnownHosts: f.knownHosts},
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
	return &mirrorJob{m: m, s: s, opts: mirror.SyncOptions{Settings: f.resolved, Transport: mirror.Transport(f.transport)}, cache: cache}, nil
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
	if res == nil {
		return nil, err
	}
	// With refs refused (err set) the others were pushed: res reports all.
	if dest := j.m.Dest.URL; isLocalPath(dest) && len(res.RefsUpdated) > 0 {
		if herr := j.s.Git.FixHead(ctx, dest, j.m.Policy.TipBranch); herr != nil {
			return nil, herr
		}
	}
	return res, err
}

// report prints the result: JSON with --json, else (unless --quiet) the
// warnings on stderr and a summary with the updated refs on stdout.
func (j *mirrorJob) report(res *mirror.Result, f *mirrorFlags, stdout, stderr io.Writer) error {
	name := j.m.Name
	mapFile := ""
	if p := convert.MapPath(j.s.HgRoot(name)); j.m.SCM == scm.Hg && fileExists(p) {
		mapFile = p // an empty repository has none
	}
	warnings := formatWarnings(res.Warnings)
	if f.jsonOut {
		rep := mirrorReport{
			Mirror:      name,
			Changesets:  res.Changesets,
			RefsUpdated: res.RefsUpdated,
			Refs:        res.Refs,
			Refused:     []string{},
			Seconds:     res.Duration.Seconds(),
			Steps:       res.Steps,
			Warnings:    warnings,
			Cache:       filepath.Join(j.cache, name),
			MapFile:     mapFile,
		}
		if rep.RefsUpdated == nil {
			rep.RefsUpdated = []mirror.RefUpdate{}
		}
		if rep.Refs == nil {
			rep.Refs = []mirror.RefStatus{}
		}
		if rep.Steps == nil {
			rep.Steps = []mirror.Step{}
		}
		for _, r := range res.Refused() {
			rep.Refused = append(rep.Refused, r.Ref)
		}
		return writeJSON(stdout, rep)
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
	return nil
}
