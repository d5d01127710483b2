package git

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
)

// testEnv is the environment for git commands run by tests (gittest's).
func testEnv() []string { return gittest.Env() }

// gitT runs the real git program in dir with stdin and returns its stdout,
// failing the test on error.
func gitT(t testing.TB, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	out, err := gitRun(t, dir, stdin, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func gitRun(t testing.TB, dir string, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = testEnv()
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &testCmdError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

type testCmdError struct {
	err    error
	stderr string
}

func (e *testCmdError) Error() string { return e.err.Error() + ": " + e.stderr }

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
