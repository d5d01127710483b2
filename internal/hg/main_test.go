package hg

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hgEnv is the environment every hg test command runs with: plain output,
// no user configuration, a fixed user name.
func hgEnv(t testing.TB) []string {
	t.Helper()
	rc := filepath.Join(t.TempDir(), "hgrc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HGPLAIN=1", "HGRCPATH=" + rc, "HGUSER=Test User <test@example.com>", "HGENCODING=utf-8", "LANG=C.UTF-8", "TZ=UTC"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// requireHg skips nothing: the project's tests need a real hg.
func requireHg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("hg"); err != nil {
		t.Fatalf("hg is required for these tests: %v", err)
	}
}

// runHg runs hg with args in dir (may be "") and returns stdout.
func runHg(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	out, err := runHgErr(t, dir, args...)
	if err != nil {
		t.Fatalf("hg %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func runHgErr(t testing.TB, dir string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "hg", args...)
	cmd.Dir = dir
	cmd.Env = hgEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &hgTestError{err: err, stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

type hgTestError struct {
	err    error
	stderr string
}

func (e *hgTestError) Error() string { return e.err.Error() + ": " + e.stderr }

func writeFile(t testing.TB, path string, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// corpusBundle returns the path of a corpus bundle, or "" when absent.
func corpusBundle(name string) string {
	p := filepath.Join("..", "..", "..", "shared", "corpus", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	p = filepath.Join("/work/shared/corpus", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// unbundle restores a corpus bundle into a new repository (cached per
// test binary run) and returns its root; it skips when the bundle is absent.
func unbundle(t testing.TB, name string) string {
	t.Helper()
	b := corpusBundle(name)
	if b == "" {
		t.Skipf("corpus bundle %s is absent (expected in /work/shared/corpus)", name)
	}
	corpusMu.Lock()
	defer corpusMu.Unlock()
	if dir, ok := corpusDirs[name]; ok {
		return dir
	}
	dir := filepath.Join(corpusRoot, strings.TrimSuffix(name, ".hg"))
	runHg(t, "", "init", "--", dir)
	abs, _ := filepath.Abs(b)
	runHg(t, dir, "unbundle", "--", abs)
	corpusDirs[name] = dir
	return dir
}
