package git

import (
	"bytes"
	"fmt"
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
