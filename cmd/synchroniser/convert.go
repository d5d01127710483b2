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
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		converter      string
		jsonOut, quiet bool
		verbose        bool
		timeout        time.Duration
	)
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&converter, "converter", "native", "conversion `backend`: native or hg-git")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&quiet, "quiet", false, "no progress and no summary")
	fs.BoolVar(&verbose, "verbose", false, "log each step to stderr")
	fs.DurationVar(&timeout, "timeout", 6*time.Hour, "give up after this `duration`")

	const usageLine = "usage: synchroniser convert [--converter native|hg-git] [--json] [--quiet] HGROOT (see synchroniser convert -h)"
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "synchroniser: convert: "+format+"\n", a...)
		fmt.Fprintln(stderr, usageLine)
		return 2
	}
	// Flags may come before and after the operand.
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, convertUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return 0
			}
			return usageErr("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
	if len(operands) != 1 || operands[0] == "" {
		return usageErr("want one HGROOT, have %d operand(s)", len(operands))
	}
	if timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	hgRunner := &hg.Runner{}
	var conv mirror.Converter
	switch converter {
	case "native":
		conv = &convert.Native{}
	case "hg-git", "hggit":
		conv = &hggit.Converter{Runner: hgRunner}
	default:
		return usageErr("--converter %q: want native or hg-git", converter)
	}
	failed := func(err error) int {
		fmt.Fprintf(stderr, "synchroniser: convert: %s\n", strings.TrimPrefix(oneLine(err.Error()), "convert: "))
		return 1
	}

	root, err := filepath.Abs(operands[0])
	if err != nil {
		return failed(err)
	}
	if err := checkHgRoot(operands[0], root); err != nil {
		return failed(err)
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	logLevel := slog.LevelError + 100 // nothing
	if verbose {
		logLevel = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	var prog *progress
	if !quiet {
		prog = newProgress(stderr)
	}
	opts := convert.Options{Logger: logger.With("repo", root)}
	if prog != nil {
		opts.Progress = prog.update
	}
	start := time.Now()
	res, err := conv.Convert(ctx, root, opts)
	elapsed := time.Since(start)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		if ctx.Err() != nil && res != nil {
			// The native converter checkpoints before giving up: say how far it got.
			return failed(fmt.Errorf("%w (%d changesets converted and kept; run again to continue)", err, res.Converted))
		}
		return failed(err)
	}
	warnings := make([]string, 0, len(res.Warnings))
	for _, w := range res.Warnings {
		warnings = append(warnings, formatWarning(w))
	}
	if jsonOut {
		rep := convertReport{
			Changesets: res.Converted,
			Total:      res.Total,
			Seconds:    elapsed.Seconds(),
			Bookmarks:  res.Bookmarks,
			Tags:       len(res.Tags),
			Tip:        res.Tip,
			Warnings:   warnings,
			GitDir:     convert.GitDir(root),
			MapFile:    convert.MapPath(root),
		}
		if rep.Bookmarks == nil {
			rep.Bookmarks = map[string]string{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return failed(err)
		}
		return 0
	}
	if quiet {
		return 0
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	unit := "changesets"
	if res.Converted == 1 {
		unit = "changeset"
	}
	fmt.Fprintf(stdout, "%s: %d new %s converted (%d in total), %d bookmarks, %d tags in %.1fs (git %s)\n",
		operands[0], res.Converted, unit, res.Total, len(res.Bookmarks), len(res.Tags), elapsed.Seconds(), convert.GitDir(root))
	return 0
}

// checkHgRoot says, in one line, why path (abs made absolute) is not the
// root of a Mercurial repository, before a converter creates anything in it.
func checkHgRoot(path, abs string) error {
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", path)
	}
	if !isDir(filepath.Join(abs, ".hg")) {
		return fmt.Errorf("%s: not a Mercurial repository (no .hg directory)", path)
	}
	return nil
}
