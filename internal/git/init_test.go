package git

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bare := filepath.Join(t.TempDir(), "a", "b.git")
	if err := Init(ctx, bare, true); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(gitT(t, bare, nil, "rev-parse", "--is-bare-repository"))); got != "true" {
		t.Errorf("bare: is-bare-repository = %s", got)
	}
	if got := strings.TrimSpace(string(gitT(t, bare, nil, "symbolic-ref", "HEAD"))); got != "refs/heads/master" {
		t.Errorf("HEAD = %s", got)
	}
	gitT(t, bare, nil, "fsck", "--strict")
	if _, err := os.Stat(filepath.Join(bare, "hooks")); err == nil {
		t.Error("hooks directory created")
	}
	// A second Init leaves the repository alone.
	os.WriteFile(filepath.Join(bare, "description"), []byte("mine\n"), 0o644)
	if err := Init(ctx, bare, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(bare, "description")); string(b) != "mine\n" {
		t.Error("second Init rewrote the repository")
	}

	work := t.TempDir()
	if err := Init(ctx, filepath.Join(work, ".git"), false); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "f"), []byte("x\n"), 0o644)
	if got := string(gitT(t, work, nil, "status", "--porcelain")); got != "?? f\n" {
		t.Errorf("non-bare status = %q", got)
	}
	if got := strings.TrimSpace(string(gitT(t, work, nil, "rev-parse", "--show-toplevel"))); got != work {
		t.Errorf("toplevel = %s, want %s", got, work)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := Init(cancelled, filepath.Join(t.TempDir(), "c.git"), true); err == nil {
		t.Error("Init with a cancelled context succeeded")
	}
}
