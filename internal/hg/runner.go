package hg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/command"
	"github.com/synchroniser/synchroniser/internal/limitio"
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

// Runner runs the hg program safely: no shell, HGPLAIN=1, no user or
// system configuration (HGRCPATH empty, or naming only the Runner's own
// private file of credentials), non-interactive, `--` before positional
// arguments, a timeout and bounded output. Errors carry hg's stderr with
// credentials redacted. The zero value is usable; use WithCredentials for a
// private source.
type Runner struct {
	Path      string        // hg executable; "" = "hg" from PATH
	Timeout   time.Duration // per command; 0 = DefaultTimeout (the context may be shorter)
	MaxOutput int64         // stdout bytes kept; 0 = DefaultMaxOutput
	// Env is the environment besides the variables Runner sets; nil means
	// PATH, HOME and TMPDIR of this process (ssh needs HOME for its keys).
	Env []string
	// Config holds extra "section.name=value" settings passed as --config
	// (they override the credentials' file: do not set ui.ssh or auth.*
	// here together with Credentials).
	Config      []string
	Credentials Credentials
	Logger      *slog.Logger // nil = no logging
}

// Credentials authenticate to a private source. They never go on hg's
// command line: for each command that talks to the source they are written
// to an hgrc file (mode 0600, in a private directory removed afterwards)
// that HGRCPATH names.
type Credentials struct {
	// User and Token are sent with HTTP Basic authentication to an http(s)
	// source, when it asks ([auth] for the source's scheme, host and path).
	User, Token string
	// SSHKey and KnownHosts are the absolute paths of the private key and
	// of the known_hosts file for an ssh:// source: both are required; ssh
	// runs with that key only, strict host key checking against that
	// file, no agent, no user configuration and no prompts (ui.ssh).
	SSHKey, KnownHosts string
}

// WithCredentials returns a copy of r that authenticates with c.
func (r *Runner) WithCredentials(c Credentials) *Runner {
	r2 := *r
	r2.Credentials = c
	return &r2
}

// Clone clones source into dest without a working copy (hg clone --noupdate).
// A source or destination that hg could read as an option is refused
// (KindNotFound: no repository has that name here).
func (r *Runner) Clone(ctx context.Context, source, dest string) error {
	if err := checkPositional("clone", source, dest); err != nil {
		return err
	}
	_, err := r.runWith(ctx, "", source, []string{"clone", "--noupdate", "--", source, dest})
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
	_, err = r.runWith(ctx, abs, source, []string{"pull", "--repository", abs, "--", source})
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
// command). config are more "section.name=value" settings for the command
// (hg-git's git.authors, git.branch_bookmark_suffix; extensions.hggit=PATH
// loads another hg-git).
func (r *Runner) GitExport(ctx context.Context, repo string, config ...string) error {
	abs, err := filepath.Abs(repo)
	if err != nil {
		return fmt.Errorf("hg: gexport: %w", err)
	}
	args := []string{"--config", "extensions.hggit="}
	for _, c := range config {
		args = append(args, "--config", c)
	}
	_, err = r.run(ctx, abs, append(args, "--repository", abs, "gexport")...)
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
		return "", fmt.Errorf("hg: version: unexpected output %q", limitio.Clip(string(out), 200))
	}
	return string(m[1]), nil
}

// run runs hg with args in dir ("" = current directory) and returns its
// stdout. The caller must put "--" before positional arguments that may
// come from outside.
func (r *Runner) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	return r.runWith(ctx, dir, "", args)
}

