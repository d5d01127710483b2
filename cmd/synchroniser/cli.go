package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/synchroniser/synchroniser/internal/convert"
)

// This file holds what the one-shot subcommands (mirror, convert, adopt)
// share: their command line, logger and reports (local paths: paths.go).

// newFlagSet is a subcommand's flag set: parse errors are the caller's to
// report in one line, and -h prints nothing by itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses args with fs, flags before and after the operands, and
// returns the operands; flag.ErrHelp for -h.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return operands, nil
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
}

// parseOperands is parseArgs for a command that goes on only when ok: after
// -h it prints usage and fs's flags on stdout (code 0), after a mistake it
// returns usageErr's code.
func parseOperands(fs *flag.FlagSet, args []string, usage string, stdout io.Writer, usageErr func(format string, a ...any) int) (operands []string, code int, ok bool) {
	operands, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, usage, fs)
		return nil, 0, false
	case err != nil:
		return nil, usageErr("%v", err), false
	}
	return operands, 0, true
}

// printHelp prints a subcommand's usage text and its flags' defaults.
func printHelp(w io.Writer, usage string, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// stepLogger is a one-shot command's logger: each step on w with
// --verbose, nothing otherwise.
func stepLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelError + 100 // nothing
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// writeJSON writes a --json report, indented.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// settingsFlags are the hg-git options `convert` and `mirror` share.
type settingsFlags struct {
	authors, suffix, hggit string
	reauthor               bool
}

func (s *settingsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.authors, "authors", "", "hg-git authors `file` (lines \"hg user = Git Name <email>\"), as git.authors")
	fs.StringVar(&s.suffix, "branch-bookmark-suffix", "", "a bookmark NAME`suffix` becomes the branch NAME, as git.branch_bookmark_suffix")
	fs.StringVar(&s.hggit, "hggit", "1.0", "hg-git output `level`: 1.0 or 1.1 (1.1 adds .gitmodules beside gitlinks)")
	fs.BoolVar(&s.reauthor, "reauthor", false, "go on with an authors file other than the recorded one (forks the history)")
}

// resolve loads the authors file and checks the level.
func (s *settingsFlags) resolve() (convert.Settings, error) {
	out := convert.Settings{BranchBookmarkSuffix: s.suffix, HgGit: s.hggit, AllowAuthorsChange: s.reauthor}
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("--hggit %q: want 1.0 or 1.1", s.hggit)
	}
	if strings.ContainsAny(s.suffix, "\n\r\x00") {
		return out, fmt.Errorf("--branch-bookmark-suffix: no newlines or NUL")
	}
	if s.authors != "" {
		a, err := convert.LoadAuthors(s.authors)
		if err != nil {
			return out, err
		}
		out.Authors = a
	}
	return out, nil
}

// formatWarnings gives each warning of a conversion in one line: where
// (changeset, path) and what. The result is never nil (a JSON array).
func formatWarnings(ws []convert.Warning) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, formatWarning(w))
	}
	return out
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
