package git

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/command"
	"github.com/synchroniser/synchroniser/internal/limitio"
)

// DefaultTimeout bounds a git command when Runner.Timeout is zero.
const DefaultTimeout = time.Hour

// DefaultMaxOutput bounds the standard output kept from a git command when
// Runner.MaxOutput is zero.
const DefaultMaxOutput = 64 << 20

// maxStderr is how much of git's standard error is kept (the end of it).
const maxStderr = 16 << 10

// Runner runs the git program safely:
//   - never through a shell, with "--" before positional arguments;
//   - remotes checked before git runs: https and ssh only, plus http when
//     AllowHTTP and file (file:// URLs and absolute paths) when AllowFile;
//     remote-helper syntax ("ext::…"), option-like hosts and control
//     characters refused; GIT_ALLOW_PROTOCOL set to the same list and
//     protocol.ext.allow=never;
//   - a clean environment: no system or global configuration, no terminal
//     prompts, no credential helpers, C locale, a private HOME;
//   - credentials only in the environment (never argv, never logged, redacted
//     from errors): an HTTP token (or a URL's user:password, removed from
//     the URL) as an http.<url>.extraHeader scoped to the remote's scheme,
//     host and port, with redirects not followed (git would re-send the
//     header to the target); SSH only with a given key and known_hosts file,
//     strict host key checking and no user ssh configuration;
//   - a timeout and bounded captured output.
//
// A Runner is safe for concurrent use; do not modify it while in use. Use
// WithCredentials for per-remote credentials.
type Runner struct {
	Path        string        // git program; "" means "git" found in PATH
	Timeout     time.Duration // per command; 0 means DefaultTimeout
	AllowFile   bool          // allow file:// URLs and absolute local paths as remotes
	AllowHTTP   bool          // allow plain http:// remotes
	Credentials Credentials
	Home        string   // HOME for git; "" means a fresh empty directory per command
	Env         []string // extra NAME=VALUE environment (proxies, CA bundle)
	MaxOutput   int      // standard output bytes kept; 0 means DefaultMaxOutput
	Logger      *slog.Logger
}

// Credentials authenticate to a remote.
type Credentials struct {
	// Token is sent as an HTTP Authorization header to https (and allowed
	// http) remotes: Basic base64(Username:Token) or Bearer Token.
	Token string
	// Bearer selects "Authorization: Bearer TOKEN" instead of Basic.
	Bearer bool
	// Username for Basic authentication; "" means "x-access-token" (GitHub;
	// GitLab accepts any name with a token, Gitea too).
	Username string
	// SSHKey and KnownHosts are absolute paths (letters, digits, ".", "_",
	// "-", "/") of the private key and known_hosts file for ssh remotes;
	// both are required to use an ssh remote.
	SSHKey, KnownHosts string
}

// WithCredentials returns a copy of r that authenticates with c.
func (r *Runner) WithCredentials(c Credentials) *Runner {
	r2 := *r
	r2.Credentials = c
	return &r2
}

// PushOptions modify a push.
type PushOptions struct {
	Force  bool // allow non-fast-forward updates (--force)
	Atomic bool // all refs or none (--atomic)
	// Lease maps destination ref names (as written in the refspecs) to the
	// value they must still have for the push to update them, fast-forward
	// or not (--force-with-lease=REF:VALUE; ZeroHash: the ref must not
	// exist); otherwise the push fails with ErrStaleRef. Since git ignores
	// leases for forced refspecs, a leading "+" is dropped from refspecs
	// whose destination is leased, and Force with Lease is refused.
	Lease map[string]Hash
	// NoDeltaSearch sends the objects as the local packs store them:
	// their deltas are reused and no new ones are searched for
	// (pack.window=0). Git does not search again between two objects of
	// one pack (its writer chose), but does between packs: for a push of
	// a whole history written in several packs, that search is most of
	// git's work (flask's first push: pack-objects used 2.3 CPU seconds,
	// 0.3 without the search), for a pack a third smaller (15 MB, not 22).
	NoDeltaSearch bool
}

