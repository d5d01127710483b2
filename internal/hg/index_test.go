package hg

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestIndexByPage checks that a large changelog index is decoded a page at
// a time: reading the newest revision decodes one page, the answers are
// those of the index read whole, and a damaged page is an error of the
// calls that use it, not of the others.
func TestIndexByPage(t *testing.T) {
	t.Parallel()
	dir := initRepo(t, "repo")
	const n = 2000 // a changelog above 128 KiB, not inline
	runHg(t, dir, "debugbuilddag", "--new-file", "+"+strconv.Itoa(n))
	index := filepath.Join(dir, ".hg", "store", "00changelog.i")
	whole, err := OpenRevlog(index) // decoded at open
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	if whole.Inline() {
		t.Fatal("the changelog is inline: the test needs a separate data file")
	}

	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.IndexEntries(); got != 0 {
		t.Errorf("Open decoded %d changelog and manifest entries, want 0", got)
	}
	if _, err := r.Changeset(n - 1); err != nil {
		t.Fatal(err)
	}
	if got, want := r.IndexEntries(), int64(n%pageEntries); got != want {
		t.Errorf("reading the newest changeset decoded %d entries, want %d (its page)", got, want)
	}
	for _, rev := range []int{0, 1, 255, 256, 700, n - 1} {
		got, err1 := r.Changelog().Node(rev)
		want, err2 := whole.Node(rev)
		gp1, gp2, err3 := r.Changelog().Parents(rev)
		wp1, wp2, err4 := whole.Parents(rev)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			t.Fatal(err)
		}
		if got != want || gp1 != wp1 || gp2 != wp2 {
			t.Errorf("rev %d: paged %s (%d, %d), whole %s (%d, %d)", rev, got, gp1, gp2, want, wp1, wp2)
		}
	}
	if rev, ok := r.Rev(whole.node(3)); !ok || rev != 3 {
		t.Errorf("Rev of revision 3: %d, %v", rev, ok)
	}

	// A bad parent in revision 600 (page 2) fails that page only.
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	b[600*indexEntrySize+24] = 0x7f
	if err := os.WriteFile(index, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := Open(dir)
	if err != nil {
		t.Fatalf("Open with a damaged page: %v", err)
	}
	defer bad.Close()
	if _, err := bad.Changeset(n - 1); err != nil {
		t.Errorf("a changeset of another page: %v", err)
	}
	if bad.Changelog().Err() != nil {
		t.Errorf("Err before the damaged page was used: %v", bad.Changelog().Err())
	}
	if _, err := bad.Changelog().Node(600); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Node of a revision of the damaged page: %v, want ErrCorrupt", err)
	}
	if _, err := bad.Changeset(601); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Changeset of a revision of the damaged page: %v, want ErrCorrupt", err)
	}
	if !errors.Is(bad.Changelog().Err(), ErrCorrupt) {
		t.Errorf("Err after the damaged page was used: %v", bad.Changelog().Err())
	}
}
