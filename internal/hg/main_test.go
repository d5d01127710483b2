package hg

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = hgtest.Cleanup()
	os.Exit(code)
}

// requireHg fails the test without a real hg.
func requireHg(t testing.TB) {
	t.Helper()
	hgtest.Require(t)
}

// runHg runs hg with args in dir (may be "") in hgtest's environment and returns stdout.
// initRepo makes an empty repository in a directory name of a new
// temporary directory (hg required).
func initRepo(t testing.TB, name string) string {
	t.Helper()
	requireHg(t)
	dir := filepath.Join(t.TempDir(), name)
	runHg(t, "", "init", "--", dir)
	return dir
}

func runHg(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	return []byte(hgtest.Run(t, dir, args...))
}

func writeFile(t testing.TB, path string, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unbundle returns the root of a repository holding a corpus bundle, shared
// by the tests (read only); it skips when the bundle is absent.
func unbundle(t testing.TB, name string) string {
	t.Helper()
	return hgtest.Unbundle(t, name).Dir
}

// changesetAt reads revision rev of r and its manifest.
func changesetAt(t testing.TB, r *Repo, rev int) (*Changeset, []ManifestEntry) {
	t.Helper()
	c, err := r.Changeset(rev)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Manifest(c.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}
