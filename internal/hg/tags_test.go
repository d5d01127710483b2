package hg

import (
	"testing"
)

func TestTagsMatchHg(t *testing.T) {
	t.Parallel()
	dir, b := initBuilder(t, "repo")
	check := func(step string) {
		t.Helper()
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		t.Run(step, func(t *testing.T) { checkTags(t, r, dir); checkBookmarks(t, r, dir) })
	}

	b.Write("a", "1\n")
	b.commit("r0")
	b.Write("a", "2\n")
	b.commit("r1")
	b.Run("tag", "-d", "1 0", "-r", "0", "v1")
	b.Run("tag", "-d", "2 0", "-r", "1", "v2")
	b.Run("tag", "-d", "3 0", "-r", "1", "gone")
	b.Run("bookmark", "-r", "1", "book")
	check("linear")

	// Head A moves v1 and removes gone.
	b.Run("tag", "-d", "4 0", "-f", "-r", "1", "v1")
	b.Run("tag", "-d", "5 0", "--remove", "gone")
	b.Run("tag", "-d", "6 0", "-r", "0", "only-a")
	headA := b.Run("log", "-r", ".", "-T", "{rev}")

	// Head B (from the same parent) moves v1 elsewhere and v2 twice.
	b.Run("update", "-q", "-r", "4")
	b.Run("tag", "-d", "7 0", "-f", "-r", "0", "v2")
	b.Run("tag", "-d", "8 0", "-f", "-r", "1", "v2")
	b.Run("tag", "-d", "9 0", "-f", "-r", "2", "v1")
	b.Run("tag", "-d", "10 0", "-r", "3", "only-b")
	b.Run("bookmark", "-f", "-r", headA, "a-head")
	headB := b.Run("log", "-r", ".", "-T", "{rev}")
	check("two heads")

	// A third head without changes to .hgtags, and a head without .hgtags.
	b.Run("update", "-q", "-r", "0")
	b.Write("b", "x\n")
	b.commit("no hgtags here")
	check("three heads")

	b.Run("update", "-q", "-r", headA)
	b.Run("merge", "-q", "--tool", "internal:union", "-r", headB)
	b.commit("merge heads")
	check("merged")
}

func TestObsstore(t *testing.T) {
	t.Parallel()
	dir, b := initBuilder(t, "repo")
	b.Write("a", "1\n")
	b.commit("r0")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.HasObsstore() {
		t.Error("HasObsstore before any marker")
	}
	r.Close()
	b.Write("a", "2\n")
	b.Run("commit", "--amend", "-m", "amended", "--config", "experimental.evolution=all")
	r, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.HasObsstore() {
		t.Error("HasObsstore = false after hg commit --amend with evolution")
	}
}
