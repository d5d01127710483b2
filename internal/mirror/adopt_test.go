package mirror

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// fromGit makes a Git history whose trees have an old-style file mode
// (100664, which hg-git cannot write back: its commits are not what the
// native rules give), also in a directory the new changesets leave alone,
// pushes it to a bare destination, and imports it into Mercurial with
// `hg clone` through hg-git. It returns the hg-git repository and the
// destination.
func fromGit(t *testing.T) (hgRepo, dest string) {
	t.Helper()
	tmp := t.TempDir()
	work := filepath.Join(tmp, "work")
	gittest.Run(t, "", "init", "-q", "-b", "master", "--", work)
	os.WriteFile(filepath.Join(work, "a"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(work, "b"), []byte("b\n"), 0o644)
	gittest.Run(t, work, "add", "a", "b")
	gittest.Run(t, work, "commit", "-q", "-m", "first")
	blobA := strings.TrimSpace(gittest.Run(t, work, "rev-parse", "HEAD:a"))
	blobB := strings.TrimSpace(gittest.Run(t, work, "rev-parse", "HEAD:b"))
	sub := literalTree(t, work, "100664 x", blobA)
	root := literalTree(t, work, "100664 a", blobA, "40000 d", sub)
	second := strings.TrimSpace(gittest.Run(t, work, "commit-tree", "-p", "HEAD", "-m", "group-writable files", root))
	root = literalTree(t, work, "100664 a", blobA, "100644 b", blobB, "40000 d", sub)
	third := strings.TrimSpace(gittest.Run(t, work, "commit-tree", "-p", second, "-m", "third", root))
	gittest.Run(t, work, "update-ref", "refs/heads/master", third)

	dest = gittest.Bare(t)
	gittest.Run(t, work, "push", "-q", "--", dest, "master")
	hgRepo = filepath.Join(tmp, "hg")
	hgtest.Run(t, "", "--config", "extensions.hggit=", "clone", "-q", "-U", "--", dest, hgRepo)
	return hgRepo, dest
}

// literalTree writes a tree object of (mode and name, hex sha) pairs, in
// the order given, without git's checks, and returns its sha.
func literalTree(t *testing.T, dir string, pairs ...string) string {
	t.Helper()
	var tree []byte
	for i := 0; i < len(pairs); i += 2 {
		raw, err := hex.DecodeString(pairs[i+1])
		if err != nil {
			t.Fatal(err)
		}
		tree = append(append(append(tree, pairs[i]...), 0), raw...)
	}
	return strings.TrimSpace(gittest.RunInput(t, dir, tree, "hash-object", "-t", "tree", "--literally", "-w", "--stdin"))
}

// TestAdoptFromGitImport adopts a repository imported from Git, adds three
// changesets, and syncs: the new commits sit on the original Git commits
// and the destination fast-forwards.
func TestAdoptFromGitImport(t *testing.T) {
	t.Parallel()
	hgRepo, dest := fromGit(t)
	original := gittest.Refs(t, dest)["refs/heads/master"]
	adopted, err := convert.ReadMap(convert.MapPath(hgRepo))
	if err != nil || len(adopted) != 3 {
		t.Fatalf("hg-git map: %v (%d lines)", err, len(adopted))
	}

	// The native rules do not give these commits.
	plain := filepath.Join(t.TempDir(), "plain")
	hgtest.Run(t, "", "clone", "-q", "-U", "--", hgRepo, plain)
	if _, err := (&convert.Native{}).Convert(context.Background(), plain, convert.Options{}); err != nil {
		t.Fatal(err)
	}
	native, _ := convert.ReadMap(convert.MapPath(plain))
	differ := 0
	for n, h := range adopted {
		if native[n] != h {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("the native rules reproduce the imported commits: the test proves nothing")
	}

	s := newSyncer(t)
	m := hgMirror("imported", hgRepo, dest)
	ctx := testCtx(t)
	res, err := s.Adopt(ctx, m, AdoptRequest{From: hgRepo})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mapped != 3 || res.DestRefs != 1 || len(res.RefsNotInMap) != 0 || res.Record.AdoptedFrom != hgRepo || res.Record.AdoptedAt.IsZero() {
		t.Fatalf("adopt result %+v", res)
	}

	// Three new changesets on top, in the source.
	src := hgtest.Open(t, hgRepo)
	src.Run("update", "-q", "master")
	for i := range 3 {
		src.Commit(hgtest.WithFile("new", strings.Repeat("n", i+1)+"\n"))
	}
	sres, err := s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sres.Changesets != 3 {
		t.Errorf("sync converted %d changesets, want 3 (only the new ones)", sres.Changesets)
	}
	if len(sres.RefsUpdated) != 1 || sres.RefsUpdated[0].Ref != "refs/heads/master" || sres.RefsUpdated[0].Old.String() != original {
		t.Fatalf("refs updated %+v, want master from %s", sres.RefsUpdated, original)
	}
	tip := gittest.Refs(t, dest)["refs/heads/master"]
	if gittest.Count(t, dest, "refs/heads/master") != 6 {
		t.Errorf("destination master has %d commits, want 6", gittest.Count(t, dest, "refs/heads/master"))
	}
	// A fast-forward: the old tip is an ancestor, and the first new
	// commit's parent is the adopted tip.
	gittest.Run(t, "", "--git-dir="+dest, "merge-base", "--is-ancestor", original, tip)
	first := strings.TrimSpace(gittest.Run(t, "", "--git-dir="+dest, "rev-list", "--reverse", tip, "^"+original))
	first = strings.Fields(first)[0]
	parents := strings.Fields(gittest.Run(t, "", "--git-dir="+dest, "rev-list", "--parents", "-n", "1", first))
	if len(parents) != 2 || parents[1] != original {
		t.Errorf("first new commit %s has parents %v, want the adopted %s", first, parents[1:], original)
	}
	// As hg-git would, the new commits keep the adopted tree's entries they
	// do not touch (the 100664 modes, directory d's tree).
	lsTip := gittest.Run(t, "", "--git-dir="+dest, "ls-tree", tip)
	lsOld := gittest.Run(t, "", "--git-dir="+dest, "ls-tree", original)
	for _, line := range strings.Split(strings.TrimSpace(lsOld), "\n") {
		if !strings.Contains(lsTip, line+"\n") {
			t.Errorf("new tip's tree lost %q:\n%s", line, lsTip)
		}
	}
	gittest.Run(t, "", "--git-dir="+dest, "fsck", "--connectivity-only")
	rec, ok, err := convert.ReadRecord(s.HgRoot(m.Name))
	if err != nil || !ok || rec.AdoptedFrom != hgRepo || rec.AdoptedCommits != 3 {
		t.Errorf("record after sync %+v (%v, %v)", rec, ok, err)
	}
}

// TestAdoptMapOnly adopts only a map, the commits fetched from the
// destination.
func TestAdoptMapOnly(t *testing.T) {
	t.Parallel()
	hgRepo, dest := fromGit(t)
	mapCopy := filepath.Join(t.TempDir(), "git-mapfile")
	b, err := os.ReadFile(convert.MapPath(hgRepo))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(mapCopy, b, 0o644)
	s := newSyncer(t)
	m := hgMirror("maponly", hgRepo, dest)
	res, err := s.Adopt(context.Background(), m, AdoptRequest{Map: mapCopy})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mapped != 3 || len(res.RefsNotInMap) != 0 {
		t.Fatalf("adopt result %+v", res)
	}
	sres, err := s.Sync(context.Background(), m, SyncOptions{})
	if err != nil || sres.Changesets != 0 || len(sres.RefsUpdated) != 0 {
		t.Fatalf("sync after adoption: %+v, %v (want nothing to do)", sres, err)
	}
}

// TestAdoptRefused: a corrupt or truncated map, a map naming commits that
// are missing, and a map of another repository are refused, and nothing
// is changed.
func TestAdoptRefused(t *testing.T) {
	t.Parallel()
	hgRepo, dest := fromGit(t)
	other := hgtest.NewRepo(t)
	other.Commit(hgtest.WithFile("x", "x\n"))
	otherDir := filepath.Join(t.TempDir(), "other")
	hgtest.Run(t, "", "clone", "-q", "-U", "--", other.Dir, otherDir)
	if _, err := (&convert.Native{}).Convert(context.Background(), otherDir, convert.Options{}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(convert.MapPath(hgRepo))
	if err != nil {
		t.Fatal(err)
	}
	otherMap, err := os.ReadFile(convert.MapPath(otherDir))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, mapText, want string
	}{
		{"truncated", string(good[:len(good)-30]), "corrupt or truncated"},
		{"corrupt", strings.Replace(string(good), " ", "  ", 1), "corrupt or truncated"},
		{"empty", "", "is empty"},
		{"missing-commits", string(good) + "1111111111111111111111111111111111111111 " + strings.Fields(string(good))[1] + "\n", "missing from the Git objects"},
		{"another-repository", string(otherMap), "for another repository"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from := filepath.Join(t.TempDir(), "from")
			hgtest.Run(t, "", "clone", "-q", "-U", "--", hgRepo, from)
			os.RemoveAll(convert.GitDir(from))
			if err := os.CopyFS(convert.GitDir(from), os.DirFS(convert.GitDir(hgRepo))); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(convert.MapPath(from), []byte(tc.mapText), 0o644); err != nil {
				t.Fatal(err)
			}
			s := newSyncer(t)
			m := hgMirror("refused", hgRepo, dest)
			destBefore := gittest.Refs(t, dest)
			_, err := s.Adopt(context.Background(), m, AdoptRequest{From: from})
			if !errors.Is(err, ErrAdoptRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a refusal saying %q", err, tc.want)
			}
			if ClassOf(err) != BadRequest {
				t.Errorf("class %v, want BadRequest", ClassOf(err))
			}
			entries, _ := os.ReadDir(filepath.Join(s.CacheDir, m.Name))
			for _, e := range entries {
				if e.Name() != ".lock" && !strings.HasPrefix(e.Name(), "lock") {
					t.Errorf("refused adoption left %s in the cache", e.Name())
				}
			}
			if after := gittest.Refs(t, dest); len(after) != len(destBefore) || after["refs/heads/master"] != destBefore["refs/heads/master"] {
				t.Errorf("destination changed: %v → %v", destBefore, after)
			}
		})
	}
}
