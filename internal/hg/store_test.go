package hg

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestEncodeStorePathVectors(t *testing.T) {
	t.Parallel()
	// Mercurial's store.py doctests and hg's test-hybridencode.py.
	data, err := os.ReadFile(filepath.Join("testdata", "storepath.txt"))
	if err != nil {
		t.Fatal(err)
	}
	encodings := map[string]storeEncoding{"plain": encodePlain, "basic": encodeBasic, "hybrid": encodeHybrid, "dothash": encodeDotHash}
	type vector struct {
		in   string
		enc  storeEncoding
		want string
	}
	var tests []vector
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var name string
		var v vector
		_, err := fmt.Sscanf(line, "%s %q %q", &name, &v.in, &v.want)
		enc, ok := encodings[name]
		if err != nil || !ok {
			t.Fatalf("storepath.txt:%d: %q: %v (encoding %q)", i+1, line, err, name)
		}
		v.enc = enc
		tests = append(tests, v)
	}
	if len(tests) != 16 {
		t.Fatalf("%d vectors in storepath.txt, want 16", len(tests))
	}
	for _, tc := range tests {
		if got := encodeStorePath(tc.in, tc.enc); got != tc.want {
			t.Errorf("encodeStorePath(%q, %d) =\n %q\nwant %q", tc.in, tc.enc, got, tc.want)
		}
	}
}

// checkStoreLayout checks that the encoded names of every tracked path are
// exactly the revlog files hg created in the store, and that fncache lists
// the same paths.
func checkStoreLayout(t *testing.T, r *Repo, paths []string) {
	t.Helper()
	want := storeFiles(t, r.storeDir)
	got := map[string]bool{}
	for _, p := range paths {
		for _, ext := range []string{".i", ".d"} {
			name := encodeStorePath("data/"+p+ext, r.enc)
			if ext == ".i" || want[name] {
				got[name] = true
			}
		}
	}
	var missing, extra []string
	for k := range got {
		if !want[k] {
			missing = append(missing, k)
		}
	}
	for k := range want {
		if !got[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("store layout differs:\nencoded but absent: %q\npresent but not encoded: %q", missing, extra)
	}
	if r.enc < encodeHybrid {
		return
	}
	b, err := os.ReadFile(filepath.Join(r.storeDir, "fncache"))
	if err != nil {
		t.Fatal(err)
	}
	fnc := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fnc[sc.Text()] = true
	}
	for _, p := range paths {
		// fncache holds the encodedir'd, otherwise unencoded path.
		if !fnc[encodeDir("data/"+p+".i")] {
			t.Errorf("fncache lacks %q", "data/"+p+".i")
		}
	}
	for k := range fnc {
		if name := encodeStorePath(decodeDir(k), r.enc); !got[name] {
			t.Errorf("fncache entry %q encodes to %q, not a known file", k, name)
		}
	}
}

// decodeDir reverses encodeDir (store.py's decodedir).
func decodeDir(p string) string {
	p = strings.ReplaceAll(p, ".d.hg/", ".d/")
	p = strings.ReplaceAll(p, ".i.hg/", ".i/")
	return strings.ReplaceAll(p, ".hg.hg/", ".hg/")
}
