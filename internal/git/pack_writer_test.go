package git

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type testObject struct {
	kind ObjectType
	data []byte
	hash Hash
}

// writeTestHistory adds blobs, trees and commits forming a small history with
// every tree entry mode, and returns the objects and the tip commit.
func writeTestHistory(t testing.TB, pw *PackWriter, commits int) ([]testObject, Hash) {
	t.Helper()
	var objs []testObject
	add := func(kind ObjectType, data []byte) Hash {
		h, err := pw.Add(kind, data)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testObject{kind, data, h})
		return h
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var parent Hash
	for i := range commits {
		random := make([]byte, rng.IntN(5000))
		for j := range random {
			random[j] = byte(rng.IntN(256))
		}
		text := []byte(strings.Repeat(fmt.Sprintf("line %d of a text file\n", i), 1+i%50))
		sub := add(TreeObject, EncodeTree([]TreeEntry{
			{ModeFile, "data.bin", add(BlobObject, random)},
			{ModeExecutable, "run.sh", add(BlobObject, []byte("#!/bin/sh\necho hi\n"))},
		}))
		root := add(TreeObject, EncodeTree([]TreeEntry{
			{ModeFile, "README", add(BlobObject, text)},
			{ModeFile, "empty", add(BlobObject, nil)},
			{ModeSymlink, "link", add(BlobObject, []byte("README"))},
			{ModeDir, "sub", sub},
			{ModeFile, "sub.txt", add(BlobObject, []byte("sorts before sub/"))},
		}))
		c := &Commit{Tree: root, Author: "A U Thor <a@example.com> 1700000000 +0100",
			Committer: "A U Thor <a@example.com> 1700000000 +0100",
			Extra:     [][2]string{{"HG:rename-source", "hg"}}, Message: fmt.Sprintf("commit %d\n", i)}
		if !parent.IsZero() {
			c.Parents = []Hash{parent}
		}
		parent = add(CommitObject, EncodeCommit(c))
	}
	return objs, parent
}

func packFiles(t testing.TB, gitDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(gitDir, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestPackWriterGitReadsPack(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	objs, tip := writeTestHistory(t, pw, 40)
	big := bytes.Repeat([]byte("large object crossing many zlib blocks\n"), 100000)
	bigHash, err := pw.Add(BlobObject, big)
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, testObject{BlobObject, big, bigHash})
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	names := packFiles(t, dir)
	if len(names) != 2 || !strings.HasSuffix(names[0], ".idx") || !strings.HasSuffix(names[1], ".pack") {
		t.Fatalf("pack dir holds %v, want one .idx and one .pack", names)
	}
	gitT(t, dir, nil, "update-ref", "refs/heads/master", tip.String())
	gitT(t, dir, nil, "fsck", "--strict", "--no-dangling")
	verify := string(gitT(t, dir, nil, "verify-pack", "-v", filepath.Join(dir, "objects", "pack", names[0])))
	unique := map[Hash]bool{}
	for _, o := range objs {
		unique[o.hash] = true
	}
	if want := fmt.Sprintf("non delta: %d objects", len(unique)); !strings.Contains(verify, want) {
		t.Errorf("verify-pack -v does not say %q:\n%s", want, verify[max(0, len(verify)-500):])
	}
	checkCatFile(t, dir, objs)
	if got := string(gitT(t, dir, nil, "rev-list", "--count", "master")); strings.TrimSpace(got) != "40" {
		t.Errorf("rev-list --count = %s", got)
	}
}

// checkCatFile checks that cat-file --batch returns every object with the
// same kind and bytes.
func checkCatFile(t *testing.T, dir string, objs []testObject) {
	t.Helper()
	var in bytes.Buffer
	for _, o := range objs {
		fmt.Fprintln(&in, o.hash)
	}
	out := gitT(t, dir, in.Bytes(), "cat-file", "--batch")
	for _, o := range objs {
		hdr := fmt.Sprintf("%s %s %d\n", o.hash, o.kind, len(o.data))
		if !bytes.HasPrefix(out, []byte(hdr)) {
			t.Fatalf("cat-file --batch: want header %q, have %q", hdr, out[:min(len(out), 80)])
		}
		out = out[len(hdr):]
		if !bytes.Equal(out[:len(o.data)], o.data) {
			t.Fatalf("cat-file %s: contents differ", o.hash)
		}
		out = out[len(o.data)+1:]
	}
}

func TestPackWriterDedup(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	h1, _ := pw.Add(BlobObject, []byte("same"))
	h2, _ := pw.Add(BlobObject, []byte("same"))
	if h1 != h2 || pw.Len() != 1 || !pw.Has(h1) {
		t.Fatalf("dedup: %s %s len %d has %v", h1, h2, pw.Len(), pw.Has(h1))
	}
	if pw.Has(HashObject(BlobObject, []byte("other"))) {
		t.Error("Has reports an object never added")
	}
	// The same bytes as another kind are another object.
	if h3, _ := pw.Add(TreeObject, nil); h3 == h1 || pw.Len() != 2 {
		t.Error("tree not added")
	}
	if _, err := pw.Add(ObjectType(9), nil); err == nil {
		t.Error("unknown object type accepted")
	}
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Add(BlobObject, []byte("late")); err == nil {
		t.Error("Add after Commit accepted")
	}
	if err := pw.Commit(); err == nil {
		t.Error("second Commit accepted")
	}
	pw.Abort() // no-op after Commit
	if n := len(packFiles(t, dir)); n != 2 {
		t.Errorf("pack dir has %d files after Abort following Commit", n)
	}
	gitT(t, dir, nil, "fsck", "--strict")
}

func TestPackWriterEmptyAndAbort(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	if names := packFiles(t, dir); len(names) != 0 {
		t.Errorf("empty pack left %v", names)
	}
	pw = openPackWriter(t, dir)
	if _, err := pw.Add(BlobObject, []byte("discarded")); err != nil {
		t.Fatal(err)
	}
	pw.Abort()
	if names := packFiles(t, dir); len(names) != 0 {
		t.Errorf("aborted pack left %v", names)
	}
	if err := pw.Commit(); err == nil {
		t.Error("Commit after Abort accepted")
	}
}

func TestPackWriterConcurrentAdd(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				// Half the blobs are shared between goroutines.
				data := fmt.Appendf(nil, "blob %d", i)
				if i%2 == 1 {
					data = fmt.Appendf(data, " from %d", g)
				}
				if _, err := pw.Add(BlobObject, data); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if pw.Len() != 100+4*100 {
		t.Errorf("Len = %d, want 500", pw.Len())
	}
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, nil, "fsck", "--strict")
	out := gitT(t, dir, nil, "count-objects", "-v")
	if !strings.Contains(string(out), "in-pack: 500\n") {
		t.Errorf("count-objects -v:\n%s", out)
	}
}

func TestPutObjectHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ  byte
		size uint64
		want []byte
	}{
		{3, 0, []byte{0x30}},
		{3, 15, []byte{0x3f}},
		{3, 16, []byte{0xb0, 0x01}},
		{1, 100, []byte{0x94, 0x06}},
		{2, 1 << 40, []byte{0xa0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}},
	} {
		var b [16]byte
		n := putObjectHeader(b[:], tc.typ, tc.size)
		if !bytes.Equal(b[:n], tc.want) {
			t.Errorf("putObjectHeader(%d, %d) = %x, want %x", tc.typ, tc.size, b[:n], tc.want)
		}
	}
}

func TestCleanTemporary(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir) // in progress: must survive
	defer pw.Abort()
	packDir := filepath.Join(dir, "objects", "pack")
	old := time.Now().Add(-48 * time.Hour)
	for _, name := range []string{"tmp_pack_crashed", "tmp_idx_crashed", "pack-keep.pack", "unrelated"} {
		p := filepath.Join(packDir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	if err := CleanTemporary(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	names := packFiles(t, dir)
	if len(names) != 3 || !slices.Contains(names, "pack-keep.pack") || !slices.Contains(names, "unrelated") {
		t.Errorf("after CleanTemporary: %v", names)
	}
	if _, err := pw.Add(BlobObject, []byte("still writing")); err != nil {
		t.Fatal(err)
	}
	if err := pw.Commit(); err != nil {
		t.Fatalf("writer lost its file: %v", err)
	}
	if err := CleanTemporary(filepath.Join(t.TempDir(), "none"), 0); err != nil {
		t.Errorf("missing repository: %v", err)
	}
}

// TestStoredZlib checks that the stored zlib streams Submit writes for
// short payloads decode to the payload.
func TestStoredZlib(t *testing.T) {
	t.Parallel()
	var c compressor
	for _, n := range []int{0, 1, 20, storeBelow - 1} {
		data := bytes.Repeat([]byte{byte(n)}, n)
		r, err := zlib.NewReader(bytes.NewReader(c.store(data)))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: got %d bytes, err %v", n, len(got), err)
		}
	}
}

// TestPackWriterSubmit writes versions of a tree and a file through Submit
// (as deltas against the previous version, some payloads short enough to
// be stored), mixed with Add, and has git check and read them all.
func TestPackWriterSubmit(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	var objs []testObject
	var prevTree, prevBlob, parent Hash
	text := []byte(strings.Repeat("a line of a file that grows\n", 200))
	for i := range 300 {
		text = append(text, fmt.Sprintf("line %d\n", i)...)
		blob, err := pw.Submit(BlobObject, bytes.Clone(text), prevBlob)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testObject{BlobObject, bytes.Clone(text), blob})
		entries := []TreeEntry{{ModeFile, "file", blob}}
		for k := range 40 {
			entries = append(entries, TreeEntry{ModeFile, fmt.Sprintf("same%02d", k), blob})
		}
		tree := EncodeTree(entries)
		th, err := pw.Submit(TreeObject, tree, prevTree)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testObject{TreeObject, tree, th})
		c := &Commit{Tree: th, Author: "A <a@example.com> 1700000000 +0000", Committer: "A <a@example.com> 1700000000 +0000", Message: fmt.Sprint(i, "\n")}
		if !parent.IsZero() {
			c.Parents = []Hash{parent}
		}
		data := EncodeCommit(c)
		add := pw.Submit
		if i%2 == 1 {
			add = func(t ObjectType, data []byte, _ Hash) (Hash, error) { return pw.Add(t, data) }
		}
		if parent, err = add(CommitObject, data, ZeroHash); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testObject{CommitObject, data, parent})
		prevTree, prevBlob = th, blob
		if !pw.Has(parent) {
			t.Fatalf("Has(%s) false after Submit", parent)
		}
	}
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, nil, "update-ref", "refs/heads/master", parent.String())
	gitT(t, dir, nil, "fsck", "--strict", "--no-dangling")
	names := packFiles(t, dir)
	verify := string(gitT(t, dir, nil, "verify-pack", "-v", filepath.Join(dir, "objects", "pack", names[0])))
	if !strings.Contains(verify, "chain length = 1:") {
		t.Errorf("verify-pack -v shows no deltas:\n%s", verify[max(0, len(verify)-500):])
	}
	checkCatFile(t, dir, objs)
	if _, err := pw.Submit(BlobObject, []byte("late"), ZeroHash); err == nil {
		t.Error("Submit after Commit: no error")
	}
}
