// Package hgtest builds Mercurial repositories and servers for tests, with one
// set of defaults: a fixed identity, no user or system configuration
// (HGRCPATH is empty), plain output, the UTC time zone and commit dates that
// start at BaseDate and advance by one minute per commit, so every run of a
// test produces the same changesets.
//
// It imports only the standard library, internal/kitrun and internal/gittest
// (both standard-library only themselves), so in-package tests of internal/hg
// can use it without an import cycle.
package hgtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/kitrun"
)

// User is the identity every test commit is made with unless WithUser says otherwise.
const User = "Test User <test@example.com>"

// BaseDate is the Unix time of a repository's first commit; each later commit
// is a minute later.
const BaseDate = 1400000000

// Timeout bounds every hg command the kit runs.
const Timeout = 2 * time.Minute

// Env is the environment every hg command of the tests runs with: plain
// output, no configuration files but the repository's own .hg/hgrc, the fixed
// identity, UTF-8, UTC, an editor that keeps the message, and PATH and HOME
// from the test's environment.
func Env() []string {
	return kitrun.Env(
		"HGPLAIN=1", "HGRCPATH=", "HGUSER="+User, "EMAIL="+User, "HGENCODING=utf-8",
		"HGEDITOR=true", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC",
	)
}

// Error is a failed hg command: its arguments, exit error and stderr.
type Error = kitrun.Error

// runner runs the kit's program in Env.
func runner() kitrun.Cmd { return kitrun.Cmd{Program: "hg", Env: Env(), Timeout: Timeout} }

// RunErr runs hg with args in dir ("" for the current directory) in Env and
// returns its stdout; a failure is an *Error.
func RunErr(dir string, args ...string) (string, error) { return runner().RunErr(dir, args...) }

// Run is RunErr that fails the test on error.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return runner().Run(t, dir, args...)
}

// Require fails the test unless hg is on PATH.
func Require(t testing.TB) {
	t.Helper()
	runner().Require(t)
}

// hgGit is whether hg loads the hg-git extension, asked once per test
// binary.
var hgGit = sync.OnceValue(func() error {
	out, err := RunErr("", "--config", "extensions.hggit=", "debugextensions")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if name, _, _ := strings.Cut(line, " "); name == "hggit" {
			return nil
		}
	}
	return fmt.Errorf("hg does not load the hggit extension (debugextensions: %q)", out)
})

// RequireHgGit fails the test unless hg is on PATH and loads hg-git
// (Debian's mercurial-git), the oracle of the conversion tests.
func RequireHgGit(t testing.TB) {
	t.Helper()
	Require(t)
	if err := hgGit(); err != nil {
		t.Fatalf("hg-git (mercurial-git) is required: %v", err)
	}
}

// Option configures NewRepo, Open, Clone and Serve.
type Option func(*config)

type config struct {
	evolve, topics, nonPublishing, push, ssh bool
	user, password                           string
	prefix                                   string
	settings                                 []string
}

