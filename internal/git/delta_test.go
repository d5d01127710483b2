package git

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestMakeDelta(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("0123456789"), 30000) // copies span several 64 KiB instructions
	for _, tc := range []struct {
		name         string
		base, target []byte
		want         bool // a delta is expected
	}{
		{"insert in middle", long, append(append(bytes.Clone(long[:150000]), "new bytes"...), long[150000:]...), true},
		{"append", long, append(bytes.Clone(long), "tail"...), true},
		{"prepend", long, append([]byte("head"), long...), true},
		{"change in middle", long, append(append(bytes.Clone(long[:1000]), strings.Repeat("x", 500)...), long[1500:]...), true},
		{"truncate", long, long[:200000], true},
		{"identical", long, long, true},
		{"exact copy sizes", long[:0x10000*2], append(bytes.Clone(long[:0x10000*2]), 'x'), true},
		{"unrelated", []byte(strings.Repeat("a", 1000)), []byte(strings.Repeat("b", 1000)), false},
		{"tiny", []byte("ab"), []byte("ac"), false},
		{"empty target", long, nil, false},
	} {
		d := makeDelta(tc.base, tc.target)
		if (d != nil) != tc.want {
			t.Errorf("%s: delta %v, want %v", tc.name, d != nil, tc.want)
			continue
		}
		if d == nil {
			continue
		}
		got, err := ApplyDelta(tc.base, d)
		if err != nil || !bytes.Equal(got, tc.target) {
			t.Errorf("%s: applyDelta: %v", tc.name, err)
		}
		if len(d) > len(tc.target)/2 {
			t.Errorf("%s: delta of %d bytes for %d", tc.name, len(d), len(tc.target))
		}
	}
}

func TestPutDeltaOffset(t *testing.T) {
	t.Parallel()
	// Decode as Git's unpack does.
	decode := func(b []byte) uint64 {
		c := b[0]
		v := uint64(c & 0x7f)
		for i := 1; c&0x80 != 0; i++ {
			c = b[i]
			v = (v+1)<<7 | uint64(c&0x7f)
		}
		return v
	}
	for _, off := range []uint64{1, 127, 128, 129, 16383, 16384, 16511, 16512, 1 << 31, 1<<40 + 12345} {
		var b [10]byte
		n := putDeltaOffset(b[:], off)
		if got := decode(b[len(b)-n:]); got != off {
			t.Errorf("offset %d encoded %x decodes to %d", off, b[len(b)-n:], got)
		}
	}
}

// TestPackWriterDeltas writes versions of trees and files as deltas and has
// git check and read them back.
func TestPackWriterDeltas(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	var objs []testObject
	add := func(kind ObjectType, data []byte, base Hash) Hash {
		h, err := pw.AddDelta(kind, data, base)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testObject{kind, data, h})
		return h
	}
	var entries []TreeEntry
	var prevTree, prevFile, parent Hash
	file := []byte(strings.Repeat("a line of a growing file\n", 200))
	const versions = 120 // more than maxDeltaDepth
	for i := range versions {
		file = fmt.Appendf(file, "line %d\n", i)
		fh := add(BlobObject, file, prevFile)
		entries = append(entries, TreeEntry{ModeFile, fmt.Sprintf("f%03d", i), add(BlobObject, fmt.Appendf(nil, "%d", i), ZeroHash)})
		tree := EncodeTree(append(entries, TreeEntry{ModeFile, "log", fh}))
		// The wrong kind of base is ignored.
		th := add(TreeObject, tree, map[bool]Hash{true: prevFile, false: prevTree}[i%10 == 5])
		c := &Commit{Tree: th, Author: "A <a@b.c> 1 +0000", Committer: "A <a@b.c> 1 +0000", Message: fmt.Sprintf("%d\n", i)}
		if !parent.IsZero() {
			c.Parents = []Hash{parent}
		}
		parent = add(CommitObject, EncodeCommit(c), parent)
		prevTree, prevFile = th, fh
	}
	// A base never added is ignored.
	add(BlobObject, append(bytes.Clone(file), "x"...), HashObject(BlobObject, []byte("absent")))
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, nil, "update-ref", "refs/heads/master", parent.String())
	gitT(t, dir, nil, "fsck", "--strict", "--no-dangling")
	idx, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.idx"))
	verify := string(gitT(t, dir, nil, "verify-pack", "-v", idx[0]))
	chains := regexp.MustCompile(`chain length = (\d+): (\d+) objects?`).FindAllStringSubmatch(verify, -1)
	deltas, maxChain := 0, 0
	for _, m := range chains {
		l, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		deltas += n
		maxChain = max(maxChain, l)
	}
	if deltas < versions { // trees and file versions, at least
		t.Errorf("only %d deltas:\n%s", deltas, verify[max(0, len(verify)-1500):])
	}
	if maxChain > maxDeltaDepth {
		t.Errorf("delta chain of %d", maxChain)
	}
	checkCatFile(t, dir, objs)
}

