package git

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestEnsureBare(t *testing.T) { // not parallel: changes directory
	ctx := context.Background()
	root := t.TempDir()

	// Nothing there: a bare repository is made, parents included, and the
	// path comes back absolute.
	t.Chdir(root)
	abs, err := EnsureBare(ctx, filepath.Join("a", "dest.git"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "a", "dest.git"); abs != want {
		t.Errorf("EnsureBare = %s, want %s", abs, want)
	}
	if got := strings.TrimSpace(string(gitT(t, abs, nil, "rev-parse", "--is-bare-repository"))); got != "true" {
		t.Errorf("is-bare-repository = %s", got)
	}
	if fi, err := os.Stat(abs); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, %v; want 0755", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "a", ".dest.git.init-*")); len(left) != 0 {
		t.Errorf("temporary directories left: %v", left)
	}

	// An existing repository, bare or not, is kept as it is.
	os.WriteFile(filepath.Join(abs, "description"), []byte("mine\n"), 0o644)
	if again, err := EnsureBare(ctx, abs); err != nil || again != abs {
		t.Fatalf("second EnsureBare = %s, %v", again, err)
	}
	if b, _ := os.ReadFile(filepath.Join(abs, "description")); string(b) != "mine\n" {
		t.Errorf("existing repository rewritten: description %q", b)
	}
	work := filepath.Join(root, "work")
	gitT(t, root, nil, "init", "-q", work)
	if _, err := EnsureBare(ctx, work); err != nil {
		t.Errorf("non-bare repository refused: %v", err)
	}

	// Anything else at the path is refused.
	plain := filepath.Join(root, "plain")
	os.Mkdir(plain, 0o755)
	if _, err := EnsureBare(ctx, plain); err == nil || !strings.Contains(err.Error(), "is not a Git repository") {
		t.Errorf("plain directory: %v", err)
	}
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := EnsureBare(ctx, file); err == nil {
		t.Error("file accepted")
	}
}

func TestEnsureBareConcurrent(t *testing.T) {
	t.Parallel()
	dest := filepath.Join(t.TempDir(), "dest.git")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = EnsureBare(context.Background(), dest)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
	gitT(t, dest, nil, "fsck", "--strict")
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".dest.git.init-*")); len(left) != 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

func TestIsRepository(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	gitT(t, root, nil, "init", "-q", "work")
	gitT(t, root, nil, "init", "-q", "--bare", "bare.git")
	os.Mkdir(filepath.Join(root, "plain"), 0o755)
	for dir, want := range map[string]bool{"work": true, "bare.git": true, "plain": false, "absent": false} {
		if got := IsRepository(filepath.Join(root, dir)); got != want {
			t.Errorf("IsRepository(%s) = %v, want %v", dir, got, want)
		}
	}
}

func TestFixHead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := &Runner{}
	head := func(dir string) string {
		return strings.TrimSpace(string(gitT(t, dir, nil, "symbolic-ref", "HEAD")))
	}
	withBranches := func(branches ...string) string {
		dir := newBare(t)
		tip := commitChain(t, dir, ZeroHash, 1, "x")[0]
		refs := map[string]Hash{}
		for _, b := range branches {
			refs[b] = tip
		}
		if err := r.UpdateRefs(ctx, dir, refs); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tc := range []struct {
		name      string
		refs      []string
		tipBranch string
		want      string
	}{
		{"HEAD names a branch", []string{"refs/heads/master", "refs/heads/a"}, "main", "refs/heads/master"},
		{"tip branch", []string{"refs/heads/main", "refs/heads/a"}, "main", "refs/heads/main"},
		{"first branch", []string{"refs/heads/topic", "refs/heads/b", "refs/heads/c"}, "main", "refs/heads/b"},
		{"tags only", []string{"refs/tags/v1"}, "main", "refs/heads/master"},
		{"empty", nil, "main", "refs/heads/master"},
	} {
		dir := withBranches(tc.refs...)
		if err := r.FixHead(ctx, dir, tc.tipBranch); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := head(dir); got != tc.want {
			t.Errorf("%s: HEAD = %s, want %s", tc.name, got, tc.want)
		}
	}

	// A detached HEAD is left alone.
	dir := withBranches("refs/heads/main")
	tip := strings.TrimSpace(string(gitT(t, dir, nil, "rev-parse", "refs/heads/main")))
	os.WriteFile(filepath.Join(dir, "HEAD"), []byte(tip+"\n"), 0o644)
	if err := r.FixHead(ctx, dir, "main"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "HEAD")); strings.TrimSpace(string(b)) != tip {
		t.Errorf("detached HEAD changed to %q", b)
	}

	// Not a repository: an error naming the destination.
	if err := r.FixHead(ctx, t.TempDir(), "main"); err == nil || !strings.Contains(err.Error(), "destination ") {
		t.Errorf("not a repository: %v", err)
	}
}