func configure(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

// hgrc is the configuration the options ask of a repository or a server.
func (c config) hgrc() string {
	var b strings.Builder
	if c.evolve || c.topics {
		b.WriteString("[extensions]\n")
		if c.evolve {
			b.WriteString("evolve =\n")
		}
		if c.topics {
			b.WriteString("topic =\n")
		}
	}
	if c.evolve {
		b.WriteString("[experimental]\nevolution = all\n")
	}
	if c.nonPublishing {
		b.WriteString("[phases]\npublish = false\n")
	}
	if c.push {
		b.WriteString("[web]\nallow-push = *\npush_ssl = false\n")
	}
	return b.String()
}

// serverHgrc is what the options ask of a server, WithConfig's settings
// included, as an hgrc file (for the ssh forced command).
func (c config) serverHgrc() string {
	var b strings.Builder
	b.WriteString(c.hgrc())
	for _, s := range c.settings {
		key, value, _ := strings.Cut(s, "=")
		section, name, _ := strings.Cut(key, ".")
		fmt.Fprintf(&b, "[%s]\n%s = %s\n", section, name, value)
	}
	return b.String()
}

// configArgs are the options as --config arguments (for hg serve).
func (c config) configArgs() []string {
	var args []string
	if c.evolve {
		args = append(args, "--config", "extensions.evolve=", "--config", "experimental.evolution=all")
	}
	if c.topics {
		args = append(args, "--config", "extensions.topic=")
	}
	if c.nonPublishing {
		args = append(args, "--config", "phases.publish=false")
	}
	if c.push {
		args = append(args, "--config", "web.allow-push=*", "--config", "web.push_ssl=false")
	}
	for _, s := range c.settings {
		args = append(args, "--config", s)
	}
	return args
}

// WithEvolve enables the evolve extension (obsolescence markers, hg prune).
func WithEvolve() Option { return func(c *config) { c.evolve = true } }

// WithTopics enables the topic extension.
func WithTopics() Option { return func(c *config) { c.topics = true } }

// NonPublishing sets phases.publish=false: pushed and served drafts stay drafts.
func NonPublishing() Option { return func(c *config) { c.nonPublishing = true } }

// AllowPush lets a Server accept pushes from anyone over plain HTTP.
func AllowPush() Option { return func(c *config) { c.push = true } }

// WithConfig adds "section.key=value" settings: to `hg init` for NewRepo
// (format options), to the command line for Serve.
func WithConfig(settings ...string) Option {
	return func(c *config) { c.settings = append(c.settings, settings...) }
}

// WithBasicAuth puts a reverse proxy in front of a Server that requires HTTP
// Basic authentication with user and password.
func WithBasicAuth(user, password string) Option {
	return func(c *config) { c.user, c.password = user, password }
}

// WithSSH gives a Server an ssh:// endpoint served by a real sshd.
func WithSSH() Option { return func(c *config) { c.ssh = true } }

// WithPrefix serves the repository under /prefix/ (hg serve --prefix).
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = strings.Trim(prefix, "/") }
}

// Repo is a Mercurial repository of a test.
type Repo struct {
	t       testing.TB
	Dir     string // the working directory's root (absolute)
	commits int    // commits made through the kit, for the next default date
}

// NewRepo creates an empty repository in a new temporary directory.
func NewRepo(t testing.TB, opts ...Option) *Repo {
	t.Helper()
	return InitAt(t, filepath.Join(t.TempDir(), "repo"), opts...)
}

// InitAt creates an empty repository at dir (which must not exist or be empty).
func InitAt(t testing.TB, dir string, opts ...Option) *Repo {
	t.Helper()
	c := configure(opts)
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"init"}
	for _, s := range c.settings {
		args = append(args, "--config", s)
	}
	Run(t, "", append(args, "--", abs)...)
	r := &Repo{t: t, Dir: abs}
	r.appendHgrc(c.hgrc())
	return r
}

// Open returns the existing repository at dir, adding the options' settings
// to its .hg/hgrc.
func Open(t testing.TB, dir string, opts ...Option) *Repo {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &Repo{t: t, Dir: abs}
	r.appendHgrc(configure(opts).hgrc())
	return r
}

// Clone clones r (hg clone -U, hard links where possible) into a new
// temporary directory; the clone has r's options added again.
func (r *Repo) Clone(t testing.TB, opts ...Option) *Repo {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "clone")
	Run(t, "", "clone", "-q", "-U", "--", r.Dir, dst)
	c := &Repo{t: t, Dir: dst}
	c.appendHgrc(configure(opts).hgrc())
	return c
}