// FetchOptions modify a fetch.
type FetchOptions struct {
	Prune  bool // delete local refs the refspecs map to that the remote no longer has
	NoTags bool // do not fetch tags pointing at fetched commits unless a refspec asks
}

// RefChange is one ref update for UpdateRefsChecked.
type RefChange struct {
	Name     string // full ref name, "refs/…"
	New      Hash   // ZeroHash deletes the ref
	Old      Hash   // expected current value when CheckOld; ZeroHash: must not exist
	CheckOld bool
}

// Push runs `git push --porcelain [--force] [--atomic] -- remote refspecs…`
// from the repository gitDir. A refused update is an *Error whose Kind is
// ErrNonFastForward, ErrRemoteRejected or ErrStaleRef.
func (r *Runner) Push(ctx context.Context, gitDir, remote string, refspecs []string, opts PushOptions) error {
	if err := r.checkRemote("push", remote); err != nil {
		return err
	}
	if err := checkArgs("push", refspecs); err != nil {
		return err
	}
	args := []string{"--git-dir=" + gitDir, "push", "--porcelain"}
	if opts.NoDeltaSearch {
		// Before the subcommand: the pack-objects push starts inherits it.
		args = append([]string{"-c", "pack.window=0"}, args...)
	}
	if opts.Force {
		args = append(args, "--force")
	}
	if opts.Atomic {
		args = append(args, "--atomic")
	}
	if opts.Force && len(opts.Lease) > 0 {
		return &Error{Op: "push", Remote: redactURL(remote), ExitCode: -1, Kind: ErrRemoteNotAllowed, Err: errors.New("Force would disable the leases")}
	}
	leased := make([]string, 0, len(opts.Lease))
	for ref := range opts.Lease {
		if err := checkRefName(ref); err != nil {
			return &Error{Op: "push", Remote: redactURL(remote), ExitCode: -1, Kind: ErrRemoteNotAllowed, Err: err}
		}
		leased = append(leased, ref)
	}
	slices.Sort(leased)
	for _, ref := range leased {
		expect := ""
		if h := opts.Lease[ref]; !h.IsZero() {
			expect = h.String()
		}
		args = append(args, "--force-with-lease="+ref+":"+expect)
	}
	args = append(args, "--", remoteArg(remote))
	for _, spec := range refspecs {
		if rest, forced := strings.CutPrefix(spec, "+"); forced {
			dst := rest
			if i := strings.LastIndexByte(rest, ':'); i >= 0 {
				dst = rest[i+1:]
			}
			if _, ok := opts.Lease[dst]; ok {
				spec = rest
			}
		}
		args = append(args, spec)
	}
	out, err := r.run(ctx, "push", remote, "", nil, args)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Refs = parsePushPorcelain(out)
			if k := pushKind(e.Refs); k != nil && !errors.Is(e.Kind, ErrNetwork) {
				e.Kind = k
			}
		}
		return err
	}
	return nil
}

// pushKind classifies the refs a porcelain push reports as rejected. With
// --atomic the refs git refused only because another failed say "atomic
// push failed"; the cause is the other ref's, so the strongest reason wins.
func pushKind(refs []PushRef) error {
	var kind error
	rank := func(k error) int {
		return map[error]int{nil: 0, ErrNonFastForward: 1, ErrRemoteRejected: 2, ErrStaleRef: 3}[k]
	}
	for _, p := range refs {
		if p.Flag != '!' {
			continue
		}
		var k error
		switch reason := strings.ToLower(p.Reason); {
		case strings.Contains(reason, "atomic push fail"): // "failed" locally, "failure" from the remote
			continue
		case strings.Contains(reason, "stale info"):
			k = ErrStaleRef
		case p.Summary == "[remote rejected]":
			k = ErrRemoteRejected
		case p.Summary == "[rejected]":
			k = ErrNonFastForward
		}
		if rank(k) > rank(kind) {
			kind = k
		}
	}
	return kind
}

// Fetch runs `git fetch -- remote refspecs…` into the repository gitDir.
func (r *Runner) Fetch(ctx context.Context, gitDir, remote string, refspecs []string) error {
	return r.FetchWithOptions(ctx, gitDir, remote, refspecs, FetchOptions{})
}

