package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/mirror"
)

func init() {
	commands["convert"] = command{"convert a local Mercurial repository in place (hg gexport)", runConvert}
}

const convertUsage = `usage: synchroniser convert [flags] HGROOT

Converts the Mercurial repository at HGROOT to Git in place, where hg-git
keeps its work: the bare repository HGROOT/.hg/git and the map
HGROOT/.hg/git-mapfile (lines "<git sha> <hg node>"). Only changesets not
in the map are converted, so a second run continues the first, and either
converter continues the other's work. Bookmarks become refs/heads/<name>
and global tags refs/tags/<name> in HGROOT/.hg/git, as with hg gexport.

Flags:
`

// convertReport is the --json output of `synchroniser convert`.
type convertReport struct {
	Changesets int               `json:"changesets"` // converted by this run
	Total      int               `json:"total"`      // changesets in the repository
	Seconds    float64           `json:"seconds"`
	Bookmarks  map[string]string `json:"bookmarks"` // bookmark → git sha
	Tags       int               `json:"tags"`      // global tags with a git ref
	Tip        string            `json:"tip"`       // git sha of tip, "" when empty
	Warnings   []string          `json:"warnings"`
	GitDir     string            `json:"git_dir"`
	MapFile    string            `json:"map_file"`
	Settings   convert.Record    `json:"settings"` // what the map's commits were made with
}

// convertFlags are the flags and operand of `synchroniser convert`.
type convertFlags struct {
	converter      string
	jsonOut, quiet bool
	verbose        bool
	timeout        time.Duration
	memory         string // --memory, as given ("" = the converter's default)
	settings       settingsFlags
	root           string // the operand as given
}

// convertJob is a parsed command line made ready to run.
type convertJob struct {
	f      convertFlags
	root   string // absolute
	conv   mirror.Converter
	opts   convert.Options
	prog   *progress
	logger *slog.Logger
	memory int64 // the native converter's bound (0 for hg-git)
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseConvert(args, stdout, stderr)
	if !ok {
		return code
	}
	job, err := buildConvert(f, stderr)
	if err != nil {
		return convertFailed(stderr, err)
	}
	// The conversion is this process's only work: let the garbage
	// collector keep it within the converter's bound (unless GOMEMLIMIT
	// says otherwise).
	if job.memory > 0 {
		setMemoryLimit(job.memory * 7 / 8)
	}
	res, elapsed, err := job.run(ctx)
	if err != nil {
		return convertFailed(stderr, err)
	}
	if err := reportConvert(job, res, elapsed, stdout, stderr); err != nil {
		return convertFailed(stderr, err)
	}
	return 0
}

const convertUsageLine = "usage: synchroniser convert [--converter native|hg-git] [--authors FILE] [--hggit 1.0|1.1] [--json] [--quiet] HGROOT (see synchroniser convert -h)"

// convertUsageErr reports a bad command line: exit status 2.
func convertUsageErr(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "synchroniser: convert: "+format+"\n", a...)
	fmt.Fprintln(stderr, convertUsageLine)
	return 2
}

// convertFailed reports a failed conversion in one line: exit status 1.
func convertFailed(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "synchroniser: convert: %s\n", strings.TrimPrefix(oneLine(err.Error()), "convert: "))
	return 1
}