func (r *Repo) appendHgrc(s string) {
	r.t.Helper()
	if s == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, ".hg", "hgrc"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		r.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// Path returns the absolute path of rel in the working directory.
func (r *Repo) Path(rel string) string { return filepath.Join(r.Dir, filepath.FromSlash(rel)) }

// Run runs hg with args in the repository and returns stdout; it fails the test on error.
func (r *Repo) Run(args ...string) string {
	r.t.Helper()
	return Run(r.t, r.Dir, args...)
}

// RunErr runs hg with args in the repository.
func (r *Repo) RunErr(args ...string) (string, error) { return RunErr(r.Dir, args...) }

// Write writes content to path (slash-separated, relative to the root) as
// a new regular 0644 file, creating directories; whatever was there (a
// symlink, an executable) is replaced, not written through.
func (r *Repo) Write(path, content string) {
	r.t.Helper()
	p := r.clear(path)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// clear makes way for a new file at path: its directories are made and
// whatever was there is removed. It returns the path in the file system.
func (r *Repo) clear(path string) string {
	r.t.Helper()
	p := r.Path(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.t.Fatal(err)
	}
	return p
}

// Chmod sets the mode of path (e.g. 0o755 for an executable).
func (r *Repo) Chmod(path string, mode os.FileMode) {
	r.t.Helper()
	if err := os.Chmod(r.Path(path), mode); err != nil {
		r.t.Fatal(err)
	}
}

// Symlink makes path a symbolic link to target, replacing what was there.
func (r *Repo) Symlink(target, path string) {
	r.t.Helper()
	p := r.clear(path)
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
}

// Remove deletes path from the working directory (the next commit records it).
func (r *Repo) Remove(path string) {
	r.t.Helper()
	if err := os.Remove(r.Path(path)); err != nil {
		r.t.Fatal(err)
	}
}

// CommitOption configures Commit, Amend and Tag.
type CommitOption func(*commit)

type commit struct {
	message, date, user, branch, topic, parent, rev string
	bookmarks, args                                 []string
	files                                           [][2]string // path, content
	closeBranch                                     bool
}

// WithMessage sets the commit message (default "commit N").
func WithMessage(msg string) CommitOption { return func(c *commit) { c.message = msg } }

// WithDate sets the date in hg's form, e.g. "1400000000 -3600" (default:
// BaseDate plus a minute per commit made so far, in UTC).
func WithDate(date string) CommitOption { return func(c *commit) { c.date = date } }

// WithUser sets the committer (default User).
func WithUser(user string) CommitOption { return func(c *commit) { c.user = user } }

// WithBranch commits on a named branch (hg branch --force), which later
// commits of the same working directory stay on, as in hg.
func WithBranch(name string) CommitOption { return func(c *commit) { c.branch = name } }

// WithBookmark moves (or creates) bookmark name to the new commit.
func WithBookmark(name string) CommitOption {
	return func(c *commit) { c.bookmarks = append(c.bookmarks, name) }
}

// WithTopic commits in topic name (needs WithTopics on the repository); the
// topic stays active for later commits, as in hg.
func WithTopic(name string) CommitOption { return func(c *commit) { c.topic = name } }

// WithParent updates the working directory to rev before committing.
func WithParent(rev string) CommitOption { return func(c *commit) { c.parent = rev } }

// WithCloseBranch closes the branch with this commit.
func WithCloseBranch() CommitOption { return func(c *commit) { c.closeBranch = true } }

// WithArgs adds arguments to the hg command (hg commit, or hg tag for Tag),
// e.g. "--config", "ui.allowemptycommit=1"; they come after the kit's own.
func WithArgs(args ...string) CommitOption {
	return func(c *commit) { c.args = append(c.args, args...) }
}

// WithFile writes content to path (as Write does) before committing, after
// the update WithParent asks for.
func WithFile(path, content string) CommitOption {
	return func(c *commit) { c.files = append(c.files, [2]string{path, content}) }
}

// WithRev names the revision Tag tags (default ".").
func WithRev(rev string) CommitOption { return func(c *commit) { c.rev = rev } }

func (r *Repo) prepare(opts []CommitOption) *commit {
	r.t.Helper()
	c := &commit{}
	for _, o := range opts {
		o(c)
	}
	if c.date == "" {
		c.date = fmt.Sprintf("%d 0", BaseDate+60*r.commits)
	}
	r.commits++
	if c.user == "" {
		c.user = User
	}
	if c.parent != "" {
		r.Run("update", "-q", "-r", c.parent)
	}
	if c.branch != "" {
		r.Run("branch", "-q", "--force", "--", c.branch)
	}
	if c.topic != "" {
		r.Run("topic", "-q", "--", c.topic)
	}
	for _, f := range c.files {
		r.Write(f[0], f[1])
	}
	return c
}

var committed = regexp.MustCompile(`(?m)^committed changeset \d+:([0-9a-f]{40})$`)

// commitArgs runs a commit and returns the new node.
func (r *Repo) commitArgs(c *commit, args []string, positional ...string) string {
	r.t.Helper()
	args = append(args, "-d", c.date, "-u", c.user)
	if c.closeBranch {
		args = append(args, "--close-branch")
	}
	args = append(args, c.args...)
	if len(positional) > 0 {
		args = append(append(args, "--"), positional...)
	}
	out := r.Run(args...)
	var node string
	if m := committed.FindAllStringSubmatch(out, -1); m != nil {
		node = m[len(m)-1][1]
	} else {
		node = r.Node(".")
	}
	for _, b := range c.bookmarks {
		r.Run("bookmark", "-q", "--force", "-r", node, "--", b)
	}
	return node
}

// Commit records every change of the working directory (hg commit -A) and
// returns the new changeset's node (40 hex digits).
func (r *Repo) Commit(opts ...CommitOption) string {
	r.t.Helper()
	c := r.prepare(opts)
	if c.message == "" {
		c.message = fmt.Sprintf("commit %d", r.commits)
	}
	return r.commitArgs(c, []string{"commit", "--debug", "-A", "-m", c.message})
}

// Amend rewrites the working directory's parent with the working
// directory's changes (hg commit --amend), keeping its message unless
// WithMessage says otherwise; under WithEvolve the old changeset becomes
// obsolete. It returns the new node.
func (r *Repo) Amend(opts ...CommitOption) string {
	r.t.Helper()
	c := r.prepare(opts)
	args := []string{"commit", "--debug", "--amend", "-A"}
	if c.message != "" {
		args = append(args, "-m", c.message)
	}
	return r.commitArgs(c, args)
}

// Tag tags a revision (WithRev, default ".") with name, committing .hgtags,
// and returns the tagging changeset's node.
func (r *Repo) Tag(name string, opts ...CommitOption) string {
	r.t.Helper()
	c := r.prepare(opts)
	if c.rev == "" {
		c.rev = "."
	}
	args := []string{"tag", "--debug", "-r", c.rev}
	if c.message != "" {
		args = append(args, "-m", c.message)
	}
	return r.commitArgs(c, args, name)
}

// Prune marks revs obsolete without successors (hg prune; needs WithEvolve).
func (r *Repo) Prune(revs ...string) {
	r.t.Helper()
	args := []string{"prune", "-q"}
	for _, rev := range revs {
		args = append(args, "-r", rev)
	}
	r.Run(args...)
}

// Histedit rewrites the history from rev on by plan, one "<action> <node>"
// line each, as hg histedit --commands reads them.
func (r *Repo) Histedit(rev string, plan ...string) {
	r.t.Helper()
	cmds := filepath.Join(r.t.TempDir(), "histedit")
	if err := os.WriteFile(cmds, []byte(strings.Join(plan, "\n")+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.Run("--config", "extensions.histedit=", "histedit", "-q", "--commands", cmds, rev)
}

// Update updates the working directory to rev.
func (r *Repo) Update(rev string) {
	r.t.Helper()
	r.Run("update", "-q", "-r", rev)
}

// Node returns the full node of rev.
func (r *Repo) Node(rev string) string {
	r.t.Helper()
	return strings.TrimSpace(r.Run("log", "--hidden", "-r", rev, "-T", "{node}"))
}

// Bookmarks returns the repository's bookmarks and their nodes.
func (r *Repo) Bookmarks() map[string]string {
	r.t.Helper()
	marks := map[string]string{}
	for _, line := range strings.Split(r.Run("bookmarks", "-T", "{bookmark} {node}\n"), "\n") {
		if name, node, ok := strings.Cut(line, " "); ok {
			marks[name] = node
		}
	}
	return marks
}
