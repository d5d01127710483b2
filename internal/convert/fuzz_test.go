package convert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// FuzzGitIdent checks that any Mercurial user name becomes a well-formed
// Git identity: "NAME <MAIL>" with no "<", ">" or newline inside either.
func FuzzGitIdent(f *testing.F) {
	for _, s := range []string{"", "a <b>", "x@y", "<<>>", " <a@b> ", "a <b>c>d", "a\n<b>", "J\xf6rg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		if strings.Contains(user, "\n") {
			return // a changelog user cannot hold a newline
		}
		id := gitIdent(localUTF8(user))
		lt := strings.LastIndex(id, " <")
		if lt < 0 || !strings.HasSuffix(id, ">") {
			t.Fatalf("gitIdent(%q) = %q: not NAME <MAIL>", user, id)
		}
		name, mail := id[:lt], id[lt+2:len(id)-1]
		if strings.ContainsAny(name, "<>\n") || strings.ContainsAny(mail, "<>\n") {
			t.Fatalf("gitIdent(%q) = %q: brackets or newline inside", user, id)
		}
	})
}

// FuzzSubrepoState feeds arbitrary .hgsub and .hgsubstate texts to the
// parsers: they must not panic, and every entry must have a path.
func FuzzSubrepoState(f *testing.F) {
	f.Add("docs/_themes = [git]git://github.com/x/y.git", "11cb6b51c9ea3bc8f94afa3d7411b617f9db2570 docs/_themes\n")
	f.Add("a = a\n[section]\nb = [svn]http://x\n %include x\n%unset a\n", " docs/_themes\n")
	f.Add("\xef\xbb\xbfk = v\n  continued\n# c\n; c\nbad line\n", "x y\r\nz\n")
	f.Add("p = [git", "")
	f.Fuzz(func(t *testing.T, hgsub, hgsubstate string) {
		state, problems := subrepoState(hgsub, true, hgsubstate, true)
		for _, s := range state {
			if s.Path == "" {
				t.Fatalf("entry without path: %+v", s)
			}
		}
		for _, p := range problems {
			if p.Kind == "" || p.Message == "" {
				t.Fatalf("problem without kind or message: %+v", p)
			}
		}
	})
}

// FuzzCommitterExtra checks the "committer" extra parser against the shape
// of its output.
func FuzzCommitterExtra(f *testing.F) {
	for _, s := range []string{"A <a@b> 1500000000 -7200", "A 1 +0130", "A 1 +0300", "x", "a b c", "A 1_0 -0_0", "A 1 --100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		out, ok := committerFromExtra(c)
		if !ok {
			return
		}
		if !strings.HasPrefix(c, out[:strings.LastIndexByte(out[:strings.LastIndexByte(out, ' ')], ' ')]) {
			t.Fatalf("committerFromExtra(%q) = %q: name not kept", c, out)
		}
	})
}

// FuzzMapFile reads arbitrary git-mapfile contents: no panic, and what is
// accepted is written back and read again to the same map.
func FuzzMapFile(f *testing.F) {
	f.Add([]byte("0123456789012345678901234567890123456789 0123456789012345678901234567890123456789\n"))
	f.Add([]byte("short line\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), MapFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := loadMap(path)
		if err != nil {
			return
		}
		if err := m.save(); err != nil {
			t.Fatal(err)
		}
		again, err := loadMap(path)
		if err != nil {
			t.Fatalf("reading back a saved map: %v", err)
		}
		if len(again.byHg) != len(m.byHg) {
			t.Fatalf("%d entries read back, want %d", len(again.byHg), len(m.byHg))
		}
		for n, h := range m.byHg {
			if again.byHg[n] != h {
				t.Fatalf("entry %s changed", n)
			}
		}
	})
}

// FuzzParseAuthors checks the authors file parser against the rule it
// follows: every non-comment line has exactly one "=", and each translation
// read back has no surrounding whitespace where hg-git strips it.
func FuzzParseAuthors(f *testing.F) {
	for _, s := range []string{"a = b\n", "# c\n\n a=b \r\nc = d <e>\n", "x = y = z", "no equals", "=\n", "a\t=\t\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseAuthors("fuzz", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz:") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			return
		}
		for from, to := range m {
			if strings.ContainsAny(from, "=\n") || strings.ContainsAny(to, "=\n") {
				t.Fatalf("translation %q = %q holds a separator", from, to)
			}
			if strings.TrimRight(from, asciiSpace) != from || strings.TrimLeft(to, asciiSpace) != to {
				t.Fatalf("translation %q = %q keeps whitespace hg-git strips", from, to)
			}
		}
	})
}