func FuzzDelta(f *testing.F) {
	f.Add([]byte("the base text of a file\nwith lines\n"), []byte("the base text of a file\nwith more lines\n"))
	f.Fuzz(func(t *testing.T, base, target []byte) {
		d := makeDelta(base, target)
		if d == nil {
			return
		}
		got, err := ApplyDelta(base, d)
		if err != nil || !bytes.Equal(got, target) {
			t.Fatalf("delta does not reproduce the target: %v", err)
		}
	})
}

// FuzzApplyDelta applies arbitrary Git deltas: no panic, and bounded output.
func FuzzApplyDelta(f *testing.F) {
	f.Add("hello", "\x05\x05\x90\x05")
	f.Add("hello", "\x05\x03\x03abc")
	f.Add("", "\x00\x00")
	f.Fuzz(func(t *testing.T, src, delta string) {
		out, err := ApplyDelta([]byte(src), []byte(delta))
		if err == nil && len(out) > len(delta)*max(len(src), 127) {
			t.Fatalf("output of %d bytes from a %d-byte delta", len(out), len(delta))
		}
	})
}

// TestPackWriterDulwichReads checks that dulwich, which hg-git uses on the
// same repository, reads PackWriter's packs (whole objects and deltas).
func TestPackWriterDulwichReads(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	objs, _ := writeTestHistory(t, pw, 5)
	var prev Hash
	for i := range 60 {
		data := []byte(strings.Repeat("a line of a growing file\n", 50+i))
		h, err := pw.AddDelta(BlobObject, data, prev)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testObject{BlobObject, data, h})
		prev = h
	}
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	checkDulwich(t, dir, objs)
}

// randomPatch returns a Mercurial binary patch of a few hunks over base
// (replacing, inserting and deleting ranges, some long enough for copies
// of more than 64 KiB between them and inserts of more than 127 bytes).
func randomPatch(rng *rand.Rand, base []byte) []byte {
	var patch []byte
	at := 0
	for at < len(base) && rng.Intn(6) != 0 {
		start := at + rng.Intn(min(len(base)-at, 1+[]int{64, 4096, 0x18000}[rng.Intn(3)]))
		end := start + rng.Intn(min(len(base)-start, 300)+1)
		data := bytes.Repeat([]byte{byte('A' + rng.Intn(26))}, rng.Intn(400))
		patch = binary.BigEndian.AppendUint32(patch, uint32(start))
		patch = binary.BigEndian.AppendUint32(patch, uint32(end))
		patch = binary.BigEndian.AppendUint32(patch, uint32(len(data)))
		patch = append(patch, data...)
		at = end
	}
	return patch
}

// hgPatch applies a Mercurial binary patch (the reference for
// AppendPatchDelta).
func hgPatch(base, patch []byte) []byte {
	var out []byte
	last := 0
	for p := 0; p < len(patch); {
		start := int(binary.BigEndian.Uint32(patch[p:]))
		end := int(binary.BigEndian.Uint32(patch[p+4:]))
		n := int(binary.BigEndian.Uint32(patch[p+8:]))
		out = append(append(out, base[last:start]...), patch[p+12:p+12+n]...)
		p += 12 + n
		last = end
	}
	return append(out, base[last:]...)
}

