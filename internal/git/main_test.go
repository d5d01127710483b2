package git

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// testEnv is the environment for git commands run by tests: no user or system
// configuration, fixed identities and dates.
func testEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"GIT_AUTHOR_NAME=Test Author",
		"GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_AUTHOR_DATE=1700000000 +0100",
		"GIT_COMMITTER_NAME=Test Committer",
		"GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_COMMITTER_DATE=1700000100 -0230",
	}
}

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

func mustHash(t testing.TB, s string) Hash {
	t.Helper()
	h, err := ParseHash(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
