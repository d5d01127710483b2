package git

import (
	"context"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/gittest"
)

// testEnv is the environment for git commands run by tests (gittest's).
func testEnv() []string { return gittest.Env() }

// gitT runs the real git program in dir with stdin and returns its stdout,
// failing the test on error.
func gitT(t testing.TB, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	return []byte(gittest.RunInput(t, dir, stdin, args...))
}

// newBare returns a fresh bare repository made by Init.
func newBare(t testing.TB) string {
	t.Helper()
	dir := t.TempDir() + "/repo.git"
	if err := Init(context.Background(), dir, true); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openPackWriter starts a PackWriter on dir.
func openPackWriter(t testing.TB, dir string) *PackWriter {
	t.Helper()
	pw, err := NewPackWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

func mustHash(t testing.TB, s string) Hash {
	t.Helper()
	h, err := ParseHash(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