// parseConvert reads the command line; when ok is false the command ends
// with code (0 after -h, 2 on a usage error).
func parseConvert(args []string, stdout, stderr io.Writer) (f convertFlags, code int, ok bool) {
	fs := newFlagSet("convert")
	fs.StringVar(&f.converter, "converter", "native", "conversion `backend`: native or hg-git")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress and no summary")
	fs.BoolVar(&f.verbose, "verbose", false, "log each step to stderr")
	fs.DurationVar(&f.timeout, "timeout", 6*time.Hour, "give up after this `duration`")
	fs.StringVar(&f.memory, "memory", "", "bound the native conversion's memory to this `size` (e.g. 64MiB; default 256MiB, as [convert] memory)")
	f.settings.register(fs)

	operands, code, ok := parseOperands(fs, args, convertUsage, stdout, func(format string, a ...any) int {
		return convertUsageErr(stderr, format, a...)
	})
	if !ok {
		return f, code, false
	}
	if len(operands) != 1 || operands[0] == "" {
		return f, convertUsageErr(stderr, "want one HGROOT, have %d operand(s)", len(operands)), false
	}
	if f.timeout <= 0 {
		return f, convertUsageErr(stderr, "--timeout must be positive"), false
	}
	if f.memory != "" {
		if _, err := config.ParseSize(f.memory); err != nil {
			return f, convertUsageErr(stderr, "--memory: %v", err), false
		}
	}
	switch f.converter {
	case "native", "hg-git", "hggit":
	default:
		return f, convertUsageErr(stderr, "--converter %q: want native or hg-git", f.converter), false
	}
	switch f.settings.hggit {
	case convert.HgGit10, convert.HgGit11:
	default:
		return f, convertUsageErr(stderr, "--hggit %q: want 1.0 or 1.1", f.settings.hggit), false
	}
	f.root = operands[0]
	return f, 0, true
}

// buildConvert checks the repository and makes the converter, its options
// and the progress display; nothing is created in the repository yet.
func buildConvert(f convertFlags, stderr io.Writer) (*convertJob, error) {
	root, err := filepath.Abs(f.root)
	if err != nil {
		return nil, err
	}
	if err := checkHgRoot(f.root, root); err != nil {
		return nil, err
	}
	settings, err := f.settings.resolve()
	if err != nil {
		return nil, err
	}
	j := &convertJob{f: f, root: root}
	switch f.converter {
	case "native":
		n := &convert.Native{Memory: convert.DefaultMemory}
		if f.memory != "" {
			m, _ := config.ParseSize(f.memory) // checked by parseConvert
			n.Memory = max(int64(m), convert.MinMemory)
		}
		j.conv, j.memory = n, n.Memory
	default:
		j.conv = &hggit.Converter{Runner: &hg.Runner{}}
	}
	j.logger = stepLogger(stderr, f.verbose)
	j.opts = convert.Options{Logger: j.logger.With("repo", root), Settings: settings}
	if !f.quiet {
		j.prog = newProgress(stderr)
		j.opts.Progress = j.prog.update
	}
	return j, nil
}

// run converts, within the timeout.
func (j *convertJob) run(ctx context.Context) (*convert.Result, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, j.f.timeout)
	defer cancel()
	start := time.Now()
	res, err := j.conv.Convert(ctx, j.root, j.opts)
	elapsed := time.Since(start)
	if j.prog != nil {
		j.prog.finish()
	}
	if err != nil && ctx.Err() != nil && res != nil {
		// The native converter checkpoints before giving up: say how far it got.
		err = fmt.Errorf("%w (%d changesets converted and kept; run again to continue)", err, res.Converted)
	}
	return res, elapsed, err
}

// reportConvert prints the result: JSON, or warnings and a summary line.
func reportConvert(j *convertJob, res *convert.Result, elapsed time.Duration, stdout, stderr io.Writer) error {
	warnings := formatWarnings(res.Warnings)
	if j.f.jsonOut {
		rep := convertReport{
			Changesets: res.Converted,
			Total:      res.Total,
			Seconds:    elapsed.Seconds(),
			Bookmarks:  res.Bookmarks,
			Tags:       len(res.Tags),
			Tip:        res.Tip,
			Warnings:   warnings,
			GitDir:     convert.GitDir(j.root),
			MapFile:    convert.MapPath(j.root),
			Settings:   res.Record,
		}
		if rep.Bookmarks == nil {
			rep.Bookmarks = map[string]string{}
		}
		if rep.Settings.HgGit == "" {
			rep.Settings.HgGit = j.opts.Settings.Level()
		}
		return writeJSON(stdout, rep)
	}
	if j.f.quiet {
		return nil
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	unit := "changesets"
	if res.Converted == 1 {
		unit = "changeset"
	}
	fmt.Fprintf(stdout, "%s: %d new %s converted (%d in total), %d bookmarks, %d tags in %.1fs (git %s)\n",
		j.f.root, res.Converted, unit, res.Total, len(res.Bookmarks), len(res.Tags), elapsed.Seconds(), convert.GitDir(j.root))
	return nil
}