// FetchWithOptions is Fetch with options.
func (r *Runner) FetchWithOptions(ctx context.Context, gitDir, remote string, refspecs []string, opts FetchOptions) error {
	if err := r.checkRemote("fetch", remote); err != nil {
		return err
	}
	if err := checkArgs("fetch", refspecs); err != nil {
		return err
	}
	args := []string{"--git-dir=" + gitDir, "fetch", "--quiet", "--no-write-fetch-head"}
	if opts.Prune {
		args = append(args, "--prune")
	}
	if opts.NoTags {
		args = append(args, "--no-tags")
	}
	args = append(args, "--", remoteArg(remote))
	args = append(args, refspecs...)
	_, err := r.run(ctx, "fetch", remote, "", nil, args)
	return err
}

// LsRemote lists the remote's refs (including HEAD and peeled tags as
// "refs/tags/NAME^{}") with `git ls-remote -- remote`, run outside any
// repository.
func (r *Runner) LsRemote(ctx context.Context, remote string) (map[string]Hash, error) {
	if err := r.checkRemote("ls-remote", remote); err != nil {
		return nil, err
	}
	out, err := r.run(ctx, "ls-remote", remote, "", nil, []string{"ls-remote", "--", remoteArg(remote)})
	if err != nil {
		return nil, err
	}
	refs, err := ParseRefList(out)
	if err != nil {
		return nil, fmt.Errorf("git ls-remote %s: %w", redactURL(remote), err)
	}
	return refs, nil
}

// Refs lists the refs of the repository gitDir (`git for-each-ref`).
func (r *Runner) Refs(ctx context.Context, gitDir string) (map[string]Hash, error) {
	out, err := r.run(ctx, "for-each-ref", "", "", nil,
		[]string{"--git-dir=" + gitDir, "for-each-ref", "--format=%(objectname)%09%(refname)"})
	if err != nil {
		return nil, err
	}
	refs, err := ParseRefList(out)
	if err != nil {
		return nil, fmt.Errorf("git for-each-ref %s: %w", gitDir, err)
	}
	return refs, nil
}

// UpdateRefs sets each ref to its hash (ZeroHash deletes it) in one
// transaction with `git update-ref --stdin`, without checking old values.
func (r *Runner) UpdateRefs(ctx context.Context, gitDir string, refs map[string]Hash) error {
	changes := make([]RefChange, 0, len(refs))
	for name, h := range refs {
		changes = append(changes, RefChange{Name: name, New: h})
	}
	slices.SortFunc(changes, func(a, b RefChange) int { return strings.Compare(a.Name, b.Name) })
	return r.UpdateRefsChecked(ctx, gitDir, changes)
}

// UpdateRefsChecked applies changes in one transaction with
// `git update-ref -z --stdin`: all or none. A ref whose current value is not
// the expected Old gives an *Error of kind ErrStaleRef.
func (r *Runner) UpdateRefsChecked(ctx context.Context, gitDir string, changes []RefChange) error {
	return r.updateRefs(ctx, "update-ref", gitDir, changes)
}

// updateRefs is UpdateRefsChecked run (and logged) as op.
func (r *Runner) updateRefs(ctx context.Context, op, gitDir string, changes []RefChange) error {
	if len(changes) == 0 {
		return nil
	}
	var in bytes.Buffer
	for _, c := range changes {
		if err := checkRefName(c.Name); err != nil {
			return &Error{Op: op, ExitCode: -1, Kind: ErrRemoteNotAllowed, Err: err}
		}
		old := ""
		if c.CheckOld {
			old = c.Old.String()
		}
		if c.New.IsZero() {
			fmt.Fprintf(&in, "delete %s\x00%s\x00", c.Name, old)
		} else {
			fmt.Fprintf(&in, "update %s\x00%s\x00%s\x00", c.Name, c.New, old)
		}
	}
	_, err := r.run(ctx, op, "", "", in.Bytes(),
		[]string{"--git-dir=" + gitDir, "update-ref", "-z", "--stdin"})
	return err
}

