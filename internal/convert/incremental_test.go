package convert_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// checkParents checks that parents, a run's Result.Parents, has the n
// commits the run wrote, each with the parents git reads from it.
func checkParents(t *testing.T, dir string, parents map[git.Hash][]git.Hash, n int) {
	t.Helper()
	if len(parents) != n {
		t.Errorf("Result.Parents has %d commits, want %d", len(parents), n)
	}
	for h, ps := range parents {
		line := strings.Fields(gittest.Run(t, "", "--git-dir="+convert.GitDir(dir), "rev-list", "--parents", "-n1", h.String()))
		got := make([]string, len(ps))
		for i, p := range ps {
			got[i] = p.String()
		}
		if len(line) == 0 || strings.Join(line[1:], " ") != strings.Join(got, " ") {
			t.Errorf("Result.Parents[%s] = %v, git reads %v", h, got, line)
		}
	}
}

// growRepo adds n changesets touching several files, a branch and a merge.
func growRepo(r *repo, from, n int) {
	for i := from; i < from+n; i++ {
		r.Write("f"+strconv.Itoa(i%5), strconv.Itoa(i)+"\n")
		r.Write("dir/g"+strconv.Itoa(i%3), "g "+strconv.Itoa(i)+"\n")
		if i%7 == 3 {
			r.Run("cp", "f0", "copy"+strconv.Itoa(i))
		}
		r.Step("change " + strconv.Itoa(i))
	}
}

// newGrownRepo is a new repository of n changesets made by growRepo, with
// the bookmark main on the last.
func newGrownRepo(t testing.TB, n int) *repo {
	t.Helper()
	r := newRepo(t)
	growRepo(r, 0, n)
	r.Run("bookmark", "main")
	return r
}

// nativeMap converts a copy of the repository at src and returns its map.
func nativeMap(t testing.TB, src string) map[string]string {
	t.Helper()
	full := copyRepo(t, src, "full")
	runNative(t, full)
	return readMap(t, full)
}

// checkResumed converts dir, left by an interrupted conversion (what) with
// partial in its map, to the end: the run converts only the changesets
// left, and the map then equals want and .hg/git passes git fsck.
func checkResumed(t *testing.T, what, dir string, partial, want map[string]string) {
	t.Helper()
	res := runNative(t, dir)
	if res.Converted != len(want)-len(partial) {
		t.Errorf("%s: resumed run converted %d, want %d", what, res.Converted, len(want)-len(partial))
	}
	compareMaps(t, want, readMap(t, dir))
	fsck(t, dir)
}

// TestIncremental converts, adds changesets, converts again: only the new
// ones are processed and the result equals a fresh conversion (and
// hg-git's, for a run that hg-git started and the native converter
// continues).
func TestIncremental(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	r := newGrownRepo(t, 12)

	// Native, then native again.
	inc := copyRepo(t, r.dir, "inc")
	if res := runNative(t, inc); res.Converted != 12 {
		t.Fatalf("first run converted %d, want 12", res.Converted)
	}
	// hg-git first, native continues.
	mixed := copyRepo(t, r.dir, "mixed")
	runHgGit(t, mixed)

	for _, d := range []string{inc, mixed} {
		rr := openRepo(t, d)
		hgtest.Run(t, d, "update", "-q", "tip")
		growRepo(rr, 12, 6)
		hgtest.Run(t, d, "update", "-q", "5")
		rr.Run("branch", "side")
		growRepo(rr, 30, 3)
		hgtest.Run(t, d, "update", "-q", "main")
		rr.Run("merge", "--tool", "internal:local", "side")
		rr.Step("merge side")
	}
	if res := runNative(t, inc); res.Converted != 10 || res.Total != 22 {
		t.Errorf("second run converted %d of %d, want 10 of 22", res.Converted, res.Total)
	} else {
		checkParents(t, inc, res.Parents, 10)
	}
	if res := runNative(t, inc); res.Converted != 0 {
		t.Errorf("third run converted %d, want 0", res.Converted)
	}
	full := freshCopy(t, inc, "full")
	fullRes := runNative(t, full)
	incRes := runNative(t, inc)
	compareMaps(t, readMap(t, full), readMap(t, inc))
	compareStringMaps(t, "bookmarks", fullRes.Bookmarks, incRes.Bookmarks)
	compareStringMaps(t, "branch heads", fullRes.BranchHeads, incRes.BranchHeads)

	// The mixed repository has the same changesets as inc (same commands,
	// same dates): native continuing hg-git's work gives the same SHAs, and
	// hg-git's own continuation of a copy agrees.
	if res := runNative(t, mixed); res.Converted != 10 {
		t.Errorf("native after hg-git converted %d, want 10", res.Converted)
	}
	compareMaps(t, readMap(t, full), readMap(t, mixed))
	fsck(t, mixed)
	hgOnly := freshCopy(t, full, "hgonly")
	runHgGit(t, hgOnly)
	compareMaps(t, readMap(t, hgOnly), readMap(t, full))

	// And hg-git continues the native converter's work.
	back := copyRepo(t, r.dir, "back")
	runNative(t, back)
	hgtest.Run(t, back, "update", "-q", "tip")
	growRepo(openRepo(t, back), 12, 6)
	runHgGit(t, back)
	got := readMap(t, back)
	for n, h := range readMap(t, full) {
		if g, ok := got[n]; ok && g != h {
			t.Errorf("hg-git continuing native: %s is %s, want %s", n, g, h)
		}
	}
	if len(got) != 18 {
		t.Errorf("hg-git continuing native: %d in map, want 18", len(got))
	}
}

