package convert_test

import (
	"path/filepath"
	"testing"
)

// TestClickConformance converts click (3,333 changesets) with hg-git and
// natively and requires every commit to be identical. hg-git needs about
// 30 s here, so under -short only the native conversion runs (and its
// determinism is checked instead).
func TestClickConformance(t *testing.T) {
	requireHg(t)
	t.Parallel()
	src := unbundle(t, "click.hg")
	native := filepath.Join(t.TempDir(), "native")
	copyDir(t, src, native)
	res := runNative(t, native)
	got := readMap(t, native)
	if len(got) != 3333 || res.Converted != 3333 || res.Total != 3333 {
		t.Fatalf("native: %d in map, converted %d of %d; want 3333", len(got), res.Converted, res.Total)
	}
	if testing.Short() {
		t.Log("-short: hg-git's 30 s reference run on click skipped; checking determinism only")
		again := filepath.Join(t.TempDir(), "again")
		copyDir(t, src, again)
		runNative(t, again)
		compareMaps(t, got, readMap(t, again))
		return
	}
	ref := filepath.Join(t.TempDir(), "hggit")
	copyDir(t, src, ref)
	want := runHgGit(t, ref)
	compareMaps(t, readMap(t, ref), got)
	compareStringMaps(t, "bookmarks", want.Bookmarks, res.Bookmarks)
	compareStringMaps(t, "tags", want.Tags, res.Tags)
	if want.Tip != res.Tip {
		t.Errorf("tip: hg-git %s, native %s", want.Tip, res.Tip)
	}
}