// IsAncestor reports whether commit a is an ancestor of (or equal to)
// commit b in the repository gitDir.
func (r *Runner) IsAncestor(ctx context.Context, gitDir string, a, b Hash) (bool, error) {
	_, err := r.run(ctx, "merge-base", "", "", nil,
		[]string{"--git-dir=" + gitDir, "merge-base", "--is-ancestor", "--", a.String(), b.String()})
	var e *Error
	if errors.As(err, &e) && e.ExitCode == 1 && e.Stderr == "" {
		return false, nil
	}
	return err == nil, err
}

// CountCommits counts the commits reachable from include and not from
// exclude in the repository gitDir (`git rev-list --count`); 0 when
// include is empty.
func (r *Runner) CountCommits(ctx context.Context, gitDir string, include, exclude []Hash) (int, error) {
	if len(include) == 0 {
		return 0, nil
	}
	args := []string{"--git-dir=" + gitDir, "rev-list", "--count"}
	for _, h := range include {
		args = append(args, h.String())
	}
	args = append(args, "--not")
	for _, h := range exclude {
		args = append(args, h.String())
	}
	out, err := r.run(ctx, "rev-list", "", gitDir, nil, append(args, "--"))
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("git rev-list --count: unexpected output %q", limitio.Clip(string(out), 100))
	}
	return n, nil
}

