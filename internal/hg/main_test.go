package hg

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// requireHg skips nothing: the project's tests need a real hg.
func requireHg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("hg"); err != nil {
		t.Fatalf("hg is required for these tests: %v", err)
	}
}

// runHg runs hg with args in dir (may be "") in hgtest's environment and returns stdout.
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
