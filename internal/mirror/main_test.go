package mirror

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// hgRepo is an hgtest repository; root is its directory.
type hgRepo struct {
	*hgtest.Repo
	t    testing.TB
	root string
}

func newHgRepo(t testing.TB) *hgRepo {
	t.Helper()
	r := hgtest.InitAt(t, filepath.Join(t.TempDir(), "src"))
	return &hgRepo{Repo: r, t: t, root: r.Dir}
}

// commit writes content to file and commits it with the kit's next date.
func (r *hgRepo) commit(file, content, msg string) {
	r.t.Helper()
	r.Commit(hgtest.WithMessage(msg), hgtest.WithFile(file, content))
}

// mustParse parses s with parse (hg.ParseNode, git.ParseHash), failing
// the test on an error.
func mustParse[T any](t testing.TB, parse func(string) (T, error), s string) T {
	t.Helper()
	v, err := parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
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

// baseSync is the start of most sync tests: a source of one changeset
// ("base"), a new bare destination, a syncer and the test's context.
func baseSync(t *testing.T) (context.Context, *hgRepo, string, *Syncer) {
	t.Helper()
	src := newHgRepo(t)
	src.commit("a", "1\n", "base")
	ctx, dest, s := newSync(t)
	return ctx, src, dest, s
}

// newSync is a sync test's context, a new bare destination and a syncer.
func newSync(t *testing.T) (context.Context, string, *Syncer) {
	t.Helper()
	return testCtx(t), gittest.Bare(t), newSyncer(t)
}

// subjects is `git log --format=%s args...` in the bare repository dest.
func subjects(t *testing.T, dest string, args ...string) string {
	t.Helper()
	return gittest.Run(t, "", append([]string{"--git-dir=" + dest, "log", "--format=%s"}, args...)...)
}

// hgMirror is a mirror of an hg repository with the default policy.
func hgMirror(name, source, dest string) Mirror {
	return Mirror{Name: name, SCM: scm.Hg, Source: source, Dest: Destination{URL: dest}, Policy: DefaultPolicy()}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