// Head returns the ref the repository gitDir's HEAD names
// (`git symbolic-ref -q HEAD`); an error when HEAD is detached.
func (r *Runner) Head(ctx context.Context, gitDir string) (string, error) {
	out, err := r.run(ctx, "symbolic-ref", "", gitDir, nil, []string{"--git-dir=" + gitDir, "symbolic-ref", "-q", "HEAD"})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// SetHead points the repository gitDir's HEAD at ref, a "refs/…" name
// (`git symbolic-ref HEAD ref`).
func (r *Runner) SetHead(ctx context.Context, gitDir, ref string) error {
	if err := checkRefName(ref); err != nil {
		return &Error{Op: "symbolic-ref", ExitCode: -1, Kind: ErrRemoteNotAllowed, Err: err}
	}
	_, err := r.run(ctx, "symbolic-ref", "", gitDir, nil, []string{"--git-dir=" + gitDir, "symbolic-ref", "HEAD", ref})
	return err
}

// Version returns `git --version` output, trimmed.
func (r *Runner) Version(ctx context.Context) (string, error) {
	out, err := r.run(ctx, "version", "", "", nil, []string{"--version"})
	return strings.TrimSpace(string(out)), err
}

// run runs git. remote, if not "", is the URL the command talks to (for
// credentials and error messages).
func (r *Runner) run(ctx context.Context, op, remote, dir string, stdin []byte, args []string) ([]byte, error) {
	fail := func(kind, err error) error {
		return &Error{Op: op, Remote: redactURL(remote), ExitCode: -1, Kind: kind, Err: err}
	}
	home := r.Home
	if home == "" {
		tmp, err := os.MkdirTemp("", "synchroniser-git-")
		if err != nil {
			return nil, fail(nil, err)
		}
		defer os.RemoveAll(tmp)
		home = tmp
	}
	if dir == "" {
		dir = home
	}
	env, secrets, err := r.environ(remote, home, dir)
	if err != nil {
		return nil, fail(ErrRemoteNotAllowed, err)
	}
	path := r.Path
	if path == "" {
		path = "git"
	}
	c := command.Cmd{
		Path: path,
		Args: append([]string{
			"-c", "protocol.ext.allow=never",
			"-c", "protocol.fd.allow=never",
			"-c", "credential.helper=",
			"-c", "core.hooksPath=/dev/null",
			"-c", "core.fsmonitor=false",
		}, args...),
		Dir:       dir,
		Env:       env,
		Timeout:   r.Timeout,
		MaxOutput: int64(r.MaxOutput),
		MaxStderr: maxStderr,
		Secrets:   secrets,
		Logger:    r.Logger,
		LogAttrs:  []slog.Attr{slog.String("op", op), slog.String("remote", redactURL(remote))},
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxOutput <= 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	res, runErr := command.Run(ctx, c)
	if errors.Is(runErr, command.ErrOutputTooLarge) {
		return nil, fail(nil, runErr)
	}
	if runErr == nil {
		return res.Stdout, nil
	}
	e := &Error{Op: op, Remote: redactURL(remote), ExitCode: res.ExitCode, Stderr: res.Stderr}
	if res.ExitCode < 0 {
		e.Err = runErr
	}
	if errors.Is(runErr, context.DeadlineExceeded) || errors.Is(runErr, context.Canceled) {
		e.Err = ctx.Err()
		if e.Err == nil {
			e.Err = context.DeadlineExceeded // the Runner's own timeout
		}
	}
	e.Kind = classify(runErr, e.Stderr)
	return res.Stdout, e
}

// inheritedEnv are the only variables passed on from this process.
var inheritedEnv = []string{"PATH", "TMPDIR"}

// environ builds git's environment and lists the secrets in it.
func (r *Runner) environ(remote, home, dir string) (env, secrets []string, err error) {
	protocols := []string{"https", "ssh"}
	if r.AllowHTTP {
		protocols = append(protocols, "http")
	}
	if r.AllowFile {
		protocols = append(protocols, "file")
	}
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"GIT_ALLOW_PROTOCOL="+strings.Join(protocols, ":"),
		"GIT_CEILING_DIRECTORIES="+filepath.Dir(dir),
		"GIT_NO_REPLACE_OBJECTS=1",
		"LC_ALL=C",
		"LANGUAGE=C",
	)
	ssh, err := r.sshCommand()
	if err != nil {
		return nil, nil, err
	}
	env = append(env, "GIT_SSH_COMMAND="+ssh, "GIT_SSH_VARIANT=ssh")

	// Configuration through the environment, never argv.
	var config [][2]string
	c := r.Credentials
	user, pass := "", ""
	if u, perr := url.Parse(remote); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			user, pass = u.User.Username(), p
			secrets = append(secrets, p)
		}
	}
	scope := httpScope(remote)
	if c.Token != "" || pass != "" {
		if scope == "" {
			// A token for a non-HTTP remote is ignored rather than sent.
		} else {
			var header string
			switch {
			case c.Token != "" && c.Bearer:
				header = "Authorization: Bearer " + c.Token
			case c.Token != "":
				name := c.Username
				if name == "" {
					name = "x-access-token"
				}
				header = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+c.Token))
			default:
				header = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
			}
			if strings.ContainsAny(header, "\r\n\x00") {
				return nil, nil, errors.New("credentials contain line breaks")
			}
			// Git keeps sending extra headers to wherever a redirect leads
			// (TestRunnerTokenScopedToHost), so a remote given credentials
			// must not redirect.
			config = append(config, [2]string{"http." + scope + ".extraHeader", header},
				[2]string{"http.followRedirects", "false"})
			secrets = append(secrets, header, strings.TrimPrefix(strings.TrimPrefix(header, "Authorization: Basic "), "Authorization: Bearer "))
		}
	}
	if c.Token != "" {
		secrets = append(secrets, c.Token)
	}
	env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(config)))
	for i, kv := range config {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	env = append(env, r.Env...)
	return env, secrets, nil
}

// remoteArg is the remote as given to git: an http(s) URL's user and
// password are removed, since environ sends them as a header instead, to
// keep them out of the process list.
func remoteArg(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || u.User == nil || httpScope(remote) == "" {
		return remote
	}
	if _, ok := u.User.Password(); !ok {
		return remote
	}
	u.User = nil
	return u.String()
}

// httpScope returns "scheme://host[:port]/" of an http(s) remote, the
// http.<url>.* configuration scope that matches only that server, or "".
func httpScope(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/"
}

// sshCommand builds GIT_SSH_COMMAND. Git runs it through the shell, so the
// paths are restricted to characters that need no quoting.
func (r *Runner) sshCommand() (string, error) {
	base := "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
	c := r.Credentials
	if c.SSHKey == "" && c.KnownHosts == "" {
		// Without them ssh remotes are refused by checkRemote; this only
		// keeps ssh from reading the user's configuration and keys.
		return base + " -o UserKnownHostsFile=/dev/null", nil
	}
	for _, p := range []string{c.SSHKey, c.KnownHosts} {
		if err := command.CheckShellPath(p); err != nil {
			return "", fmt.Errorf("ssh key and known_hosts: %w", err)
		}
	}
	return base + " -o UserKnownHostsFile=" + c.KnownHosts + " -i " + c.SSHKey, nil
}

