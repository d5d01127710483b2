package git

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// objectNames lists every object of the repository gitDir, sorted.
func objectNames(t *testing.T, gitDir string) []string {
	t.Helper()
	names := strings.Fields(string(gitT(t, "", nil, "--git-dir="+gitDir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")))
	slices.Sort(names)
	return names
}

// TestSeedLocal: the refs and exactly the objects a push of them leaves
// in an empty bare repository (history in two packs, an annotated tag;
// objects no ref reaches stay behind), in one pack, fsck clean, for a
// path and a file:// URL.
func TestSeedLocal(t *testing.T) {
	t.Parallel()
	ctx, r, src, base := localSource(t, 3, "base")
	tip := commitChain(t, src, base[2], 4, "more")[3] // a second pack
	unreached := commitChain(t, src, base[1], 2, "unreached")[1]
	// Two incompressible blobs of 700 KiB on top.
	pw := openPackWriter(t, src)
	rnd := rand.New(rand.NewSource(1))
	var entries []TreeEntry
	for _, name := range []string{"big1", "big2"} {
		data := make([]byte, 700<<10)
		rnd.Read(data)
		h, err := pw.Add(BlobObject, data)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, TreeEntry{ModeFile, name, h})
	}
	tree, _ := pw.Add(TreeObject, EncodeTree(entries))
	tip, err := pw.Add(CommitObject, EncodeCommit(&Commit{Tree: tree, Parents: []Hash{tip}, Author: "A <a@example.com> 1700000000 +0000",
		Committer: "A <a@example.com> 1700000000 +0000", Message: "big\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	if packCount(t, src) != 4 {
		t.Fatalf("source packs: %d, want 4", packCount(t, src))
	}
	if err := r.UpdateRefs(ctx, src, map[string]Hash{"refs/heads/master": tip}); err != nil {
		t.Fatal(err)
	}
	gitT(t, "", nil, "--git-dir="+src, "tag", "-a", "-m", "annotated", "--", "v1", base[0].String())
	tag, err := ParseHash(strings.TrimSpace(string(gitT(t, "", nil, "--git-dir="+src, "rev-parse", "refs/tags/v1"))))
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]Hash{"refs/heads/master": tip, "refs/heads/side": base[1], "refs/tags/v1": tag}

	pushed := newBare(t)
	var specs []string
	for name, h := range refs {
		specs = append(specs, h.String()+":"+name)
	}
	if err := r.Push(ctx, src, pushed, specs, PushOptions{Atomic: true}); err != nil {
		t.Fatal(err)
	}
	want := objectNames(t, pushed)
	for i, remote := range []func(string) string{
		func(p string) string { return p },
		func(p string) string { return "file://" + p },
		func(p string) string { return p },
	} {
		dest := newBare(t)
		packs := 1
		if i == 2 {
			// The destination's own pack settings apply: packs of at
			// most 1 MiB, one per big blob.
			gitT(t, "", nil, "--git-dir="+dest, "config", "pack.packSizeLimit", "1")
			packs = 2
		}
		if err := r.SeedLocal(ctx, src, remote(dest), refs); err != nil {
			t.Fatalf("SeedLocal(%s): %v", remote(dest), err)
		}
		got, err := r.Refs(ctx, dest)
		if err != nil || len(got) != len(refs) {
			t.Fatalf("refs %v, %v; want %v", got, err, refs)
		}
		for name, h := range refs {
			if got[name] != h {
				t.Errorf("%s = %s, want %s", name, got[name], h)
			}
		}
		if names := objectNames(t, dest); !slices.Equal(names, want) {
			t.Errorf("%s: %d objects, a push leaves %d", remote(dest), len(names), len(want))
		}
		if ok, err := ObjectExists(dest, unreached); ok || err != nil {
			t.Errorf("an object no ref reaches was copied (%v)", err)
		}
		if n := packCount(t, dest); n != packs {
			t.Errorf("%d packs, want %d", n, packs)
		}
		if _, err := os.Stat(filepath.Join(dest, "objects", "info", "alternates")); err == nil {
			t.Error("the destination borrows the source's objects")
		}
		gitT(t, "", nil, "--git-dir="+dest, "fsck", "--strict", "--no-dangling")
	}
}

// TestSeedLocalRefused: a ref that exists is left alone (ErrStaleRef,
// nothing created), a missing object creates nothing; destinations that
// are not local bare repositories taking objects unchecked are
// ErrNotSeedable with nothing written, and a remote the Runner does not
// allow is refused.
func TestSeedLocalRefused(t *testing.T) {
	t.Parallel()
	ctx, r, src, chain := localSource(t, 2, "refused")

	dest := newBare(t)
	commitChain(t, dest, ZeroHash, 2, "refused") // the same commits
	if err := r.UpdateRefs(ctx, dest, map[string]Hash{"refs/heads/master": chain[0]}); err != nil {
		t.Fatal(err)
	}
	err := r.SeedLocal(ctx, src, dest, map[string]Hash{"refs/heads/master": chain[1], "refs/heads/new": chain[1]})
	if !errors.Is(err, ErrStaleRef) {
		t.Errorf("seeding an existing ref: %v, want ErrStaleRef", err)
	}
	if got, _ := r.Refs(ctx, dest); len(got) != 1 || got["refs/heads/master"] != chain[0] {
		t.Errorf("refs after the refused seed: %v", got)
	}

	empty := newBare(t)
	if err := r.SeedLocal(ctx, src, empty, map[string]Hash{"refs/heads/master": {0xde, 0xad}}); err == nil || errors.Is(err, ErrNotSeedable) {
		t.Errorf("seeding a missing object: %v", err)
	}
	if got, _ := r.Refs(ctx, empty); len(got) != 0 {
		t.Errorf("refs after a missing object: %v", got)
	}

	work := t.TempDir()
	gitT(t, work, nil, "init", "-q")
	checked := newBare(t)
	gitT(t, "", nil, "--git-dir="+checked, "config", "receive.fsckObjects", "true")
	transfer := newBare(t)
	gitT(t, "", nil, "--git-dir="+transfer, "config", "transfer.fsckObjects", "yes")
	for name, remote := range map[string]string{
		"work tree":            work,
		"work tree's .git":     filepath.Join(work, ".git"),
		"receive.fsckObjects":  checked,
		"transfer.fsckObjects": transfer,
		"https URL":            "https://example.org/x.git",
		"file URL with host":   "file://example.org" + checked,
		"missing directory":    filepath.Join(t.TempDir(), "nothing"),
	} {
		err := r.SeedLocal(ctx, src, remote, map[string]Hash{"refs/heads/master": chain[1]})
		if !errors.Is(err, ErrNotSeedable) {
			t.Errorf("%s: %v, want ErrNotSeedable", name, err)
		}
	}
	for _, dir := range []string{filepath.Join(work, ".git"), checked, transfer} {
		if n := packCount(t, dir); n != 0 {
			t.Errorf("%s: %d packs written", dir, n)
		}
		if got, _ := r.Refs(ctx, dir); len(got) != 0 {
			t.Errorf("%s: refs %v", dir, got)
		}
	}
	if err := (&Runner{}).SeedLocal(ctx, src, empty, map[string]Hash{"refs/heads/master": chain[1]}); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Errorf("local remote without AllowFile: %v, want ErrRemoteNotAllowed", err)
	}
	if err := r.SeedLocal(ctx, src, "x.git", map[string]Hash{"refs/heads/master": chain[1]}); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Errorf("relative path: %v, want ErrRemoteNotAllowed", err)
	}
}
