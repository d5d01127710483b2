// Package gittest builds Git repositories and servers for tests, with one set
// of defaults: a fixed identity and dates, no system or global configuration.
//
// It imports only the standard library and internal/kitrun (standard library
// only itself), so in-package tests of internal/git can use it without an
// import cycle.
package gittest

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/kitrun"
)

// The identities and dates of every test commit: author and committer
// differ, and so do their dates and time zones (one with a half-hour
// offset), so code that reads commits cannot confuse them.
const (
	AuthorName     = "Test Author"
	AuthorEmail    = "author@example.com"
	AuthorDate     = "1700000000 +0100"
	CommitterName  = "Test Committer"
	CommitterEmail = "committer@example.com"
	CommitterDate  = "1700000100 -0230"
)

// Timeout bounds every git command the kit runs.
const Timeout = 2 * time.Minute

// Env is the environment of every git command of the tests: no system or
// global configuration, the fixed identity and dates, no prompts, and PATH
// and HOME from the test's environment.
func Env() []string {
	return kitrun.Env(
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME="+AuthorName, "GIT_AUTHOR_EMAIL="+AuthorEmail, "GIT_AUTHOR_DATE="+AuthorDate,
		"GIT_COMMITTER_NAME="+CommitterName, "GIT_COMMITTER_EMAIL="+CommitterEmail, "GIT_COMMITTER_DATE="+CommitterDate,
		"LANG=C", "LC_ALL=C", "TZ=UTC",
	)
}

// Error is a failed git command: its arguments, exit error and stderr.
type Error = kitrun.Error

// runner runs the kit's program in Env.
func runner() kitrun.Cmd { return kitrun.Cmd{Program: "git", Env: Env(), Timeout: Timeout} }

// Require fails the test unless git is on PATH.
func Require(t testing.TB) {
	t.Helper()
	runner().Require(t)
}

// RunErr runs git with args in dir ("" for the current directory) in Env
// and returns stdout; a failure is an *Error.
func RunErr(dir string, args ...string) (string, error) { return runner().RunErr(dir, args...) }

// Run is RunErr that fails the test on error.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return runner().Run(t, dir, args...)
}

// RunContext is RunErr that also stops when ctx ends and gives git stdin
// (nil for none) on its standard input.
func RunContext(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	return runner().RunContext(ctx, dir, stdin, args...)
}

// RunInput is Run with stdin on git's standard input.
func RunInput(t testing.TB, dir string, stdin []byte, args ...string) string {
	t.Helper()
	out, err := RunContext(context.Background(), dir, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Bare creates an empty bare repository (default branch master, pushes over
// HTTP allowed) in a new temporary directory and returns its path.
func Bare(t testing.TB) string {
	t.Helper()
	return BareAt(t, filepath.Join(t.TempDir(), "repo.git"))
}

// BareAt is Bare at dir, creating its parents (e.g. root/"user/project.git"
// under an HTTPServer's root).
func BareAt(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	Run(t, "", "init", "--quiet", "--bare", "--initial-branch=master", "--", dir)
	Run(t, dir, "config", "http.receivepack", "true")
	return dir
}

// Refs returns every ref of the repository at gitDir and its object.
func Refs(t testing.TB, gitDir string) map[string]string {
	t.Helper()
	refs := map[string]string{}
	for _, line := range strings.Split(Run(t, "", "--git-dir="+gitDir, "for-each-ref", "--format=%(refname) %(objectname)"), "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			refs[name] = sha
		}
	}
	return refs
}

// Count returns how many commits are reachable from ref in gitDir.
func Count(t testing.TB, gitDir, ref string) int {
	t.Helper()
	out := strings.TrimSpace(Run(t, "", "--git-dir="+gitDir, "rev-list", "--count", ref, "--"))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("rev-list --count %s: %q", ref, out)
	}
	return n
}

// Backend returns `git http-backend` (CGI) serving every repository under
// root, pushes included, as REMOTE_USER user, in Env plus env.
func Backend(root string, env ...string) http.Handler {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		gitPath = "git"
	}
	return &cgi.Handler{
		Path:   gitPath,
		Args:   []string{"http-backend"},
		Dir:    root,
		Env:    append(append(Env(), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=bot"), env...),
		Stderr: io.Discard,
	}
}

// Server is git http-backend on 127.0.0.1 with counters of its requests.
type Server struct {
	URL string // base URL: a repository root/x.git is URL+"/x.git"
	*httptest.Server

	Authed atomic.Int64 // requests that carried the token (all, without one)
	Denied atomic.Int64 // requests refused for want of it
	Pushes atomic.Int64 // receive-pack POSTs that carried it
}

// ServerOption configures HTTPServer.
type ServerOption func(*serverConfig)

type serverConfig struct {
	header string
	fail   func(n int) int
	front  func(w http.ResponseWriter, r *http.Request) bool
}

// WithAuthorization requires the Authorization header to be exactly want
// (instead of the token rule).
func WithAuthorization(want string) ServerOption { return func(c *serverConfig) { c.header = want } }

// WithFailures answers request n (from 1) with status fail(n) instead of
// serving it, when that is not 0.
func WithFailures(fail func(n int) int) ServerOption { return func(c *serverConfig) { c.fail = fail } }

// WithFront lets front see each request first; it returns true when it has
// answered it itself.
func WithFront(front func(w http.ResponseWriter, r *http.Request) bool) ServerOption {
	return func(c *serverConfig) { c.front = front }
}

// TokenAccepted reports whether the Authorization header value carries
// token the ways forges accept one: as an HTTP Basic password (any user,
// e.g. x-access-token or oauth2) or as a bearer token.
func TokenAccepted(header, token string) bool {
	if header == "Bearer "+token {
		return true
	}
	enc, ok := strings.CutPrefix(header, "Basic ")
	if !ok {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	_, pw, ok := strings.Cut(string(dec), ":")
	return ok && pw == token
}

// HTTPServer serves the bare repositories under root with git http-backend
// on 127.0.0.1 until the test ends. When token is not "", every request must
// carry it (TokenAccepted) or is answered 401 with a Basic challenge.
func HTTPServer(t testing.TB, root, token string, opts ...ServerOption) *Server {
	t.Helper()
	var c serverConfig
	for _, o := range opts {
		o(&c)
	}
	backend := Backend(root)
	s := &Server{}
	var n atomic.Int64
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.front != nil && c.front(w, r) {
			return
		}
		if c.fail != nil {
			if code := c.fail(int(n.Add(1))); code != 0 {
				http.Error(w, http.StatusText(code), code)
				return
			}
		}
		h := r.Header.Get("Authorization")
		if (c.header != "" && h != c.header) || (c.header == "" && token != "" && !TokenAccepted(h, token)) {
			s.Denied.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.Authed.Add(1)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			s.Pushes.Add(1)
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Server.Close)
	s.URL = s.Server.URL
	return s
}

// Commit makes a commit in the non-bare repository at dir with the file
// path set to content and returns its hash.
func Commit(t testing.TB, dir, path, content, message string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, dir, "add", "--", path)
	Run(t, dir, "commit", "--quiet", "-m", message)
	return strings.TrimSpace(Run(t, dir, "rev-parse", "HEAD"))
}