// FuzzGitConfig feeds arbitrary .gitmodules texts to the dulwich-style
// parser: it must not panic, and what it writes must read back the same.
func FuzzGitConfig(f *testing.F) {
	for _, s := range []string{"[submodule \"a\"]\n\tpath = a\n\turl = u\n", "[core]\nx\n", "[a.b]\nk = \"v # x\" ; c\n", "[s \"\"]\nk = a\\\nb\n", "\xef\xbb\xbf[x]k=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		g, err := parseGitConfig(text)
		if err != nil {
			return
		}
		g.submodules()
		out := g.bytes()
		if strings.ContainsAny(text, "\r\x00]\"\\") {
			return // subsection names and keys are written raw, as dulwich does
		}
		g2, err := parseGitConfig(string(out))
		if err != nil {
			t.Fatalf("written %q does not read back: %v", out, err)
		}
		if string(g2.bytes()) != string(out) {
			t.Fatalf("round trip: %q then %q", out, g2.bytes())
		}
	})
}

// sealed returns b with its last 32 bytes (a state file's SHA-256)
// replaced by the SHA-256 of the rest, so that fuzzed fields reach the
// decoder rather than fail the sum.
func sealed(b []byte) []byte {
	end := max(len(b)-sha256.Size, 0)
	sum := sha256.Sum256(b[:end])
	return append(b[:end:end], sum[:]...)
}

// FuzzStateDecode decodes arbitrary state files, sealed (see sealed): no
// panic, no allocation beyond a small multiple of the input's size (every
// count is checked against what is left), and a state that decodes is
// encoded and decoded again to an equal one. The seeds
// (testdata/fuzz/FuzzStateDecode) are states of small conversions and
// truncations of them (TestWriteStateSeeds).
func FuzzStateDecode(f *testing.F) {
	head := stateMagic + "\x0c\x00" + strings.Repeat("\x00", 20) + "\x00" + strings.Repeat("\x00", 20)
	f.Add(sealed([]byte(stateMagic + strings.Repeat("\x00", 32))))
	// Huge declared counts: 2^62 heads, one head of a 2^62-byte branch name,
	// a negative count.
	f.Add(sealed([]byte(head + "\xfe\xff\xff\xff\xff\xff\xff\xff\x7f" + strings.Repeat("\x00", 32))))
	f.Add(sealed([]byte(head + "\x02\x00\xfe\xff\xff\xff\xff\xff\xff\xff\x7f" + strings.Repeat("\x00", 32))))
	f.Add(sealed([]byte(head + "\x01" + strings.Repeat("\x00", 32))))
	f.Fuzz(func(t *testing.T, data []byte) {
		if st := decodeState(data); st != nil && !bytes.Equal(data, sealed(data)) {
			t.Fatal("a state whose sum is wrong decoded")
		}
		data = sealed(data)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st := decodeState(data)
		runtime.ReadMemStats(&after)
		// A list's elements fit in the input left (count): a string or
		// int64 of 16 or 8 bytes takes one byte or more, a headState of
		// 40 three or more; the input is copied once.
		if n := after.TotalAlloc - before.TotalAlloc; n > 20*uint64(len(data))+1<<20 {
			t.Fatalf("decoding %d bytes allocated %d", len(data), n)
		}
		if st == nil {
			return
		}
		if st.Version != stateVersion {
			t.Fatalf("state of version %d accepted", st.Version)
		}
		again := decodeState(st.encode())
		if again == nil {
			t.Fatal("an encoded state does not decode")
		}
		st.encodedSize, again.encodedSize = 0, 0
		if !reflect.DeepEqual(st, again) {
			t.Fatalf("round trip:\n%+v\nthen\n%+v", st, again)
		}
	})
}

