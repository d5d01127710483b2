package hg

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// serveHg runs `hg serve` for repo on 127.0.0.1 and returns its URL.
func serveHg(t *testing.T, repo string) string { return hgtest.Serve(t, hgtest.Open(t, repo)).URL }

func TestRunnerCloneAndPull(t *testing.T) {
	requireHg(t)
	t.Parallel()
	ctx := testContext(t)
	src := initRepo(t, "src")
	b := newBuilder(t, src)
	b.Write("a", "1\n")
	b.commit("first")
	url := serveHg(t, src)

	var r Runner
	v, err := r.Version(ctx)
	if err != nil || !regexp.MustCompile(`^\d+\.\d+`).MatchString(v) {
		t.Fatalf("Version() = %q, %v", v, err)
	}

	for name, source := range map[string]string{"local": src, "http": url} {
		dest := filepath.Join(t.TempDir(), "clone-"+name)
		if err := r.Clone(ctx, source, dest); err != nil {
			t.Fatalf("Clone(%s): %v", name, err)
		}
		repo, err := Open(dest)
		if err != nil {
			t.Fatal(err)
		}
		if repo.Len() != 1 {
			t.Errorf("%s clone has %d changesets, want 1", name, repo.Len())
		}
		repo.Close()
		if _, err := exec.LookPath("ls"); err == nil {
			if files, _ := filepath.Glob(filepath.Join(dest, "a")); len(files) != 0 {
				t.Errorf("%s clone has a working copy; want --noupdate", name)
			}
		}
	}

	dest := filepath.Join(t.TempDir(), "pulled")
	if err := r.Clone(ctx, url, dest); err != nil {
		t.Fatal(err)
	}
	b.Write("a", "2\n")
	b.commit("second")
	if err := r.Pull(ctx, dest, url); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if err := r.Pull(ctx, dest, url); err != nil { // nothing new is not an error
		t.Fatalf("second Pull: %v", err)
	}
	repo, err := Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	if repo.Len() != 2 {
		t.Fatalf("after pull: %d changesets, want 2", repo.Len())
	}
}

func TestRunnerErrors(t *testing.T) {
	requireHg(t)
	t.Parallel()

	t.Run("not installed", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		for _, path := range []string{"hg-does-not-exist-anywhere", filepath.Join(t.TempDir(), "hg")} {
			r := Runner{Path: path}
			_, err := r.Version(ctx)
			if !errors.Is(err, ErrNotInstalled) {
				t.Errorf("Path %q: err = %v, want ErrNotInstalled", path, err)
			}
		}
		r := Runner{Path: "hg-does-not-exist-anywhere"}
		if _, err := r.run(ctx, "", "version"); !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("err = %v, want exec.ErrNotFound", err)
		}
	})

	t.Run("credentials redacted", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		src := initRepo(t, "src")
		url := serveHg(t, src)
		bad := strings.Replace(url, "http://", "http://alice:s3cr3t-token@", 1) + "no/such/repo"
		var r Runner
		err := r.Clone(ctx, bad, filepath.Join(t.TempDir(), "x"))
		if err == nil {
			t.Fatal("clone of a missing repository succeeded")
		}
		var he *Error
		if !errors.As(err, &he) {
			t.Fatalf("err %T, want *Error", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "alice") {
			t.Fatalf("error leaks credentials: %v", err)
		}
		if he.Stderr == "" {
			t.Errorf("error carries no stderr: %v", err)
		}
	})

	t.Run("dash-dash", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		var r Runner
		dest := filepath.Join(t.TempDir(), "x")
		err := r.Clone(ctx, "--config=hooks.pre-clone=touch "+dest+"-pwned", dest)
		var he *Error
		if !errors.As(err, &he) || he.Kind != KindNotFound || he.ExitCode != -1 {
			t.Fatalf("Clone with an option-like source: %v, want it refused as not found", err)
		}
		if m, _ := filepath.Glob(dest + "-pwned"); len(m) > 0 {
			t.Fatal("option-like source was interpreted as an option")
		}
	})

	t.Run("no user configuration", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		rc := filepath.Join(t.TempDir(), "hgrc")
		writeFile(t, rc, "[ui]\nusername = Evil <evil@example.com>\n")
		r := Runner{Env: []string{"HGRCPATH=" + rc, "HGPLAIN="}, Config: []string{"ui.note=set-by-runner"}}
		out, _ := r.run(ctx, "", "config", "ui.username")
		if strings.Contains(string(out), "Evil") {
			t.Fatalf("HGRCPATH from Env was honoured: %q", out)
		}
		out, err := r.run(ctx, "", "config", "ui.note")
		if err != nil || strings.TrimSpace(string(out)) != "set-by-runner" {
			t.Fatalf("Config not passed: %q, %v", out, err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		r := Runner{Timeout: time.Nanosecond}
		_, err := r.Version(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
	})

	t.Run("output bound", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		r := Runner{MaxOutput: 8}
		_, err := r.run(ctx, "", "version")
		if !errors.Is(err, ErrOutputTooLarge) {
			t.Fatalf("err = %v, want ErrOutputTooLarge", err)
		}
	})
}
