package mirror

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// testEnv is the environment of the hg and git commands tests run
// themselves: no user configuration, fixed identities.
var testEnv []string

func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "mirror-test-home")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testEnv = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(),
		"HGPLAIN=1", "HGRCPATH=", "HGUSER=Test User <test@example.org>", "HGENCODING=utf-8",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Git Author", "GIT_AUTHOR_EMAIL=git@example.org",
		"GIT_COMMITTER_NAME=Git Author", "GIT_COMMITTER_EMAIL=git@example.org",
		"GIT_AUTHOR_DATE=1700000000 +0000", "GIT_COMMITTER_DATE=1700000000 +0000",
	}
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// run runs a program for a test, failing it on error, and returns stdout.
func run(t testing.TB, dir, prog string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = testEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// hgRepo is a Mercurial repository made with hg commands.
type hgRepo struct {
	t    testing.TB
	root string
	date atomic.Int64
}

func newHgRepo(t testing.TB) *hgRepo {
	t.Helper()
	r := &hgRepo{t: t, root: filepath.Join(t.TempDir(), "src")}
	run(t, "", "hg", "init", "--", r.root)
	r.date.Store(1_600_000_000)
	return r
}

func (r *hgRepo) hg(args ...string) string {
	r.t.Helper()
	return run(r.t, r.root, "hg", append([]string{"--repository", r.root}, args...)...)
}

// commit writes content to file and commits it with a fixed, increasing date.
func (r *hgRepo) commit(file, content, msg string) {
	r.t.Helper()
	p := filepath.Join(r.root, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	d := r.date.Add(3600)
	r.hg("commit", "--addremove", "-d", fmt.Sprintf("%d 0", d), "-m", msg)
}

// bareRepo makes an empty bare Git repository.
func bareRepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dest.git")
	run(t, "", "git", "init", "--quiet", "--bare", "--", dir)
	return dir
}

// showRefs returns the refs of a Git repository (full name → sha).
func showRefs(t testing.TB, gitDir string) map[string]string {
	t.Helper()
	out := run(t, "", "git", "--git-dir="+gitDir, "for-each-ref", "--format=%(objectname) %(refname)")
	refs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if sha, ref, ok := strings.Cut(line, " "); ok {
			refs[ref] = sha
		}
	}
	return refs
}

// newSyncer returns a Syncer over a fresh cache that allows local paths
// and plain HTTP, with runners using the test environment.
func newSyncer(t testing.TB) *Syncer {
	t.Helper()
	return &Syncer{
		CacheDir:  t.TempDir(),
		Hg:        &hg.Runner{Timeout: time.Minute},
		Git:       &git.Runner{Timeout: time.Minute},
		AllowFile: true,
		AllowHTTP: true,
	}
}

// hgMirror is a mirror of an hg repository with the default policy.
func hgMirror(name, source, dest string) Mirror {
	return Mirror{Name: name, SCM: SCMHg, Source: source, Dest: Destination{URL: dest}, Policy: DefaultPolicy()}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
