package hg

import (
	"bytes"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Fuzz targets: every parser must return an error on corrupt input, never
// panic, and allocate only in proportion to its input.

func FuzzRevlog(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, index, data []byte) {
		rl, err := parseRevlog("fuzz.i", index)
		if err != nil {
			return
		}
		if !rl.inline {
			rl.data, rl.dataName, rl.dataSize = bytes.NewReader(data), "fuzz.d", int64(len(data))
			if len(index)%2 == 1 {
				rl.wholeMax = 1 << 20 // exercise the whole-file path too
			}
			rl.recycle = len(data)%2 == 1
		}
		n := min(rl.Len(), 64)
		for rev := 0; rev < n; rev++ {
			text, err := rl.Revision(rev)
			if rs, _ := rl.RawSize(rev); err == nil && rs >= 0 && len(text) != rs {
				t.Fatalf("rev %d: %d bytes, index says %d", rev, len(text), rs)
			}
			_ = rl.Verify(rev)
			node, err := rl.Node(rev)
			if err != nil {
				t.Fatalf("Node(%d) of %d revisions: %v", rev, rl.Len(), err)
			}
			rl.Rev(node)
		}
		for rev := n - 1; rev >= 0; rev-- {
			_, _ = rl.Revision(rev)
		}
	})
}

func FuzzPatch(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), []byte("\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x04bye\n"))
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := Patch(base, delta)
		if err != nil {
			return
		}
		if len(out) > len(base)+len(delta) {
			t.Fatalf("patched text of %d bytes from %d + %d", len(out), len(base), len(delta))
		}
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add([]byte("uhello"), int32(5), true)
	f.Fuzz(func(t *testing.T, chunk []byte, rawsize int32, exact bool) {
		rl := &Revlog{name: "fuzz"}
		out, err := rl.decompress(chunk, nil, rawsize, exact)
		if err == nil && exact && rawsize >= 0 && len(out) > int(rawsize) {
			t.Fatalf("decompressed %d bytes, limit %d", len(out), rawsize)
		}
	})
}

func FuzzParseChangeset(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef01234567\nuser\n0 0\na\n\ndesc"))
	f.Fuzz(func(t *testing.T, text []byte) {
		if c, err := ParseChangeset(text); err == nil && (len(c.Description) > len(text) || len(c.User) > len(text)) {
			t.Fatal("parsed fields longer than the input")
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("a\x000123456789abcdef0123456789abcdef01234567\nb/c\x000123456789abcdef0123456789abcdef01234567x\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		entries, err := ParseManifest(text)
		for i := 1; err == nil && i < len(entries); i++ {
			if entries[i-1].Path > entries[i].Path {
				t.Fatalf("entries not sorted: %q > %q", entries[i-1].Path, entries[i].Path)
			}
		}
	})
}

func FuzzParseFileMeta(f *testing.F) {
	f.Add([]byte("\x01\ncopy: a\ncopyrev: 0123456789abcdef0123456789abcdef01234567\n\x01\ndata"))
	f.Fuzz(func(t *testing.T, text []byte) {
		data, _, err := ParseFileMeta(text)
		if err == nil && len(data) > len(text) {
			t.Fatal("data longer than the input")
		}
	})
}

func FuzzTagsAndBookmarks(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef01234567 v1\n0000000000000000000000000000000000000000 v1\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		all := &orderedTags{tags: map[string]*tagHist{}}
		updateTags(readTagLines(text), all)
		updateTags(readTagLines(text), all)
		if len(all.names) != len(all.tags) {
			t.Fatalf("%d names, %d tags", len(all.names), len(all.tags))
		}
		_ = ParseBookmarks(text)
	})
}

func FuzzEncodeStorePath(f *testing.F) {
	for _, p := range trickyPaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, enc := range []storeEncoding{encodePlain, encodeBasic, encodeHybrid, encodeDotHash} {
			got := encodeStorePath("data/"+path+".i", enc)
			if enc >= encodeHybrid && len(got) > maxStorePathLen && !strings.HasPrefix(got, "dh/") {
				t.Fatalf("encoded %q to %d bytes without hashing", path, len(got))
			}
			if enc >= encodeHybrid && strings.HasPrefix(got, "dh/") && len(got) > maxStorePathLen+2 {
				t.Fatalf("hashed %q to %d bytes", path, len(got))
			}
		}
	})
}

func FuzzDiffManifests(f *testing.F) {
	a := "a\x00" + strings.Repeat("1", 40) + "\nb\x00" + strings.Repeat("2", 40) + "x\n"
	f.Add([]byte(a), []byte(a+"c\x00"+strings.Repeat("3", 40)+"\n"))
	f.Add([]byte(a), []byte("b\x00"+strings.Repeat("2", 40)+"\n"))
	f.Fuzz(func(t *testing.T, old, new []byte) {
		a, err := ParseManifest(old)
		if err != nil || !sort.SliceIsSorted(a, func(i, j int) bool { return a[i].Path < a[j].Path }) || hasDuplicate(a) {
			return // DiffManifests requires old sorted and well formed
		}
		old = EncodeManifest(a)
		got, sorted, err := DiffManifests(old, new)
		b, perr := ParseManifest(new)
		if err != nil || perr != nil {
			if (err == nil) == (perr == nil) {
				return
			}
			if err != nil || sorted {
				t.Fatalf("DiffManifests err %v sorted %v, ParseManifest err %v", err, sorted, perr)
			}
			return // unsorted: the caller parses, and fails
		}
		if !sorted {
			if string(EncodeManifest(b)) == string(new) && !hasDuplicate(b) {
				t.Fatalf("sorted text reported unsorted")
			}
			return
		}
		if want := diffParsed(t, old, new); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})
}

func hasDuplicate(mf []ManifestEntry) bool {
	for i := 1; i < len(mf); i++ {
		if mf[i].Path == mf[i-1].Path {
			return true
		}
	}
	return false
}
