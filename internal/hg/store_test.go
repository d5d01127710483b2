package hg

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestEncodeStorePathVectors(t *testing.T) {
	t.Parallel()
	// Expected values from Mercurial's store.py doctests and hg's test-hybridencode.py.
	tests := []struct {
		in   string
		enc  storeEncoding
		want string
	}{
		{"data/nothing/special.txt.i", encodeDotHash, "data/nothing/special.txt.i"},
		{"data/HELLO.i", encodeDotHash, "data/_h_e_l_l_o.i"},
		{"data/hello:world?.i", encodeDotHash, "data/hello~3aworld~3f.i"},
		{"data/the\x07quick\xadshot.i", encodeDotHash, "data/the~07quick~adshot.i"},
		{"data/foo.i/bar.d/bla.hg/hi:world?/HELLO.i", encodeDotHash, "data/foo.i.hg/bar.d.hg/bla.hg.hg/hi~3aworld~3f/_h_e_l_l_o.i"},
		{"data/.foo/aux.txt/txt.aux/con/prn/nul/foo..i", encodeDotHash, "data/~2efoo/au~78.txt/txt.aux/co~6e/pr~6e/nu~6c/foo..i"},
		{"data/.foo/aux.txt/foo.i", encodeHybrid, "data/.foo/au~78.txt/foo.i"},
		{"data/com1com2/lpt9.lpt4.lpt1/conprn/com0/lpt0/foo./x.i", encodeHybrid, "data/com1com2/lp~749.lpt4.lpt1/conprn/com0/lpt0/foo~2e/x.i"},
		{"data/ .foo/foo. /x.i", encodeDotHash, "data/~20.foo/foo.~20/x.i"},
		{"data/under_score.i", encodeDotHash, "data/under__score.i"},
		{"data/HELLO.i", encodeBasic, "data/_h_e_l_l_o.i"},
		{"data/aux.i", encodeBasic, "data/aux.i"},
		{"data/foo.i/HELLO.i", encodePlain, "data/foo.i.hg/HELLO.i"},
		// Hashed (test-hybridencode.py).
		{"data/aux.bla/bla.aux/prn/PRN/lpt/com3/nul/coma/foo.NUL/normal.c.i", encodeDotHash,
			"data/au~78.bla/bla.aux/pr~6e/_p_r_n/lpt/co~6d3/nu~6c/coma/foo._n_u_l/normal.c.i"},
		{"data/AUX/SECOND/X.PRN/FOURTH/FI:FTH/SIXTH/SEVENTH/EIGHTH/NINETH/TENTH/ELEVENTH/LOREMIPSUM.TXT.i", encodeDotHash,
			"dh/au~78/second/x.prn/fourth/fi~3afth/sixth/seventh/eighth/nineth/tenth/loremia20419e358ddff1bf8751e38288aff1d7c32ec05.i"},
		{"data/enterprise/openesbaddons/contrib-imola/corba-bc/netbeansplugin/wsdlExtension/src/main/java/META-INF/services/org.netbeans.modules.xml.wsdl.bindingsupport.spi.ExtensibilityElementTemplateProvider.i", encodeDotHash,
			"dh/enterpri/openesba/contrib-/corba-bc/netbeans/wsdlexte/src/main/java/org.net7018f27961fdf338a598a40c4683429e7ffb9743.i"},
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
