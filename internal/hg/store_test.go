package hg

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
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

// TestEncodeStorePathMatchesHg compares the store paths of thousands of
// random paths (empty components, dots and spaces where directories are
// cut, upper case, high bytes, long names) with hg's own: with dotencode,
// its C pathencode; without, store.py's _hybridencode, where it does not
// fail (it fails on an empty directory component).
func TestEncodeStorePathMatchesHg(t *testing.T) {
	t.Parallel()
	python := strings.TrimSpace(hgtest.Run(t, "", "debuginstall", "-T", "{pythonexe}"))
	rnd := rand.New(rand.NewSource(1))
	pieces := []string{"a", "B", "x", "0", ".", " ", "/", "/", "~", "_", ":", "\xe9", "aux", "con.", "hg", ".hg", "verylongdirectoryname"}
	paths := []string{
		"///////////0000000000000000000000000000000000000000/00000000/00000000/00000000/00000000/00000000/00000000/00000/",
		"a//b", "//x", "x/", strings.Repeat("d/", 60) + "f",
	}
	for _, p := range trickyPaths {
		paths = append(paths, p)
	}
	for range 3000 {
		var b strings.Builder
		for n := 1 + rnd.Intn(40); n > 0; n-- {
			b.WriteString(pieces[rnd.Intn(len(pieces))])
		}
		paths = append(paths, b.String())
	}
	var in bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&in, "%x\n", "data/"+p+".i")
	}
	cmd := exec.Command(python, "-c", `import sys
from mercurial import policy
parsers = policy.importmod("parsers")
from mercurial import store
for line in sys.stdin:
    p = bytes.fromhex(line.strip())
    try:
        plain = store._hybridencode(p, False).hex()
    except IndexError:
        plain = "-"
    sys.stdout.write(parsers.pathencode(p).hex() + " " + plain + "\n")
`)
	cmd.Env, cmd.Stdin = hgtest.Env(), &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hg's pathencode: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("hg encoded %d paths of %d", len(lines), len(paths))
	}
	bad, compared := 0, 0
	for i, p := range paths {
		dot, plain, _ := strings.Cut(lines[i], " ")
		for enc, w := range map[storeEncoding]string{encodeDotHash: dot, encodeHybrid: plain} {
			if w == "-" {
				continue
			}
			compared++
			want, _ := hex.DecodeString(w)
			if got := encodeStorePath("data/"+p+".i", enc); got != string(want) {
				if bad++; bad <= 5 {
					t.Errorf("%q (encoding %d):\n got  %q\n want %q (hg)", p, enc, got, want)
				}
			}
		}
	}
	if bad > 0 || compared < len(paths)+len(paths)/2 {
		t.Fatalf("%d of %d encodings differ from hg's (%d paths)", bad, compared, len(paths))
	}
	t.Logf("%d encodings of %d paths as hg's", compared, len(paths))
}
