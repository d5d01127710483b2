package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// convGit runs git in the gittest environment and returns its trimmed stdout.
func convGit(t testing.TB, args ...string) string {
	t.Helper()
	return strings.TrimSpace(gittest.Run(t, "", args...))
}

// convRepo makes a Mercurial repository of n changesets with a bookmark
// "main" on tip and a tag "v1" on the first.
func convRepo(t testing.TB, n int) string {
	t.Helper()
	r := hgtest.NewRepo(t)
	for i := range n {
		r.Commit(hgtest.WithMessage(fmt.Sprintf("change %d", i)), hgtest.WithDate(fmt.Sprintf("%d 0", 1600000000+i*60)), hgtest.WithFile(fmt.Sprintf("f%d.txt", i%3), fmt.Sprintf("%d\n", i)))
	}
	r.Tag("v1", hgtest.WithRev("0"), hgtest.WithDate("1700000000 0"))
	r.Run("bookmark", "--", "main")
	return r.Dir
}

func convRun(t testing.TB, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"convert"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestConvertJSON(t *testing.T) {
	t.Parallel()
	repo := convRepo(t, 5)
	ctx := context.Background()

	code, stdout, stderr := convRun(t, ctx, "--json", "--quiet", repo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep convertReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("decode %q: %v", stdout, err)
	}
	gitDir := filepath.Join(repo, ".hg", "git")
	if rep.Changesets != 6 || rep.Total != 6 || rep.Tags != 1 || len(rep.Warnings) != 0 {
		t.Errorf("report = %+v, want 6 of 6 changesets, 1 tag, no warnings", rep)
	}
	if rep.GitDir != gitDir || rep.MapFile != filepath.Join(repo, ".hg", "git-mapfile") {
		t.Errorf("git_dir %q map_file %q: not hg-git's places", rep.GitDir, rep.MapFile)
	}
	if got, want := rep.Bookmarks["main"], convGit(t, "--git-dir="+gitDir, "rev-parse", "refs/heads/main"); got != want || len(rep.Bookmarks) != 1 {
		t.Errorf("bookmarks = %v, want main = %s", rep.Bookmarks, want)
	}
	if rep.Tip != rep.Bookmarks["main"] {
		t.Errorf("tip %s, want main's commit %s", rep.Tip, rep.Bookmarks["main"])
	}
	if got := convGit(t, "--git-dir="+gitDir, "rev-list", "--count", "main"); got != "6" {
		t.Errorf("main has %s commits, want 6", got)
	}
	// The tag's commit is the one the map gives for revision 0.
	node0 := hgtest.Run(t, repo, "log", "-r", "0", "-T", "{node}")
	mapData, err := os.ReadFile(rep.MapFile)
	if err != nil {
		t.Fatal(err)
	}
	want := convGit(t, "--git-dir="+gitDir, "rev-parse", "refs/tags/v1") + " " + node0 + "\n"
	if !strings.Contains(string(mapData), want) {
		t.Errorf("map has no line %q:\n%s", want, mapData)
	}

	code, stdout, stderr = convRun(t, ctx, "--json", repo)
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	rep = convertReport{}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("decode %q: %v", stdout, err)
	}
	if rep.Changesets != 0 || rep.Total != 6 {
		t.Errorf("second run: %d of %d converted, want 0 of 6", rep.Changesets, rep.Total)
	}
}

// TestConvertInterrupted: a run given up keeps what it converted, says so
// in one line, and the next run converts the rest.
func TestConvertInterrupted(t *testing.T) {
	t.Parallel()
	repo := convRepo(t, 2)
	if code, _, stderr := convRun(t, context.Background(), "--quiet", repo); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for i := range 2 {
		if err := os.WriteFile(filepath.Join(repo, "more.txt"), fmt.Appendf(nil, "%d\n", i), 0o644); err != nil {
			t.Fatal(err)
		}
		hgtest.Run(t, repo, "commit", "-A", "-m", fmt.Sprintf("more %d", i), "-d", fmt.Sprintf("%d 0", 1700000100+i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr := convRun(t, ctx, "--quiet", repo)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	if !strings.HasPrefix(stderr, "synchroniser: convert: ") || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, "interrupted") || !strings.Contains(stderr, "run again to continue") {
		t.Errorf("stderr %q: want one line saying the run was interrupted and may continue", stderr)
	}
	code, stdout, stderr := convRun(t, context.Background(), "--json", "--quiet", repo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"changesets": 2,`) || !strings.Contains(stdout, `"total": 5,`) {
		t.Errorf("run after the interruption: %s", stdout)
	}
}

func TestConvertUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		code   int
		stderr string // first line
	}{
		{nil, 2, "synchroniser: convert: want one HGROOT, have 0 operand(s)"},
		{[]string{"a", "b"}, 2, "synchroniser: convert: want one HGROOT, have 2 operand(s)"},
		{[]string{"--converter", "x", dir}, 2, `synchroniser: convert: --converter "x": want native or hg-git`},
		{[]string{"--timeout", "0s", dir}, 2, "synchroniser: convert: --timeout must be positive"},
		{[]string{"--memory", "lots", dir}, 2, `synchroniser: convert: --memory: size: "lots" is not a size (like 1048576, "64KiB" or "1MiB")`},
		{[]string{"--nope", dir}, 2, "synchroniser: convert: flag provided but not defined: -nope"},
		{[]string{dir}, 1, "synchroniser: convert: " + dir + ": not a Mercurial repository (no .hg directory)"},
		{[]string{file}, 1, "synchroniser: convert: " + file + ": not a directory"},
		{[]string{filepath.Join(dir, "missing")}, 1, "synchroniser: convert: " + filepath.Join(dir, "missing") + ": no such file or directory"},
	}
	for _, tt := range tests {
		code, stdout, stderr := convRun(t, context.Background(), tt.args...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != tt.code || first != tt.stderr || stdout != "" {
			t.Errorf("convert %q: exit %d, stderr %q, stdout %q; want exit %d, %q", tt.args, code, stderr, stdout, tt.code, tt.stderr)
		}
		if code == 1 && strings.Count(stderr, "\n") != 1 {
			t.Errorf("convert %q: stderr %q is not one line", tt.args, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".hg")); err == nil {
		t.Errorf("convert created .hg in a directory that was not a repository")
	}
}
