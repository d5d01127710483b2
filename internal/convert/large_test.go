package convert_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// buildDag makes a repository of n linear changesets with hg debugbuilddag,
// each adding a file (so that the manifest's delta chain grows with the
// history, as in a real repository), then a changeset adding a few
// files, with bookmark main on it.
func buildDag(t *testing.T, n int) string {
	t.Helper()
	dir := hgtest.NewRepo(t).Dir
	hgtest.Run(t, dir, "debugbuilddag", "--new-file", "+"+strconv.Itoa(n))
	importFiles(t, dir, "base", "a", "dir/b", "dir/sub/c")
	hgtest.Run(t, dir, "bookmark", "-r", "tip", "main")
	return dir
}

// importFiles commits, on top of tip and without a working copy, a
// changeset adding the given files.
func importFiles(t *testing.T, dir, msg string, files ...string) {
	t.Helper()
	patch := map[string][2]string{}
	for _, f := range files {
		patch[f] = [2]string{"", msg + "\n"}
	}
	hgtest.Run(t, dir, "update", "-q", "tip") // import --bypass commits on "."
	importPatch(t, dir, msg, patch, "-q")
}

// addOne commits one changeset on top of tip and moves bookmark main to it.
func addOne(t *testing.T, dir, file string) {
	t.Helper()
	importFiles(t, dir, "one more", file)
	hgtest.Run(t, dir, "bookmark", "-f", "-r", "tip", "main")
}