// stateRepo is a small repository converted once (named branch, merge,
// tag, bookmarks, one of them invalid, a secret changeset, a symlink, an
// executable, a subdirectory), then given one more changeset that moves a
// bookmark: the conversion of the increment from the state it left.
type stateRepo struct {
	dir   string // the repository, converted but for its last changeset (no working directory)
	state []byte // the state the conversion left
	// What a full conversion of the whole repository gives.
	mapFile []byte
	refs    map[string]string
	res     *Result
}

// newStateRepo builds a stateRepo in tb's temporary directory.
func newStateRepo(tb testing.TB) *stateRepo {
	tb.Helper()
	r := hgtest.NewRepo(tb)
	r.Write("a", "1\n")
	r.Write("dir/sub/b", "b\n")
	r.Write("run", "#!/bin/sh\n")
	r.Chmod("run", 0o755)
	r.Symlink("a", "link")
	r.Commit(hgtest.WithBookmark("main"))
	r.Commit(hgtest.WithFile("a", "2\n"), hgtest.WithFile("dir/c", "c\n"), hgtest.WithBookmark("main"))
	r.Tag("v1", hgtest.WithBookmark("main"))
	r.Commit(hgtest.WithParent("1"), hgtest.WithBranch("side"), hgtest.WithFile("dir/sub/b", "side\n"), hgtest.WithBookmark("bad..name"))
	r.Update("main")
	r.Run("merge", "-q", "--tool", "internal:local", "side")
	merge := r.Commit(hgtest.WithMessage("merge side"), hgtest.WithBookmark("main"))
	r.Run("bookmark", "-q", "--inactive")
	r.Commit(hgtest.WithFile("secret", "s\n"), hgtest.WithBookmark("hidden"))
	r.Run("phase", "-q", "--force", "--secret", "-r", ".")
	if _, err := (&Native{}).Convert(context.Background(), r.Dir, Options{}); err != nil {
		tb.Fatal(err)
	}
	r.Commit(hgtest.WithParent(merge), hgtest.WithFile("dir/sub/b", "3\n"), hgtest.WithBookmark("main"))
	state, err := os.ReadFile(StatePath(r.Dir))
	if err != nil {
		tb.Fatal(err)
	}
	s := &stateRepo{dir: filepath.Join(tb.TempDir(), "repo"), state: state}
	copyHg(tb, r.Dir, s.dir)
	full := filepath.Join(tb.TempDir(), "full")
	copyHg(tb, r.Dir, full)
	for _, p := range []string{GitDir(full), MapPath(full), StatePath(full)} {
		if err := os.RemoveAll(p); err != nil {
			tb.Fatal(err)
		}
	}
	if s.res, err = (&Native{}).Convert(context.Background(), full, Options{}); err != nil {
		tb.Fatal(err)
	}
	if s.mapFile, err = os.ReadFile(MapPath(full)); err != nil {
		tb.Fatal(err)
	}
	s.refs = looseRefs(tb, GitDir(full))
	return s
}

// copyHg copies the .hg directory of src to dst/.hg.
func copyHg(tb testing.TB, src, dst string) {
	tb.Helper()
	if err := os.CopyFS(filepath.Join(dst, ".hg"), os.DirFS(filepath.Join(src, ".hg"))); err != nil {
		tb.Fatal(err)
	}
}