// runWith runs hg with args in dir; source, if not "", is the repository
// URL the command talks to, for which the Credentials apply.
func (r *Runner) runWith(ctx context.Context, dir, source string, args []string) ([]byte, error) {
	redacted := redactArgs(args)
	c, cleanup, err := r.command(dir, source, args)
	if err != nil {
		return nil, &Error{Args: redacted, Err: err, ExitCode: -1, Kind: KindAuth}
	}
	defer cleanup()
	res, err := command.Run(ctx, c)
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

// command builds the command for args, writing the credentials for source
// to a private hgrc when they apply; cleanup removes it.
func (r *Runner) command(dir, source string, args []string) (c command.Cmd, cleanup func(), err error) {
	cleanup = func() {}
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
	c = command.Cmd{
		Path:      path,
		Args:      full,
		Dir:       dir,
		Timeout:   r.Timeout,
		MaxOutput: r.MaxOutput,
		MaxStderr: maxErrStderr,
		Logger:    r.Logger,
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxOutput <= 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if r.Credentials.Token != "" {
		c.Secrets = []string{r.Credentials.Token}
	}
	rc, err := r.Credentials.hgrc(source)
	if err != nil || rc == "" {
		c.Env = r.environ("")
		return c, cleanup, err
	}
	tmp, err := os.MkdirTemp("", "synchroniser-hg-") // mode 0700
	if err != nil {
		return c, cleanup, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	file := filepath.Join(tmp, "hgrc")
	if err := writePrivate(file, rc); err != nil {
		cleanup()
		return c, func() {}, err
	}
	c.Env = r.environ(file)
	return c, cleanup, nil
}

// writePrivate writes data to a new file only its owner can read.
func writePrivate(name, data string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// hgrc returns the configuration that gives c to hg for source, "" when
// none of c applies to it (a local path, a token for an ssh source).
func (c Credentials) hgrc(source string) (string, error) {
	if c == (Credentials{}) {
		return "", nil
	}
	u, err := url.Parse(source)
	if err != nil || !strings.Contains(source, "://") {
		return "", nil // a local path (or not a URL hg could use): nothing to authenticate
	}
	switch u.Scheme {
	case "http", "https":
		if ok, err := c.HTTPBasic(); !ok || err != nil {
			return "", err
		}
		prefix := u.Scheme + "://" + u.Host + u.EscapedPath()
		if strings.ContainsFunc(prefix, command.IsControl) {
			return "", errors.New("credentials: bad source URL")
		}
		rc := "[auth]\nsource.prefix = " + prefix + "\nsource.username = " + c.User + "\n"
		if c.Token != "" {
			rc += "source.password = " + c.Token + "\n"
		}
		return rc, nil
	case "ssh":
		argv, err := c.SSHCommand()
		if argv == nil || err != nil {
			return "", err
		}
		return "[ui]\nssh = " + strings.Join(argv, " ") + "\n", nil
	}
	return "", nil
}

// HTTPBasic reports whether c holds HTTP Basic credentials (User, and
// Token as the password), and an error when they cannot be sent: a token
// without a user, control characters or surrounding blanks.
func (c Credentials) HTTPBasic() (bool, error) {
	if c.User == "" && c.Token == "" {
		return false, nil
	}
	if c.User == "" {
		return false, errors.New("credentials: a token needs a user name")
	}
	for what, v := range map[string]string{"user": c.User, "token": c.Token} {
		if strings.ContainsFunc(v, command.IsControl) || strings.TrimSpace(v) != v {
			return false, fmt.Errorf("credentials: the %s has control characters or surrounding blanks", what)
		}
	}
	return true, nil
}

// SSHCommand returns the ssh program and options that authenticate with
// c's key only, checking the host key strictly against c's known_hosts
// file, with no agent, no user configuration and no prompts; nil when c
// has neither. Both files must exist (and their paths be safe for a
// shell: hg runs the command through one).
func (c Credentials) SSHCommand() ([]string, error) {
	if c.SSHKey == "" && c.KnownHosts == "" {
		return nil, nil
	}
	if c.SSHKey == "" || c.KnownHosts == "" {
		return nil, errors.New("credentials: an ssh source needs both an ssh key and a known_hosts file")
	}
	for what, p := range map[string]string{"ssh key": c.SSHKey, "known_hosts": c.KnownHosts} {
		if err := command.CheckShellPath(p); err != nil {
			return nil, fmt.Errorf("credentials: %s: %w", what, err)
		}
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("credentials: %s %s: not a readable file", what, p)
		}
	}
	return []string{"ssh", "-i", c.SSHKey, "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + c.KnownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentityAgent=none", "-F", "/dev/null"}, nil
}

// environ builds hg's environment; hgrc is the file HGRCPATH names ("" =
// no configuration file at all).
func (r *Runner) environ(hgrc string) []string {
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
	return append(out, "HGPLAIN=1", "HGRCPATH="+hgrc, "HGENCODING=utf-8")
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
