package convert_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// growRepo adds n changesets touching several files, a branch and a merge.
func growRepo(r *repo, from, n int) {
	for i := from; i < from+n; i++ {
		r.Write("f"+strconv.Itoa(i%5), strconv.Itoa(i)+"\n")
		r.Write("dir/g"+strconv.Itoa(i%3), "g "+strconv.Itoa(i)+"\n")
		if i%7 == 3 {
			r.Run("cp", "f0", "copy"+strconv.Itoa(i))
		}
		r.commit("change " + strconv.Itoa(i))
	}
}

// TestIncremental converts, adds changesets, converts again: only the new
// ones are processed and the result equals a fresh conversion (and
// hg-git's, for a run that hg-git started and the native converter
// continues).
func TestIncremental(t *testing.T) {
	requireHg(t)
	t.Parallel()
	r := newRepo(t)
	growRepo(r, 0, 12)
	r.Run("bookmark", "main")

	// Native, then native again.
	inc := filepath.Join(t.TempDir(), "inc")
	copyDir(t, r.dir, inc)
	if res := runNative(t, inc); res.Converted != 12 {
		t.Fatalf("first run converted %d, want 12", res.Converted)
	}
	// hg-git first, native continues.
	mixed := filepath.Join(t.TempDir(), "mixed")
	copyDir(t, r.dir, mixed)
	runHgGit(t, mixed)

	for _, d := range []string{inc, mixed} {
		rr := &repo{Repo: hgtest.Open(t, d), t: t, dir: d, n: 100}
		hgtest.Run(t, d, "update", "-q", "tip")
		growRepo(rr, 12, 6)
		hgtest.Run(t, d, "update", "-q", "5")
		rr.Run("branch", "side")
		growRepo(rr, 30, 3)
		hgtest.Run(t, d, "update", "-q", "main")
		rr.Run("merge", "--tool", "internal:local", "side")
		rr.commit("merge side")
	}
	if res := runNative(t, inc); res.Converted != 10 || res.Total != 22 {
		t.Errorf("second run converted %d of %d, want 10 of 22", res.Converted, res.Total)
	}
	if res := runNative(t, inc); res.Converted != 0 {
		t.Errorf("third run converted %d, want 0", res.Converted)
	}
	full := filepath.Join(t.TempDir(), "full")
	copyDir(t, inc, full)
	os.RemoveAll(convert.GitDir(full))
	os.Remove(convert.MapPath(full))
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
	hgOnly := filepath.Join(t.TempDir(), "hgonly")
	copyDir(t, full, hgOnly)
	os.RemoveAll(convert.GitDir(hgOnly))
	os.Remove(convert.MapPath(hgOnly))
	runHgGit(t, hgOnly)
	compareMaps(t, readMap(t, hgOnly), readMap(t, full))

	// And hg-git continues the native converter's work.
	back := filepath.Join(t.TempDir(), "back")
	copyDir(t, r.dir, back)
	runNative(t, back)
	for _, d := range []string{back} {
		rr := &repo{Repo: hgtest.Open(t, d), t: t, dir: d, n: 100}
		hgtest.Run(t, d, "update", "-q", "tip")
		growRepo(rr, 12, 6)
	}
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
	requireHg(t)
	t.Parallel()
	r := newRepo(t)
	growRepo(r, 0, 25)
	r.Run("bookmark", "main")

	full := filepath.Join(t.TempDir(), "full")
	copyDir(t, r.dir, full)
	runNative(t, full)
	want := readMap(t, full)

	for _, stopAt := range []int{1, 4, 10, 24} {
		d := filepath.Join(t.TempDir(), "stop"+strconv.Itoa(stopAt))
		copyDir(t, r.dir, d)
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
		res := runNative(t, d)
		if res.Converted != 25-len(partial) {
			t.Errorf("stop at %d: resumed run converted %d, want %d", stopAt, res.Converted, 25-len(partial))
		}
		compareMaps(t, want, readMap(t, d))
		fsck(t, d)
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
	requireHg(t)
	t.Parallel()
	for _, tc := range conformanceRepos {
		if tc.name != "branches-closed" && tc.name != "merges" {
			continue
		}
		r := newRepo(t, tc.init...)
		tc.build(r)
		res := runNative(t, r.dir)
		m := readMap(t, r.dir)
		branches := strings.Fields(hgtest.Run(t, r.dir, "log", "-r", "head()", "-T", "{branch|urlescape}\n"))
		want := map[string]string{}
		for _, b := range branches {
			b = unescapeURL(t, b)
			rev := strings.TrimSpace(hgtest.Run(t, r.dir, "log", "-r", "max(head() and branch(r'"+b+"') and not closed()) or max(head() and branch(r'"+b+"'))", "-l", "1", "-T", "{node}"))
			want[b] = m[rev]
		}
		compareStringMaps(t, tc.name+" branch heads", want, res.BranchHeads)
	}
}

func unescapeURL(t *testing.T, s string) string {
	t.Helper()
	u, err := url.PathUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestKilled kills a conversion process (this test binary re-run as a
// helper) after its first checkpoint: the next run completes from the map
// it left, equals a full conversion, and the repository passes git fsck.
func TestKilled(t *testing.T) {
	requireHg(t)
	t.Parallel()
	r := newRepo(t)
	growRepo(r, 0, 20)
	full := filepath.Join(t.TempDir(), "full")
	copyDir(t, r.dir, full)
	runNative(t, full)

	d := filepath.Join(t.TempDir(), "killed")
	copyDir(t, r.dir, d)
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
	res := runNative(t, d)
	if res.Converted != 20-len(partial) {
		t.Errorf("resumed run converted %d, want %d", res.Converted, 20-len(partial))
	}
	compareMaps(t, readMap(t, full), readMap(t, d))
	fsck(t, d)
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
