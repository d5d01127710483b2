package hg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/command"
)

// Defaults for Runner.
const (
	DefaultTimeout   = 30 * time.Minute
	DefaultMaxOutput = 64 << 20
	maxErrStderr     = 4 << 10 // stderr kept in an Error: its end, where hg says why
)

// ErrNotInstalled is returned (wrapped, together with exec.ErrNotFound)
// when the hg program cannot be found.
var ErrNotInstalled = errors.New("hg: the hg program is not installed or not in PATH")

// ErrOutputTooLarge is returned when a command writes more than
// Runner.MaxOutput bytes to stdout.
var ErrOutputTooLarge = command.ErrOutputTooLarge

// Runner runs the hg program safely: no shell, HGPLAIN=1, an empty
// HGRCPATH (no user or system configuration), non-interactive, `--` before
// positional arguments, a timeout and bounded output. Errors carry hg's
// stderr with credentials in URLs redacted. The zero value is usable.
type Runner struct {
	Path      string        // hg executable; "" = "hg" from PATH
	Timeout   time.Duration // per command; 0 = DefaultTimeout (the context may be shorter)
	MaxOutput int64         // stdout bytes kept; 0 = DefaultMaxOutput
	// Env is the environment besides the variables Runner sets; nil means
	// PATH, HOME and TMPDIR of this process (ssh needs HOME for its keys).
	Env []string
	// Config holds extra "section.name=value" settings passed as --config
	// (for example "ui.ssh=ssh -i /path/key -o BatchMode=yes").
	Config []string
	Logger *slog.Logger // nil = no logging
}

// Clone clones source into dest without a working copy (hg clone --noupdate).
// A source or destination that hg could read as an option is refused
// (KindNotFound: no repository has that name here).
func (r *Runner) Clone(ctx context.Context, source, dest string) error {
	if err := checkPositional("clone", source, dest); err != nil {
		return err
	}
	_, err := r.run(ctx, "", "clone", "--noupdate", "--", source, dest)
	return err
}

// Pull pulls everything new from source into the repository at repo.
func (r *Runner) Pull(ctx context.Context, repo, source string) error {
	abs, err := filepath.Abs(repo)
	if err != nil {
		return fmt.Errorf("hg: pull: %w", err)
	}
	if err := checkPositional("pull", source); err != nil {
		return err
	}
	_, err = r.run(ctx, abs, "pull", "--repository", abs, "--", source)
	return err
}

// Recover rolls back an interrupted transaction in the repository at repo
// (hg recover).
func (r *Runner) Recover(ctx context.Context, repo string) error {
	abs, err := filepath.Abs(repo)
	if err != nil {
		return fmt.Errorf("hg: recover: %w", err)
	}
	_, err = r.run(ctx, abs, "recover", "--repository", abs)
	return err
}

// GitExport exports the repository at repo's changesets to its Git
// repository with hg-git (hg gexport, the hggit extension enabled for the
// command).
func (r *Runner) GitExport(ctx context.Context, repo string) error {
	abs, err := filepath.Abs(repo)
	if err != nil {
		return fmt.Errorf("hg: gexport: %w", err)
	}
	_, err = r.run(ctx, abs, "--config", "extensions.hggit=", "--repository", abs, "gexport")
	return err
}

var versionRE = regexp.MustCompile(`\(version ([^)\s]+)\)`)

// Version returns the installed Mercurial's version, e.g. "6.3.2".
func (r *Runner) Version(ctx context.Context) (string, error) {
	out, err := r.run(ctx, "", "version", "--quiet")
	if err != nil {
		return "", err
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("hg: version: unexpected output %q", truncate(string(out), 200))
	}
	return string(m[1]), nil
}

// run runs hg with args in dir ("" = current directory) and returns its
// stdout. The caller must put "--" before positional arguments that may
// come from outside.
func (r *Runner) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	path := r.Path
	if path == "" {
		path = "hg"
	}
	full := make([]string, 0, len(args)+2*len(r.Config)+8)
	full = append(full, "--noninteractive", "--pager=never",
		"--config", "ui.interactive=false",
		"--config", "ui.merge=internal:fail")
	for _, c := range r.Config {
		full = append(full, "--config", c)
	}
	full = append(full, args...)

	redacted := redactArgs(args)
	maxOut := r.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultMaxOutput
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	res, err := command.Run(ctx, command.Cmd{
		Path:      path,
		Args:      full,
		Dir:       dir,
		Env:       r.environ(),
		Timeout:   timeout,
		MaxOutput: maxOut,
		MaxStderr: maxErrStderr,
		Logger:    r.Logger,
	})
	if errors.Is(err, command.ErrOutputTooLarge) {
		return nil, &Error{Args: redacted, Err: err, ExitCode: res.ExitCode}
	}
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) && res.ExitCode < 0 && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%w)", ErrNotInstalled, err)
		}
		return nil, &Error{Args: redacted, Err: err, Stderr: res.Stderr, ExitCode: res.ExitCode, Kind: kindOf(err, res.Stderr)}
	}
	return res.Stdout, nil
}

func (r *Runner) environ() []string {
	env := r.Env
	if env == nil {
		for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HGPLAIN", "HGPLAINEXCEPT", "HGRCPATH", "HGENCODING", "HGEDITOR", "HGMERGE":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HGPLAIN=1", "HGRCPATH=", "HGENCODING=utf-8")
}

// checkPositional refuses positional arguments hg could read as options
// (even after "--", as a last line of defence) or that hold control
// characters.
func checkPositional(op string, args ...string) error {
	if err := command.CheckArgs("argument", args...); err != nil {
		return &Error{Args: append([]string{op}, redactArgs(args)...), Err: fmt.Errorf("refused: %w", err), ExitCode: -1, Kind: KindNotFound}
	}
	return nil
}

// redactArgs hides the credentials of URLs in args.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = command.RedactText(a)
	}
	return out
}