func TestAppendPatchDelta(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(3))
	for i := range 500 {
		base := make([]byte, rng.Intn(200000))
		for k := range base {
			base[k] = byte('a' + k%23)
		}
		patch := randomPatch(rng, base)
		want := hgPatch(base, patch)
		d := AppendPatchDelta(nil, patch, len(base), len(want))
		if d == nil {
			t.Fatalf("case %d: no delta", i)
		}
		if !deltaFits(d, int64(len(base)), len(want)) {
			t.Fatalf("case %d: deltaFits false for its own delta", i)
		}
		got, err := ApplyDelta(base, d)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("case %d: ApplyDelta: %v, equal %v", i, err, bytes.Equal(got, want))
		}
		// Wrong sizes are refused by both.
		if AppendPatchDelta(nil, patch, len(base), len(want)+1) != nil {
			t.Fatalf("case %d: delta for a wrong target size", i)
		}
		if deltaFits(d, int64(len(base))+1, len(want)) || deltaFits(d, int64(len(base)), len(want)+1) {
			t.Fatalf("case %d: deltaFits true for wrong sizes", i)
		}
		if len(d) > 0 && deltaFits(d[:len(d)-1], int64(len(base)), len(want)) {
			t.Fatalf("case %d: deltaFits true for a truncated delta", i)
		}
	}
	// Malformed patches.
	for _, p := range [][]byte{{0, 0, 0}, {0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 'x'}} {
		if d := AppendPatchDelta(nil, p, 4, 4); d != nil {
			t.Errorf("patch %q: delta %q, want none", p, d)
		}
	}
}

// TestPackWriterSubmitDelta stores versions of a file as deltas the caller
// made (and some the writer must refuse: a wrong base size, a base not in
// the pack), and has git and dulwich read them all.
func TestPackWriterSubmitDelta(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw := openPackWriter(t, dir)
	rng := rand.New(rand.NewSource(4))
	var objs []testObject
	text := bytes.Repeat([]byte("a line of a file edited in many places\n"), 3000)
	prev, err := pw.Submit(BlobObject, bytes.Clone(text), ZeroHash)
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, testObject{BlobObject, bytes.Clone(text), prev})
	for i := range 60 {
		patch := randomPatch(rng, text)
		next := hgPatch(text, patch)
		d := AppendPatchDelta(nil, patch, len(text), len(next))
		base := prev
		switch i % 10 {
		case 3:
			d = AppendPatchDelta(nil, patch, len(text), len(next))
			d[0] ^= 1 // the base's size, wrong: stored otherwise
		case 7:
			base = HashObject(BlobObject, []byte("not in the pack"))
		}
		h, err := pw.SubmitDelta(BlobObject, bytes.Clone(next), base, d)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testObject{BlobObject, next, h})
		text, prev = next, h
	}
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, nil, "fsck", "--strict")
	names := packFiles(t, dir)
	verify := string(gitT(t, dir, nil, "verify-pack", "-v", filepath.Join(dir, "objects", "pack", names[0])))
	if !strings.Contains(verify, "chain length = 10:") {
		t.Errorf("verify-pack -v shows no chains of the given deltas:\n%s", verify[max(0, len(verify)-500):])
	}
	checkCatFile(t, dir, objs)
	checkDulwich(t, dir, objs)
}

// checkDulwich requires dulwich (an independent reader of packs) to read
// every object of objs in the repository at dir, with its kind and hash.
func checkDulwich(t *testing.T, dir string, objs []testObject) {
	t.Helper()
	var in bytes.Buffer
	for _, o := range objs {
		fmt.Fprintln(&in, o.hash)
	}
	cmd := exec.Command("/usr/bin/python3", "testdata/dulwich_read.py", dir)
	cmd.Stdin = &in
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dulwich: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(objs) {
		t.Fatalf("dulwich printed %d lines for %d objects", len(lines), len(objs))
	}
	for i, o := range objs {
		if want := fmt.Sprintf("%s %s %s", o.hash, o.kind, o.hash); lines[i] != want {
			t.Errorf("dulwich read %q, want %q", lines[i], want)
		}
	}
}
