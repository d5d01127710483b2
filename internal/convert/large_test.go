package convert_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// buildDag makes a repository of n linear changesets with hg debugbuilddag
// (fast: they touch no file), then a changeset adding a few files, with
// bookmark main on it.
func buildDag(t *testing.T, n int) string {
	t.Helper()
	dir := hgtest.NewRepo(t).Dir
	hgtest.Run(t, dir, "debugbuilddag", "+"+strconv.Itoa(n))
	importFiles(t, dir, "base", "a", "dir/b", "dir/sub/c")
	hgtest.Run(t, dir, "bookmark", "-r", "tip", "main")
	return dir
}

// importFiles commits, on top of tip and without a working copy, a
// changeset adding the given files.
func importFiles(t *testing.T, dir, msg string, files ...string) {
	t.Helper()
	var patch strings.Builder
	for _, f := range files {
		fmt.Fprintf(&patch, "diff --git a/%s b/%s\nnew file mode 100644\n--- /dev/null\n+++ b/%s\n@@ -0,0 +1,1 @@\n+%s\n", f, f, f, msg)
	}
	p := filepath.Join(t.TempDir(), "patch")
	if err := os.WriteFile(p, []byte(patch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	hgtest.Run(t, dir, "update", "-q", "tip") // import --bypass commits on "."
	hgtest.Run(t, dir, "import", "-q", "--bypass", "-m", msg, p)
}

// addOne commits one changeset on top of tip and moves bookmark main to it.
func addOne(t *testing.T, dir, file string) {
	t.Helper()
	importFiles(t, dir, "one more", file)
	hgtest.Run(t, dir, "bookmark", "-f", "-r", "tip", "main")
}

// TestIncrementalBounded checks that converting one new changeset reads a
// number of revlog entries independent of the history length.
func TestIncrementalBounded(t *testing.T) {
	requireHg(t)
	t.Parallel()
	reads := map[int]int64{}
	for _, n := range []int{200, 2000} {
		dir := buildDag(t, n)
		if res := runNative(t, dir); res.Converted != n+1 {
			t.Fatalf("%d: first run converted %d", n, res.Converted)
		}
		addOne(t, dir, "dir/one-more")
		res := runNative(t, dir)
		if res.Converted != 1 {
			t.Fatalf("%d: increment converted %d, want 1", n, res.Converted)
		}
		if res.Bookmarks["main"] == "" || res.Tip != res.Bookmarks["main"] {
			t.Errorf("%d: bookmark main %q, tip %q", n, res.Bookmarks["main"], res.Tip)
		}
		reads[n] = res.RevlogReads
		t.Logf("%d changesets: one-changeset increment read %d revlog entries", n, res.RevlogReads)
		if n != 200 {
			continue
		}
		// A state of another version (or damaged) is ignored and rebuilt
		// by a full scan; the next increment is bounded again.
		if err := os.WriteFile(convert.StatePath(dir), []byte("synchroniser convert state\nv0"), 0o644); err != nil {
			t.Fatal(err)
		}
		addOne(t, dir, "two-more")
		if res := runNative(t, dir); res.Converted != 1 || res.RevlogReads <= int64(n) {
			t.Errorf("with a damaged state: converted %d reading %d entries, want 1 reading more than %d", res.Converted, res.RevlogReads, n)
		}
		addOne(t, dir, "dir/sub/three-more")
		if res := runNative(t, dir); res.Converted != 1 || res.RevlogReads > 10 {
			t.Errorf("after the state was rebuilt: converted %d reading %d entries, want 1 reading at most 10", res.Converted, res.RevlogReads)
		}
		// The increments give what a fresh conversion gives.
		full := filepath.Join(t.TempDir(), "full")
		copyDir(t, dir, full)
		os.RemoveAll(convert.GitDir(full))
		os.Remove(convert.MapPath(full))
		os.Remove(convert.StatePath(full))
		runNative(t, full)
		compareMaps(t, readMap(t, full), readMap(t, dir))
	}
	if reads[2000] != reads[200] || reads[200] > 10 {
		t.Errorf("revlog entries read for one new changeset: %d on 200 changesets, %d on 2000 (want equal, small)", reads[200], reads[2000])
	}
}
