package hggit_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/hg"
)

func hgRun(t *testing.T, env []string, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "hg", args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestConvert runs hg-git's gexport through the backend on a small
// repository: the result names what hg-git wrote in .hg/git, and a second
// run converts nothing.
func TestConvert(t *testing.T) {
	if _, err := os.Stat("/usr/lib/python3/dist-packages/hggit"); err != nil {
		t.Fatalf("hg-git (mercurial-git) is required: %v", err)
	}
	t.Parallel()
	rc := filepath.Join(t.TempDir(), "hgrc")
	os.WriteFile(rc, nil, 0o644)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "HGPLAIN=1", "HGRCPATH=" + rc, "HGUSER=T <t@example.com>"}
	dir := filepath.Join(t.TempDir(), "r")
	hgRun(t, env, "", "init", dir)
	os.WriteFile(filepath.Join(dir, "f"), []byte("x\n"), 0o644)
	hgRun(t, env, dir, "commit", "-A", "-m", "one", "-d", "1500000000 0")
	hgRun(t, env, dir, "tag", "-d", "1500000001 0", "v 1")
	hgRun(t, env, dir, "bookmark", "-r", "0", "main")

	c := &hggit.Converter{Runner: &hg.Runner{Timeout: 5 * time.Minute}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress int
	res, err := c.Convert(ctx, dir, convert.Options{Progress: func(done, total int) { progress = done }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Converted != 2 || res.Total != 2 || progress != 2 {
		t.Errorf("converted %d of %d (progress %d), want 2 of 2", res.Converted, res.Total, progress)
	}
	m, err := convert.ReadMap(convert.MapPath(dir))
	if err != nil || len(m) != 2 {
		t.Fatalf("map: %d entries, %v", len(m), err)
	}
	if res.Bookmarks["main"] == "" || res.Tags["v_1"] == "" || res.Tags["v_1"] != res.Bookmarks["main"] {
		t.Errorf("bookmarks %v tags %v", res.Bookmarks, res.Tags)
	}
	if res.Tip == "" || res.BranchHeads["default"] != res.Tip {
		t.Errorf("tip %q branch heads %v", res.Tip, res.BranchHeads)
	}
	again, err := c.Convert(ctx, dir, convert.Options{})
	if err != nil || again.Converted != 0 {
		t.Errorf("second run: converted %d, %v", again.Converted, err)
	}
}