// spoilMapHead makes the first line of dir's map unreadable (the map is
// then refused when read whole) and returns what puts it back.
func spoilMapHead(t *testing.T, dir string) func() {
	t.Helper()
	f, err := os.OpenFile(convert.MapPath(dir), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := make([]byte, 82)
	if _, err := f.ReadAt(line, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("x", 40)), 0); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		f, err := os.OpenFile(convert.MapPath(dir), os.O_RDWR, 0)
		if err == nil {
			_, err = f.WriteAt(line, 0)
			f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestIncrementalBounded checks that converting one new changeset reads a
// number of revlog entries, and of revlog chunks for them (the delta
// chains followed), independent of the history length, and not the whole
// map.
func TestIncrementalBounded(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	reads, chunks, entries := map[int]int64{}, map[int]int64{}, map[int]int64{}
	for _, n := range []int{200, 2000} {
		dir := buildDag(t, n)
		if res := runNative(t, dir); res.Converted != n+1 {
			t.Fatalf("%d: first run converted %d", n, res.Converted)
		}
		addOne(t, dir, "dir/one-more")
		// The increment reads neither the whole map nor its first lines:
		// with its first line made unreadable, it still converts.
		restore := spoilMapHead(t, dir)
		res := runNative(t, dir)
		restore()
		if res.Converted != 1 {
			t.Fatalf("%d: increment converted %d, want 1", n, res.Converted)
		}
		if res.Bookmarks["main"] == "" || res.Tip != res.Bookmarks["main"] {
			t.Errorf("%d: bookmark main %q, tip %q", n, res.Bookmarks["main"], res.Tip)
		}
		reads[n], chunks[n], entries[n] = res.RevlogReads, res.RevlogChunks, res.IndexEntries
		t.Logf("%d changesets: one-changeset increment read %d revlog entries, %d chunks, decoded %d index entries, %d full scans",
			n, res.RevlogReads, res.RevlogChunks, res.IndexEntries, res.FullScans)
		// Phases, hidden changesets and heads come from the state and
		// the new revisions, not from a pass over every revision.
		if res.FullScans != 0 {
			t.Errorf("%d: the increment made %d computations over every revision, want 0", n, res.FullScans)
		}
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
		if res = runNative(t, dir); res.Converted != 1 || res.RevlogReads > 10 {
			t.Errorf("after the state was rebuilt: converted %d reading %d entries, want 1 reading at most 10", res.Converted, res.RevlogReads)
		}
		// Refs are not read again while their directories are unchanged,
		// but one git moved (a rename in refs/heads) is set back.
		gitDir := convert.GitDir(dir)
		main := res.Bookmarks["main"]
		gittest.Run(t, "", "--git-dir="+gitDir, "update-ref", "refs/heads/main", main+"~1")
		runNative(t, dir)
		if got := gittest.Refs(t, gitDir)["refs/heads/main"]; got != main {
			t.Errorf("refs/heads/main moved by git: %s after a run, want %s", got, main)
		}
		// An append a crash cut short leaves a partial line, which the
		// next run drops (converting its changeset again).
		f, err := os.OpenFile(convert.MapPath(dir), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("0123456789abcdef")
		f.Close()
		addOne(t, dir, "four-more")
		if res := runNative(t, dir); res.Converted != 1 {
			t.Errorf("after a torn map line: converted %d, want 1", res.Converted)
		}
		// The increments give what a fresh conversion gives.
		full := freshCopy(t, dir, "full")
		runNative(t, full)
		compareMaps(t, readMap(t, full), readMap(t, dir))
	}
	// At 2000 changesets the changelog and manifest indexes (2002 entries
	// each) are read a page (256 entries) at a time: the increment
	// decodes the pages of the newest revisions, not the whole indexes.
	if entries[2000] > 4*256 {
		t.Errorf("index entries decoded for one new changeset on 2000 changesets: %d, want at most %d (of %d)", entries[2000], 4*256, 2*2002)
	}
	if reads[2000] != reads[200] || reads[200] > 10 {
		t.Errorf("revlog entries read for one new changeset: %d on 200 changesets, %d on 2000 (want equal, small)", reads[200], reads[2000])
	}
	// The manifest's delta chain is hundreds long at 2000 changesets: the
	// parent's manifest text comes from the state, not from its chain.
	if chunks[2000] != chunks[200] || chunks[200] > 2*reads[200] {
		t.Errorf("revlog chunks read for one new changeset: %d on 200 changesets, %d on 2000 (want equal, at most %d)", chunks[200], chunks[2000], 2*reads[200])
	}
}

// TestIncrementalSecret checks that, without obsolescence markers, the
// secret changesets an increment leaves out are found from the phase roots
// alone (no computation over every revision), and that one made draft
// later is converted, giving the map of a fresh conversion.
func TestIncrementalSecret(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	dir := buildDag(t, 300)
	runNative(t, dir)
	importFiles(t, dir, "secret", "s")
	secret := strings.TrimSpace(hgtest.Run(t, dir, "log", "-r", "tip", "-T", "{node}"))
	hgtest.Run(t, dir, "phase", "--force", "--secret", "-r", secret)
	res := runNative(t, dir)
	if res.Converted != 0 || res.FullScans != 0 {
		t.Errorf("with a secret tip: converted %d with %d full scans, want 0 and 0", res.Converted, res.FullScans)
	}
	// A draft changeset beside the secret one.
	hgtest.Run(t, dir, "update", "-q", "main")
	importPatch(t, dir, "beside", map[string][2]string{"beside": {"", "beside\n"}}, "-q")
	hgtest.Run(t, dir, "bookmark", "-f", "-r", "tip", "main")
	res = runNative(t, dir)
	if res.Converted != 1 || res.FullScans != 0 {
		t.Errorf("beside a secret changeset: converted %d with %d full scans, want 1 and 0", res.Converted, res.FullScans)
	}
	if _, ok := readMap(t, dir)[secret]; ok {
		t.Fatal("the secret changeset was converted")
	}
	hgtest.Run(t, dir, "phase", "--force", "--draft", "-r", secret)
	if res := runNative(t, dir); res.Converted != 1 {
		t.Errorf("once the secret changeset is draft: converted %d, want 1", res.Converted)
	}
	got := readMap(t, dir)
	if _, ok := got[secret]; !ok {
		t.Error("the changeset made draft was not converted")
	}
	full := freshCopy(t, dir, "full")
	runNative(t, full)
	compareMaps(t, readMap(t, full), got)
}
