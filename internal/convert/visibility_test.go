package convert_test

import (
	"context"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// TestHiddenAndSecretNotExported: on a repository with evolve markers
// (an amended bookmarked draft, a pruned tagging changeset) and a
// bookmarked secret changeset, the native converter given the state's
// excluded set converts exactly what hg-git converts of the visible,
// non-secret changesets, never a hidden or secret one, and computes
// bookmarks, tags and tip over those only.
func TestHiddenAndSecretNotExported(t *testing.T) {
	t.Parallel()
	hgtest.Require(t)
	r := hgtest.NewRepo(t, hgtest.WithEvolve(), hgtest.NonPublishing())
	base := r.Commit(hgtest.WithFile("f", "0\n"))
	r.Run("phase", "--public", "-r", base)
	old := r.Commit(hgtest.WithBookmark("bm"), hgtest.WithFile("f", "1\n"))
	amended := r.Amend(hgtest.WithFile("f", "1 amended\n"))
	tagging := r.Tag("v1", hgtest.WithRev(amended))
	r.Prune(tagging) // the tag goes with it
	r.Write("s", "secret\n")
	secret := r.Commit(hgtest.WithParent(base), hgtest.WithBookmark("sec"))
	r.Run("phase", "--force", "--secret", "-r", secret)
	r.Update("null")
	hgGitDir := copyRepo(t, r.Dir, "hggit")
	defaultDir := copyRepo(t, r.Dir, "default")

	st, err := hg.ReadState(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ex := st.Excluded()
	for _, n := range []string{old, tagging, secret} {
		node, _ := hg.ParseNode(n)
		if !ex[node] {
			t.Fatalf("%s not excluded by the state (%v)", n, ex)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := (&convert.Native{}).Convert(ctx, r.Dir, convert.Options{Exclude: ex})
	if err != nil {
		t.Fatal(err)
	}
	got := readMap(t, r.Dir)
	for _, n := range []string{old, tagging, secret} {
		if _, ok := got[n]; ok {
			t.Errorf("excluded changeset %s was converted", n)
		}
	}
	if res.Converted != 2 || len(got) != 2 {
		t.Errorf("converted %d (map %d), want 2: %v", res.Converted, len(got), got)
	}
	if _, ok := res.Bookmarks["sec"]; ok || res.Bookmarks["bm"] != got[amended] {
		t.Errorf("bookmarks %v, want only bm → %s", res.Bookmarks, got[amended])
	}
	if len(res.Tags) != 0 {
		t.Errorf("tags %v: the tagging changeset is pruned", res.Tags)
	}
	if res.Tip != got[amended] {
		t.Errorf("tip %s, want the amended changeset's %s", res.Tip, got[amended])
	}
	if res.BranchHeads["default"] != got[amended] {
		t.Errorf("branch heads %v", res.BranchHeads)
	}

	// Without Exclude, the converter excludes what the repository hides
	// or keeps secret by itself: the same result.
	if _, err := (&convert.Native{}).Convert(ctx, defaultDir, convert.Options{}); err != nil {
		t.Fatal(err)
	}
	compareMaps(t, got, readMap(t, defaultDir))

	// hg-git on the same repository (markers and all) converts the same
	// commits, and never a hidden changeset either.
	runHgGit(t, hgGitDir)
	want := readMap(t, hgGitDir)
	for _, n := range []string{old, tagging} {
		if _, ok := want[n]; ok {
			t.Errorf("hg-git exported hidden changeset %s", n)
		}
	}
	if _, ok := want[secret]; !ok {
		t.Errorf("hg-git did not export the secret changeset: this test no longer shows the difference")
	}
	delete(want, secret) // hg-git 1.0 exports secret changesets; we never do
	compareMaps(t, want, got)
}