var remoteHelper = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*::`)

// checkRemote refuses remotes git must not be given.
func (r *Runner) checkRemote(op, remote string) error {
	if err := r.remoteAllowed(remote); err != nil {
		return &Error{Op: op, Remote: redactURL(remote), ExitCode: -1, Kind: ErrRemoteNotAllowed, Err: err}
	}
	return nil
}

func (r *Runner) remoteAllowed(remote string) error {
	switch {
	case remote == "":
		return errors.New("empty remote")
	case strings.HasPrefix(remote, "-"):
		return errors.New("remote looks like an option")
	case strings.ContainsFunc(remote, isControl):
		return errors.New("control character in remote")
	case remoteHelper.MatchString(remote), strings.Contains(remote, "::") && !strings.Contains(remote, "://"):
		return errors.New("remote helper syntax (transport::address) is not allowed")
	}
	if i := strings.Index(remote, "://"); i >= 0 {
		u, err := url.Parse(remote)
		if err != nil {
			return fmt.Errorf("bad URL: %w", redactErr(err, remote))
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !r.AllowHTTP {
				return errors.New("http is not allowed")
			}
		case "ssh":
			if err := r.sshAllowed(u.User.Username(), u.Hostname()); err != nil {
				return err
			}
		case "file":
			if !r.AllowFile {
				return errors.New("file remotes are not allowed")
			}
			return nil
		default:
			return fmt.Errorf("scheme %q is not allowed", limitio.Clip(u.Scheme, 20))
		}
		if u.Host == "" || strings.HasPrefix(u.Host, "-") {
			return errors.New("bad host")
		}
		return nil
	}
	// Git's rule: a colon before the first slash makes "[user@]host:path"
	// an ssh remote; anything else is a local path.
	colon, slash := strings.IndexByte(remote, ':'), strings.IndexByte(remote, '/')
	if colon > 0 && (slash < 0 || colon < slash) {
		user, host := "", remote[:colon]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			user, host = host[:at], host[at+1:]
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		return r.sshAllowed(user, host)
	}
	if !r.AllowFile {
		return errors.New("local paths are not allowed")
	}
	if !filepath.IsAbs(remote) {
		return errors.New("local paths must be absolute")
	}
	return nil
}

func (r *Runner) sshAllowed(user, host string) error {
	if host == "" || strings.HasPrefix(host, "-") || strings.HasPrefix(user, "-") {
		return errors.New("bad ssh host or user")
	}
	if r.Credentials.SSHKey == "" || r.Credentials.KnownHosts == "" {
		return errors.New("ssh remotes need Credentials.SSHKey and Credentials.KnownHosts")
	}
	return nil
}

func isControl(c rune) bool { return command.IsControl(c) }

// checkArgs refuses refspecs that git could read as options or that hold
// control characters.
func checkArgs(op string, args []string) error {
	for _, a := range args {
		if a == "" || strings.HasPrefix(a, "-") || strings.ContainsFunc(a, isControl) {
			return &Error{Op: op, ExitCode: -1, Kind: ErrRemoteNotAllowed, Err: fmt.Errorf("bad refspec %q", limitio.Clip(a, 100))}
		}
	}
	return nil
}

// checkRefName refuses names update-ref must not be given; git checks the
// rest of the ref name rules itself.
func checkRefName(name string) error {
	if !strings.HasPrefix(name, "refs/") || strings.ContainsFunc(name, isControl) || strings.ContainsAny(name, " ~^:?*[\\") {
		return fmt.Errorf("bad ref name %q", limitio.Clip(name, 100))
	}
	return nil
}

// redactURL hides the credentials of a URL (command.Redact).
func redactURL(s string) string { return command.Redact(s) }

func redactErr(err error, remote string) error {
	return errors.New(strings.ReplaceAll(err.Error(), remote, redactURL(remote)))
}
