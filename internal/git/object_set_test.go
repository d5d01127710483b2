package git

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allObjects lists every object git sees in dir.
func allObjects(t *testing.T, dir string) []Hash {
	t.Helper()
	out := gitT(t, dir, nil, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	var hs []Hash
	for _, l := range strings.Fields(string(out)) {
		hs = append(hs, mustHash(t, l))
	}
	return hs
}

func checkObjectSet(t *testing.T, dir string, want []Hash) {
	t.Helper()
	set, err := LoadObjectSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range want {
		if !set.Has(h) {
			t.Errorf("ObjectSet lacks %s", h)
		}
		if ok, err := ObjectExists(dir, h); err != nil || !ok {
			t.Errorf("ObjectExists(%s) = %v, %v", h, ok, err)
		}
	}
	absent := []Hash{HashObject(BlobObject, []byte("never written")), ZeroHash, {0xff, 0xff, 0xff}}
	for _, h := range absent {
		if set.Has(h) {
			t.Errorf("ObjectSet has absent %s", h)
		}
		if ok, err := ObjectExists(dir, h); err != nil || ok {
			t.Errorf("ObjectExists(absent %s) = %v, %v", h, ok, err)
		}
	}
}

func TestObjectSetLooseAndPacked(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	// Loose objects written by git.
	for i := range 30 {
		gitT(t, dir, fmt.Appendf(nil, "loose %d\n", i), "hash-object", "-w", "--stdin")
	}
	checkObjectSet(t, dir, allObjects(t, dir))
	// Packed by git (version 2 index), plus a PackWriter pack, plus more loose.
	gitT(t, dir, nil, "repack", "-a", "-d", "-q", "--unpack-unreachable=now")
	pw := openPackWriter(t, dir)
	writeTestHistory(t, pw, 10)
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, []byte("loose again\n"), "hash-object", "-w", "--stdin")
	all := allObjects(t, dir)
	if len(all) < 30+50 {
		t.Fatalf("only %d objects", len(all))
	}
	checkObjectSet(t, dir, all)
	set, _ := LoadObjectSet(dir)
	if set.Len() < len(all) {
		t.Errorf("Len = %d < %d objects", set.Len(), len(all))
	}
}

func TestObjectSetIdxV1(t *testing.T) {
	t.Parallel()
	src := newBare(t)
	pw, err := NewPackWriter(src)
	if err != nil {
		t.Fatal(err)
	}
	writeTestHistory(t, pw, 5)
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	var pack string
	for _, n := range packFiles(t, src) {
		if strings.HasSuffix(n, ".pack") {
			pack = filepath.Join(src, "objects", "pack", n)
		}
	}
	all := allObjects(t, src)
	dir := newBare(t)
	dst := filepath.Join(dir, "objects", "pack", "pack-v1")
	data, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".pack", data, 0o644); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, nil, "index-pack", "--index-version=1", "-o", dst+".idx", dst+".pack")
	idx, _ := os.ReadFile(dst + ".idx")
	if bytes.HasPrefix(idx, idxMagic[:]) {
		t.Fatal("git wrote a version-2 index")
	}
	checkObjectSet(t, dir, all)
}

func TestObjectSetIgnoresIdxWithoutPack(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	pw, _ := NewPackWriter(dir)
	h, _ := pw.Add(BlobObject, []byte("x"))
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, n := range packFiles(t, dir) {
		if strings.HasSuffix(n, ".pack") {
			os.Remove(filepath.Join(dir, "objects", "pack", n))
		}
	}
	if ok, _ := ObjectExists(dir, h); ok {
		t.Error("object of a pack without .pack reported present")
	}
	if set, err := LoadObjectSet(dir); err != nil || set.Has(h) {
		t.Errorf("LoadObjectSet: %v", err)
	}
	if set, err := LoadObjectSet(filepath.Join(t.TempDir(), "missing")); err != nil || set.Len() != 0 {
		t.Errorf("missing repository: %v", err)
	}
}

// TestWriteIdxLargeOffsets covers the 64-bit offset table, which real packs
// only need past 2 GiB.
func TestWriteIdxLargeOffsets(t *testing.T) {
	t.Parallel()
	objects := map[Hash]packEntry{}
	for i := range 100 {
		off := uint64(12 + i*100)
		if i%3 == 0 {
			off += 1<<31 + uint64(i)<<32
		}
		objects[HashObject(BlobObject, fmt.Appendf(nil, "%d", i))] = packEntry{offset: off, crc: uint32(i)}
	}
	var buf bytes.Buffer
	if err := writeIdx(&buf, objects, Hash{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	x, err := parseIdx(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if x.len() != 100 {
		t.Errorf("len = %d", x.len())
	}
	for h := range objects {
		if !x.has(h) {
			t.Errorf("idx lacks %s", h)
		}
		if ok, err := idxHas(bytes.NewReader(buf.Bytes()), h); !ok || err != nil {
			t.Errorf("idxHas(%s) = %v, %v", h, ok, err)
		}
	}
	// 34 large offsets, each 8 bytes, before the two checksums.
	if want := 8 + 1024 + 100*28 + 34*8 + 40; buf.Len() != want {
		t.Errorf("idx size %d, want %d", buf.Len(), want)
	}
}

func TestParseIdxRejects(t *testing.T) {
	t.Parallel()
	var good bytes.Buffer
	writeIdx(&good, map[Hash]packEntry{{0x10}: {offset: 12}, {0x20}: {offset: 40}}, Hash{})
	corrupt := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good.Bytes())) }
	for name, data := range map[string][]byte{
		"empty":     nil,
		"truncated": good.Bytes()[:good.Len()-1],
		"checksum":  corrupt(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"version":   corrupt(func(b []byte) []byte { b[7] = 3; return b }),
		"fanout":    corrupt(func(b []byte) []byte { b[8+4*0x30+3] = 0; return b }),
	} {
		want := ErrMalformedIdx
		if name == "version" {
			want = ErrUnsupportedVersion
		}
		if _, err := parseIdx(data); !errors.Is(err, want) {
			t.Errorf("%s: parseIdx: %v, want %v", name, err, want)
		}
	}
	version := corrupt(func(b []byte) []byte { b[7] = 3; return b })
	if _, err := idxHas(bytes.NewReader(version), Hash{0x10}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("idxHas of version 3: %v", err)
	}
	fanout := corrupt(func(b []byte) []byte { b[8+4*0x30+3] = 0; return b })
	if _, err := idxHas(bytes.NewReader(fanout), Hash{0x30}); !errors.Is(err, ErrMalformedIdx) {
		t.Errorf("idxHas of a bad fan-out: %v", err)
	}
}

func FuzzParseIdx(f *testing.F) {
	var b bytes.Buffer
	writeIdx(&b, map[Hash]packEntry{{0x10}: {offset: 12, crc: 7}, {0x10, 1}: {offset: 1 << 33, crc: 8}, {0xff}: {offset: 40, crc: 9}}, Hash{})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := parseIdx(data)
		if err != nil {
			return
		}
		for i := range x.len() {
			var h Hash
			copy(h[:], x.name(i))
			if !x.has(h) {
				t.Fatalf("parsed index lacks its entry %d", i)
			}
			if ok, err := idxHas(bytes.NewReader(data), h); err != nil || !ok {
				t.Fatalf("idxHas disagrees on entry %d: %v, %v", i, ok, err)
			}
		}
	})
}