// TestInterrupted cancels conversions at several points and at every
// checkpoint: each next run completes, and the result equals a full run.
func TestInterrupted(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	r := newGrownRepo(t, 25)
	want := nativeMap(t, r.dir)

	for _, stopAt := range []int{1, 4, 10, 24} {
		d := copyRepo(t, r.dir, "stop"+strconv.Itoa(stopAt))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		n := &convert.Native{CheckpointEvery: 3}
		_, err := n.Convert(ctx, d, convert.Options{Progress: func(done, total int) {
			if done == stopAt {
				cancel()
			}
		}})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("stop at %d: err = %v, want context.Canceled", stopAt, err)
		}
		partial := readMap(t, d)
		if len(partial) == 0 || len(partial) >= 25 {
			t.Errorf("stop at %d: %d changesets in the map", stopAt, len(partial))
		}
		for node, h := range partial {
			if want[node] != h {
				t.Errorf("stop at %d: partial map has %s → %s, want %s", stopAt, node, h, want[node])
			}
			if out := gitOut(t, d, "cat-file", "-t", h); out != "commit\n" {
				t.Errorf("stop at %d: map names %s, which is %q", stopAt, h, out)
			}
		}
		checkResumed(t, "stop at "+strconv.Itoa(stopAt), d, partial, want)
	}
}

// fsck checks the converted repository's .hg/git with git fsck --strict.
func fsck(t testing.TB, hgRoot string) {
	t.Helper()
	for _, l := range strings.Split(gitOut(t, hgRoot, "fsck", "--strict", "--no-dangling"), "\n") {
		if l != "" && !strings.HasPrefix(l, "notice: ") {
			t.Errorf("git fsck %s: %s", hgRoot, l)
		}
	}
}

// TestBranchHeads checks Result.BranchHeads against Mercurial's own idea of
// each named branch's tipmost open head (or tipmost head when all are
// closed).
func TestBranchHeads(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	for _, tc := range hgtest.ConformanceRepos {
		if tc.Name != "branches-closed" && tc.Name != "merges" {
			continue
		}
		r := newRepo(t, tc.Init...)
		tc.Build(r.Script)
		res := runNative(t, r.dir)
		m := readMap(t, r.dir)
		branches := strings.Split(strings.TrimSuffix(hgtest.Run(t, r.dir, "log", "-r", "head()", "-T", "{branch}\n"), "\n"), "\n")
		want := map[string]string{}
		for _, b := range branches {
			rev := strings.TrimSpace(hgtest.Run(t, r.dir, "log", "-r", "max(head() and branch(r'"+b+"') and not closed()) or max(head() and branch(r'"+b+"'))", "-l", "1", "-T", "{node}"))
			want[b] = m[rev]
		}
		compareStringMaps(t, tc.Name+" branch heads", want, res.BranchHeads)
	}
}

// TestKilled kills a conversion process (this test binary re-run as a
// helper) after its first checkpoint: the next run completes from the map
// it left, equals a full conversion, and the repository passes git fsck.
func TestKilled(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	r := newGrownRepo(t, 20)
	want := nativeMap(t, r.dir)

	d := copyRepo(t, r.dir, "killed")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKillHelper$")
	cmd.Env = append(os.Environ(), "CONVERT_KILL_HELPER_DIR="+d)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if st, err := os.Stat(convert.MapPath(d)); err == nil && st.Size() > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the helper wrote no map")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	partial := readMap(t, d)
	if len(partial) == 0 || len(partial) >= 20 {
		t.Fatalf("killed run left %d changesets in the map", len(partial))
	}
	checkResumed(t, "killed run", d, partial, want)
}

// TestKillHelper is the process TestKilled kills: a slowed conversion with
// a checkpoint every 2 changesets.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv("CONVERT_KILL_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestKilled")
	}
	n := &convert.Native{CheckpointEvery: 2}
	n.Convert(context.Background(), dir, convert.Options{Progress: func(done, total int) {
		time.Sleep(300 * time.Millisecond)
	}})
}