// looseRefs returns the refs of gitDir, all loose refs as the converter
// writes them, and their objects.
func looseRefs(tb testing.TB, gitDir string) map[string]string {
	tb.Helper()
	refs := map[string]string{}
	if _, err := os.Stat(filepath.Join(gitDir, "packed-refs")); err == nil {
		tb.Fatal("packed-refs: the converter writes loose refs only")
	}
	err := filepath.WalkDir(filepath.Join(gitDir, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(gitDir, p)
		refs[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return refs
}

// FuzzStateConvert converts the increment of a stateRepo from a state
// made of the fuzzed bytes. The run must not fail, and must give what a
// full conversion gives: a damaged state fails its sum and is ignored.
// With seal, the fuzzed state gets the right sum (sealed), as a state a
// faulty or hostile writer made: then its entries reach the converter,
// which trusts some of them (the branches of heads, the commits of
// bookmarks, the exporter's trees), so the run must only not panic nor
// fail. The seeds are the real state and damaged copies of it.
func FuzzStateConvert(f *testing.F) {
	hgtest.Require(f)
	s := newStateRepo(f)
	// The real state is used: the increment scans nothing again.
	dir := filepath.Join(f.TempDir(), "repo")
	copyHg(f, s.dir, dir)
	res, err := (&Native{}).Convert(context.Background(), dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	if res.Converted != 1 || res.FullScans != 0 {
		f.Fatalf("increment from the real state: converted %d with %d full scans, want 1 with none", res.Converted, res.FullScans)
	}
	f.Add(s.state, false)
	f.Add(s.state, true)
	for name, st := range stateMutations(f, s.state) {
		f.Add(st, strings.HasPrefix(name, "sealed-"))
	}
	f.Fuzz(func(t *testing.T, state []byte, seal bool) {
		if seal {
			state = sealed(state)
		}
		dir := filepath.Join(t.TempDir(), "repo")
		copyHg(t, s.dir, dir)
		if err := os.WriteFile(StatePath(dir), state, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := (&Native{}).Convert(context.Background(), dir, Options{})
		if err != nil {
			t.Fatalf("convert from a fuzzed state (sealed %t): %v", seal, err)
		}
		if !bytes.Equal(state, s.state) && bytes.Equal(state, sealed(state)) {
			// Sealed (or a sealed seed): what the state holds is trusted
			// (the branches of heads, say), so only no panic and no error.
			return
		}
		if m, err := os.ReadFile(MapPath(dir)); err != nil || !bytes.Equal(m, s.mapFile) {
			t.Fatalf("map:\n%s\nwant\n%s (%v)", m, s.mapFile, err)
		}
		if refs := looseRefs(t, GitDir(dir)); !maps.Equal(refs, s.refs) {
			t.Fatalf("refs %v, want %v", refs, s.refs)
		}
		for _, c := range []struct {
			what      string
			got, want map[string]string
		}{{"bookmarks", res.Bookmarks, s.res.Bookmarks}, {"tags", res.Tags, s.res.Tags}, {"branch heads", res.BranchHeads, s.res.BranchHeads}} {
			if !maps.Equal(c.got, c.want) {
				t.Fatalf("%s %v, want %v", c.what, c.got, c.want)
			}
		}
		if res.Tip != s.res.Tip || !reflect.DeepEqual(res.Warnings, s.res.Warnings) {
			t.Fatalf("tip %s, warnings %v; want %s, %v", res.Tip, res.Warnings, s.res.Tip, s.res.Warnings)
		}
	})
}

// stateMutations returns states made from the real state st of a
// stateRepo: damaged (the sum no longer matches) and, sealed, with
// entries a faulty writer could leave: revisions beyond the changelog or
// negative, nodes that are not those of their revisions, lists out of
// order, counts that disagree.
func stateMutations(tb testing.TB, st []byte) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	// Damaged: a branch name of the heads changed ("default" → " efault"),
	// the last byte flipped, cut short.
	if i := bytes.Index(st, []byte("\x0edefault")); i >= 0 {
		b := bytes.Clone(st)
		b[i+1] = ' '
		out["damaged-head-branch"] = b
	}
	flipped := bytes.Clone(st)
	flipped[len(flipped)-1] ^= 1
	out["damaged-sum"] = flipped
	out["damaged-cut"] = st[:len(st)-sha256.Size-1]
	edit := func(name string, change func(s *runState)) {
		s := decodeState(st)
		if s == nil {
			tb.Fatal("the state of a conversion does not decode")
		}
		change(s)
		out["sealed-"+name] = s.encode()
	}
	const far = 1 << 40
	edit("bookmark-rev-beyond-tip", func(s *runState) {
		for i := range s.Bookmarks {
			s.Bookmarks[i].Rev = far
		}
	})
	edit("bookmark-rev-negative", func(s *runState) {
		for i := range s.Bookmarks {
			s.Bookmarks[i].Rev = -far
		}
	})
	edit("bookmarks-unsorted", func(s *runState) { slices.Reverse(s.Bookmarks) })
	edit("scanned-beyond-tip", func(s *runState) { s.Scanned = far })
	edit("scanned-negative", func(s *runState) { s.Scanned = -1 })
	edit("heads-beyond-scanned", func(s *runState) {
		s.Heads = append(s.Heads, headState{Rev: s.Scanned, Branch: "default"})
	})
	edit("heads-negative", func(s *runState) { s.Heads = append([]headState{{Rev: -5}}, s.Heads...) })
	edit("topo-beyond-scanned", func(s *runState) { s.TopoHeads = append(s.TopoHeads, nodeRev{Rev: far}) })
	edit("excluded-beyond-tip", func(s *runState) { s.Excluded = append(s.Excluded, far, -1) })
	edit("known-wrong", func(s *runState) {
		for i := range s.Known {
			s.Known[i].Rev = far
		}
		s.Known = append(s.Known, nodeRev{s.ScannedTip, -far}, nodeRev{hg.Node{1}, 0})
	})
	edit("tagfnodes-unknown", func(s *runState) {
		for i := range s.TagFnodes {
			s.TagFnodes[i].File = hg.Node{0xff}
		}
	})
	edit("mapped-odd", func(s *runState) { s.Mapped = append(s.Mapped, 1, 2, 3) })
	edit("maplines-huge", func(s *runState) { s.MapLines = far })
	edit("refs-disagree", func(s *runState) {
		s.RefNames = append(s.RefNames, "refs/tags/zzz")
		s.RefDirTimes = nil
	})
	edit("exporter-nonsense", func(s *runState) {
		s.Dirs = append(s.Dirs, dirState{Path: "a/../..", Entries: []entryState{{Name: "", Mode: 0o7777777}}})
		s.Links = append(s.Links, linkState{Path: "/"})
		s.Manifest = append(s.Manifest, hg.ManifestEntry{Path: "", Flags: 'q'})
		s.LastManifest = hg.Node{2}
	})
	edit("exporter-trees-nonsense", func(s *runState) {
		for i := range s.Dirs {
			s.Dirs[i].Path += "/x"
			s.Dirs[i].Valid = !s.Dirs[i].Valid
			s.Dirs[i].Entries = append(s.Dirs[i].Entries, entryState{Name: "a/b", Mode: 1}, entryState{Name: "", Mode: 0o40000})
		}
		s.Dirs = append(s.Dirs, dirState{Path: "", Valid: true}, dirState{Path: "dir"})
		s.Links = append(s.Links, linkState{Path: "dir/sub/b"}, linkState{Path: ""})
		s.Blobs = append(s.Blobs[len(s.Blobs)/2:], blobState{Node: hg.Node{4}})
		s.Root = git.Hash{5}
	})
	edit("last-unknown", func(s *runState) { s.Last = hg.Node{3} })
	return out
}

// TestWriteStateSeeds writes the seeds of FuzzStateDecode and
// FuzzStateConvert to testdata/fuzz, when CONVERT_WRITE_STATE_SEEDS is
// set: the states of stateRepo's conversion and of its increment,
// truncations of them, and stateMutations.
func TestWriteStateSeeds(t *testing.T) {
	if os.Getenv("CONVERT_WRITE_STATE_SEEDS") == "" {
		t.Skip("writes the state seeds of testdata/fuzz when CONVERT_WRITE_STATE_SEEDS is set")
	}
	s := newStateRepo(t)
	dir := filepath.Join(t.TempDir(), "repo")
	copyHg(t, s.dir, dir)
	if _, err := (&Native{}).Convert(context.Background(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(StatePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	write := func(target, name string, values ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range values {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case bool:
				fmt.Fprintf(&b, "bool(%t)\n", v)
			}
		}
		d := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, st := range map[string][]byte{"state": s.state, "state-after-increment": after} {
		write("FuzzStateDecode", name, st)
		body := st[:len(st)-sha256.Size]
		for _, cut := range []int{len(stateMagic) + 1, len(body) / 3, len(body) / 2, len(body) - 1} {
			write("FuzzStateDecode", fmt.Sprintf("%s-cut-%d", name, cut), sealed(append(body[:cut:cut], make([]byte, sha256.Size)...)))
		}
	}
	write("FuzzStateConvert", "state", s.state, false)
	write("FuzzStateConvert", "state-sealed", s.state, true)
	for name, st := range stateMutations(t, s.state) {
		write("FuzzStateConvert", name, st, strings.HasPrefix(name, "sealed-"))
		if strings.HasPrefix(name, "sealed-") {
			write("FuzzStateDecode", name, st)
		}
	}
}
