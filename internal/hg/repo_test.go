package hg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// longPath is a file path whose encoded store name exceeds 120 bytes, so
// hg stores it hashed under dh/.
var longPath = "Very-Long_Directory.Name.i/" + strings.Repeat("subdirectory-", 4) + "x/" +
	strings.Repeat("a", 12) + "/" + strings.Repeat("LongFileName_", 8) + ".txt"

// trickyPaths exercise the store path encoding.
var trickyPaths = []string{
	"README",
	"UPPER/Case.TXT",
	"under_score/__init__.py",
	"dir.i/file.i",
	"dir.d/file.d",
	"dir.hg/file",
	"aux/con.txt",
	"prn",
	"com1.c",
	"lpt9/nul.x",
	"caux/auxc",
	".hidden/.dotfile",
	" space/trailing. /end ",
	"punct/we:ird?*\"<>|.txt",
	"ütf8/wörld-ñ.txt",
	"tilde~/x~2e",
	"back\\slash",
	longPath,
	strings.Repeat("D", 40) + "/" + strings.Repeat("E.", 30) + "/" + strings.Repeat("f", 50),
}

// bigText returns n bytes of line-oriented pseudo-random text.
func bigText(seed int64, n int) string {
	rng := rand.New(rand.NewSource(seed))
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, "line %d %x %x\n", b.Len(), rng.Int63(), rng.Int63())
	}
	return b.String()
}

// repoBuilder commits to an hgtest repository with dates an hour apart in
// five time zones, so the format tests see offsets of both signs.
type repoBuilder struct {
	*hgtest.Repo
	date int
}

func newBuilder(t testing.TB, dir string) *repoBuilder {
	return &repoBuilder{Repo: hgtest.Open(t, dir)}
}

// initBuilder inits a repository in a new directory of that name (hg is
// required).
func initBuilder(t testing.TB, name string) (string, *repoBuilder) {
	t.Helper()
	requireHg(t)
	dir := initRepo(t, name)
	return dir, newBuilder(t, dir)
}

// commit commits with a fixed, increasing date and the given timezone.
func (b *repoBuilder) commit(msg string, opts ...hgtest.CommitOption) {
	b.date += 3600
	date := fmt.Sprintf("%d %d", 1400000000+b.date, -3600*(b.date/3600%5))
	b.Commit(append([]hgtest.CommitOption{hgtest.WithMessage(msg), hgtest.WithDate(date)}, opts...)...)
}

// buildRepo creates a repository exercising most of the format with real
// hg commands: init options come from initConfig ("section.name=value").
func buildRepo(t *testing.T, initConfig ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	args := []string{"init"}
	for _, c := range initConfig {
		args = append(args, "--config", c)
	}
	args = append(args, "--config", "storage.dirstate-v2.slow-path=allow", "--config", "storage.revlog.persistent-nodemap.slow-path=allow")
	runHg(t, "", append(args, "--", dir)...)
	// Pure-Python hg needs these for dirstate-v2 and persistent-nodemap.
	writeFile(t, filepath.Join(dir, ".hg", "hgrc"), "[storage]\ndirstate-v2.slow-path = allow\nrevlog.persistent-nodemap.slow-path = allow\n")
	b := newBuilder(t, dir)

	for i, p := range trickyPaths {
		b.Write(p, fmt.Sprintf("file %d: %s\n", i, p))
	}
	b.Write("exec.sh", "#!/bin/sh\necho hi\n")
	if err := os.Chmod(filepath.Join(dir, "exec.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("README", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	b.Write("empty", "")
	b.Write("meta-looking", "\x01\nnot metadata\x01\nreally\n")
	b.Write("big.txt", bigText(1, 300<<10)) // > 128 KiB: a non-inline filelog
	b.commit("initial import\n\nwith a body   \nand trailing space  ", hgtest.WithUser("Jöhn Dœ <john@example.com>"))

	for i := 0; i < 6; i++ {
		text := bigText(1, 300<<10)
		text = strings.Replace(text, "line "+strconv.Itoa(i*1000), "changed line", 1) + bigText(int64(i), 2000)
		b.Write("big.txt", text)
		b.Write("README", fmt.Sprintf("readme v%d\n", i))
		b.commit(fmt.Sprintf("edit %d", i))
	}
	b.Run("copy", "README", "README.copy")
	b.Run("mv", "UPPER/Case.TXT", "lower/case.txt")
	b.commit("copy and move")
	b.Run("tag", "-d", "1400100000 0", "v1.0")
	b.Run("tag", "-d", "1400100001 0", "v2.0")
	b.Run("bookmark", "main")

	// A named branch with its own head and tag, then closed elsewhere.
	b.Run("branch", `we\ird-branch`)
	b.Write("branchfile", "on branch\n")
	b.commit("on a named branch")
	b.Run("tag", "-d", "1400100002 0", "branch-tag")
	b.Run("tag", "-d", "1400100003 0", "-f", "-r", "1", "v1.0") // moved on this head only
	b.Run("bookmark", "feature")

	b.Run("update", "-q", "-r", "default")
	b.Write("README", "readme on default\n")
	b.commit("default moves on")
	b.Run("tag", "-d", "1400100004 0", "--remove", "v2.0")
	b.Run("tag", "-d", "1400100005 0", "-r", "2", "default-tag")

	// A merge of the named branch.
	b.Run("merge", "-q", "--tool", "internal:union", "-r", `we\ird-branch`)
	b.commit("merge branch")
	b.Run("rm", "prn")
	b.commit("remove a file")

	// A closed branch head.
	b.Run("branch", "-q", "closing")
	b.Write("closing.txt", "x\n")
	b.commit("to be closed")
	b.commit("close it", hgtest.WithCloseBranch())
	b.Run("update", "-q", "-r", "default")
	return dir
}

type hgLogEntry struct {
	Rev      int               `json:"rev"`
	Node     string            `json:"node"`
	Parents  []string          `json:"parents"`
	Manifest string            `json:"manifest"`
	User     string            `json:"user"`
	Date     [2]int64          `json:"date"`
	Desc     string            `json:"desc"`
	Branch   string            `json:"branch"`
	Extra    map[string]string `json:"extra"`
}

// checkRepo compares everything the reader returns with what hg says.
func checkRepo(t *testing.T, dir string, full bool) {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var log []hgLogEntry
	if err := json.Unmarshal(runHg(t, dir, "log", "--debug", "-r", "0:", "-T", "json"), &log); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len(log) {
		t.Fatalf("Len() = %d, hg log has %d", r.Len(), len(log))
	}
	filesOut := bytes.Split(bytes.TrimSpace(runHg(t, dir, "log", "-r", "0:", "-T", "{files|json}\n")), []byte("\n"))
	copiesOut := bytes.Split(bytes.TrimSpace(runHg(t, dir, "log", "-r", "0:", "-T", "{file_copies|json}\n")), []byte("\n"))

	for rev, want := range log {
		c, err := r.Changeset(rev)
		if err != nil {
			t.Fatalf("Changeset(%d): %v", rev, err)
		}
		if err := r.VerifyChangeset(rev); err != nil {
			t.Fatal(err)
		}
		parents := []string{c.P1.String()}
		if c.P2 != NullNode {
			parents = append(parents, c.P2.String())
		}
		if c.Rev != rev || c.Node.String() != want.Node || fmt.Sprint(parents) != fmt.Sprint(want.Parents) ||
			c.Manifest.String() != want.Manifest || c.User != want.User || c.Time != want.Date[0] ||
			int64(c.TZ) != want.Date[1] || c.Description != want.Desc || c.Branch() != want.Branch {
			t.Errorf("rev %d:\n got %+v\nwant %+v", rev, c, want)
		}
		for k, v := range want.Extra {
			if got, ok := c.Extra[k]; got != v && !(k == "branch" && v == "default" && !ok) {
				t.Errorf("rev %d: extra %q = %q, hg says %q", rev, k, got, v)
			}
		}
		if len(c.Extra) > len(want.Extra) {
			t.Errorf("rev %d: extra %v, hg says %v", rev, c.Extra, want.Extra)
		}
		if n, ok := r.Rev(c.Node); !ok || n != rev {
			t.Errorf("Rev(%s) = %d, %v", c.Node, n, ok)
		}
		var files []string
		if err := json.Unmarshal(filesOut[rev], &files); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%q", c.Files) != fmt.Sprintf("%q", files) && !(len(files) == 0 && len(c.Files) == 0) {
			t.Errorf("rev %d: files %q, hg says %q", rev, c.Files, files)
		}

		// Manifest and every file's content against hg cat and hg files.
		entries, err := r.Manifest(c.Manifest)
		if err != nil {
			t.Fatalf("Manifest(rev %d): %v", rev, err)
		}
		for _, e := range entries {
			got, ok, err := r.ManifestFind(c.Manifest, e.Path)
			if err != nil || !ok || got != e {
				t.Fatalf("rev %d: ManifestFind(%q) = %+v, %v, %v; want %+v", rev, e.Path, got, ok, err, e)
			}
			if _, ok, _ := r.ManifestFind(c.Manifest, e.Path+"\x01"); ok {
				t.Fatalf("rev %d: ManifestFind(%q) found a missing path", rev, e.Path+"\x01")
			}
		}
		if _, ok, _ := r.ManifestFind(c.Manifest, ""); ok {
			t.Fatalf("ManifestFind(\"\") found an entry")
		}
		// Every revision's text is hash-verified below; contents are also
		// compared with hg cat for a sample (all revisions that copy files,
		// every fourth one and the tip) or, when !full, the tip only.
		var copies map[string]string
		if err := json.Unmarshal(copiesOut[rev], &copies); err != nil {
			t.Fatal(err)
		}
		if rev != len(log)-1 && (!full || len(copies) == 0 && rev%4 != 0) {
			continue
		}
		if !sort.SliceIsSorted(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path }) {
			t.Errorf("rev %d: manifest not sorted", rev)
		}
		flagsOut := runHg(t, dir, "files", "-r", strconv.Itoa(rev), "-T", "{flags}\t{path}\n")
		var wantFlags []string
		for _, line := range strings.Split(strings.TrimSuffix(string(flagsOut), "\n"), "\n") {
			if line != "" {
				wantFlags = append(wantFlags, line)
			}
		}
		sort.Slice(wantFlags, func(i, j int) bool {
			return strings.SplitN(wantFlags[i], "\t", 2)[1] < strings.SplitN(wantFlags[j], "\t", 2)[1]
		})
		var gotFlags []string
		for _, e := range entries {
			f := ""
			if e.Flags != 0 {
				f = string(e.Flags)
			}
			gotFlags = append(gotFlags, f+"\t"+e.Path)
		}
		if fmt.Sprintf("%q", gotFlags) != fmt.Sprintf("%q", wantFlags) {
			t.Errorf("rev %d: manifest\n got %q\nwant %q", rev, gotFlags, wantFlags)
		}
		catDir := t.TempDir()
		if len(entries) > 0 {
			runHg(t, dir, "cat", "-r", strconv.Itoa(rev), "-o", filepath.Join(catDir, "%p"), "--", ".")
		}
		for _, e := range entries {
			data, meta, err := r.File(e.Path, e.Node)
			if err != nil {
				t.Fatalf("File(%q, %s): %v", e.Path, e.Node, err)
			}
			want, err := os.ReadFile(filepath.Join(catDir, filepath.FromSlash(e.Path)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, want) {
				t.Errorf("rev %d: %s: content differs from hg cat (%d vs %d bytes)", rev, e.Path, len(data), len(want))
			}
			if src, ok := copies[e.Path]; ok && meta["copy"] != src {
				t.Errorf("rev %d: %s: copy source %q, hg says %q", rev, e.Path, meta["copy"], src)
			}
			if meta["copy"] != "" {
				if _, err := ParseNode(meta["copyrev"]); err != nil {
					t.Errorf("rev %d: %s: copyrev: %v", rev, e.Path, err)
				}
			}
		}
	}

	// Every revision of every revlog hashes to its node.
	verifyAll(t, r.Changelog())
	verifyAll(t, r.ManifestLog())
	seen := map[string]bool{}
	for rev := 0; rev < r.Len(); rev++ {
		c, _ := r.Changeset(rev)
		entries, _ := r.Manifest(c.Manifest)
		for _, e := range entries {
			if !seen[e.Path] {
				seen[e.Path] = true
				fl, err := r.Filelog(e.Path)
				if err != nil {
					t.Fatal(err)
				}
				if fl.Len() == 0 {
					t.Errorf("filelog of %q not found (store path %s)", e.Path, encodeStorePath("data/"+e.Path+".i", r.enc))
				}
				verifyAll(t, fl)
			}
		}
	}

	var paths []string
	for p := range seen {
		paths = append(paths, p)
	}
	checkStoreLayout(t, r, paths)
	checkBookmarks(t, r, dir)
	checkTags(t, r, dir)
}

func verifyAll(t *testing.T, rl *Revlog) {
	t.Helper()
	verifyForward(t, rl)
	// Backwards too, to exercise chains without the cache.
	for i := rl.Len() - 1; i >= 0; i-- {
		if err := rl.Verify(i); err != nil {
			t.Error(err)
		}
	}
}

func checkBookmarks(t *testing.T, r *Repo, dir string) {
	t.Helper()
	want := hgNamed(t, dir, "bookmarks")
	got, err := r.Bookmarks()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("Bookmarks() = %v, hg says %v", got, want)
	}
	for _, w := range want {
		if got[w.Name].String() != w.Node {
			t.Errorf("bookmark %q = %s, hg says %s", w.Name, got[w.Name], w.Node)
		}
	}
	// The raw file holds every bookmark Bookmarks returns (and those it
	// drops for naming unknown changesets).
	raw, err := r.BookmarksFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 && len(raw) == 0 {
		t.Errorf("BookmarksFile() is empty, Bookmarks() = %v", got)
	}
	marks := ParseBookmarks(raw)
	for name, n := range got {
		if marks[name] != n {
			t.Errorf("BookmarksFile() has %q at %s, Bookmarks() at %s", name, marks[name], n)
		}
	}
}

// namedNode is an entry of `hg bookmarks` or `hg tags`.
type namedNode struct{ Name, Node string }

// hgNamed returns the entries `hg <list> -T json` prints in dir (list is
// "bookmarks" or "tags"), in hg's order.
func hgNamed(t *testing.T, dir, list string) []namedNode {
	t.Helper()
	var entries []struct {
		Bookmark string `json:"bookmark"`
		Tag      string `json:"tag"`
		Node     string `json:"node"`
	}
	if err := json.Unmarshal(runHg(t, dir, list, "-T", "json"), &entries); err != nil {
		t.Fatal(err)
	}
	out := make([]namedNode, len(entries))
	for i, e := range entries {
		out[i] = namedNode{e.Bookmark + e.Tag, e.Node}
	}
	return out
}

func checkTags(t *testing.T, r *Repo, dir string) {
	t.Helper()
	var want []string
	for _, tg := range hgNamed(t, dir, "tags") {
		if tg.Name != "tip" {
			want = append(want, tg.Name+"="+tg.Node)
		}
	}
	tags, err := r.Tags()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range tags {
		got = append(got, tg.Name+"="+tg.Node.String())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Tags():\n got %v\nwant %v", got, want)
	}
}

// verifyForward checks every revision in order (cheap: one delta each).
func verifyForward(t *testing.T, rl *Revlog) {
	t.Helper()
	for i := 0; i < rl.Len(); i++ {
		if err := rl.Verify(i); err != nil {
			t.Fatal(err)
		}
	}
}

// storeFiles lists the revlog files under a store's data/ and dh/.
func storeFiles(t *testing.T, store string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	for _, top := range []string{"data", "dh"} {
		root := filepath.Join(store, top)
		err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if errors.Is(err, os.ErrNotExist) {
				return filepath.SkipDir
			}
			if err != nil {
				return err
			}
			if !info.IsDir() {
				rel, _ := filepath.Rel(store, p)
				files[filepath.ToSlash(rel)] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestReadRepositoryFormats(t *testing.T) {
	requireHg(t)
	t.Parallel()
	cases := []struct {
		name   string
		full   bool
		config []string
		want   []string // requirements that must be present
		absent []string
	}{
		{"zstd-default", true, nil, []string{"revlog-compression-zstd", "generaldelta", "sparserevlog", "share-safe", "dotencode"}, nil},
		{"zlib", false, []string{"format.revlog-compression=zlib"}, []string{"generaldelta"}, []string{"revlog-compression-zstd"}},
		{"no-generaldelta", false, []string{"format.usegeneraldelta=false", "format.sparse-revlog=false", "format.revlog-compression=zlib"}, nil, []string{"generaldelta"}},
		{"legacy-no-share-safe", false, []string{"format.use-share-safe=false", "format.use-persistent-nodemap=true"}, []string{"persistent-nodemap"}, []string{"share-safe"}},
		{"no-dotencode", false, []string{"format.dotencode=false"}, []string{"fncache"}, []string{"dotencode"}},
		{"no-fncache", false, []string{"format.usefncache=false"}, []string{"store"}, []string{"fncache"}},
		{"no-store", false, []string{"format.usestore=false"}, nil, []string{"store"}},
		{"dirstate-v2-bookmarksinstore", false, []string{"format.use-dirstate-v2=true", "format.bookmarks-in-store=true"}, []string{"dirstate-v2", "bookmarksinstore"}, nil},
	}
	// Build the history once with hg's defaults; the other formats are
	// clones made by pulling it into a repository created with their
	// configuration, so hg rewrites every revlog in that format.
	base := buildRepo(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := base
			if tc.config != nil {
				dir = filepath.Join(t.TempDir(), "clone")
				args := []string{"clone", "-U", "--pull"}
				for _, c := range append(tc.config, "storage.dirstate-v2.slow-path=allow", "storage.revlog.persistent-nodemap.slow-path=allow") {
					args = append(args, "--config", c)
				}
				runHg(t, "", append(args, "--", base, dir)...)
				writeFile(t, filepath.Join(dir, ".hg", "hgrc"), "[storage]\ndirstate-v2.slow-path = allow\nrevlog.persistent-nodemap.slow-path = allow\n")
			}
			r, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			req := strings.Join(r.Requirements(), " ")
			for _, w := range tc.want {
				if !strings.Contains(" "+req+" ", " "+w+" ") {
					t.Errorf("requirements %q lack %q", req, w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(" "+req+" ", " "+a+" ") {
					t.Errorf("requirements %q have %q", req, a)
				}
			}
			big, err := r.Filelog("big.txt")
			if err != nil {
				t.Fatal(err)
			}
			if big.Inline() || big.Len() < 7 {
				t.Errorf("big.txt: inline=%v len=%d, want a non-inline filelog of 7+ revisions", big.Inline(), big.Len())
			}
			readme, _ := r.Filelog("README")
			if !readme.Inline() {
				t.Errorf("README filelog is not inline")
			}
			r.Close()
			checkRepo(t, dir, tc.full)
		})
	}
}

// TestSeedManifest checks that a seeded manifest text ends the delta chain
// of the next manifest (fewer chunks read, the same entries), and that
// entries which do not hash to the node seed nothing.
func TestSeedManifest(t *testing.T) {
	t.Parallel()
	dir := initRepo(t, "repo")
	runHg(t, dir, "debugbuilddag", "--new-file", "+300")
	open := func() *Repo {
		t.Helper()
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	manifestOf := func(r *Repo, rev int) (Node, []ManifestEntry) {
		t.Helper()
		cs, mf := changesetAt(t, r, rev)
		return cs.Manifest, mf
	}
	ref := open()
	parentNode, parent := manifestOf(ref, 298)
	_, want := manifestOf(ref, 299)

	plain := open()
	before := plain.ChunkReads()
	if _, got := manifestOf(plain, 299); !slices.Equal(got, want) {
		t.Fatal("manifest 299 differs between two reads")
	}
	unseeded := plain.ChunkReads() - before

	wrong := slices.Clone(parent)
	wrong[0].Flags = 'x'
	seeded := open()
	if seeded.SeedManifest(parentNode, wrong) {
		t.Error("SeedManifest took entries that do not hash to the node")
	}
	if !seeded.SeedManifest(parentNode, parent) {
		t.Fatal("SeedManifest refused the manifest's own entries")
	}
	before = seeded.ChunkReads()
	if _, got := manifestOf(seeded, 299); !slices.Equal(got, want) {
		t.Error("manifest 299 read after seeding differs")
	}
	// One chunk for the changeset (at most a few), one for the delta.
	if n := seeded.ChunkReads() - before; n >= unseeded || n > 4 {
		t.Errorf("manifest 299 after seeding 298: %d chunks read, %d without (want fewer, at most 4)", n, unseeded)
	}

	// KnowRevs: a right hint is taken, a wrong one is checked and ignored.
	n10, _ := ref.Changelog().Node(10)
	n20, _ := ref.Changelog().Node(20)
	hinted := open()
	hinted.KnowRevs(map[Node]int{n10: 10, n20: 21}, 0)
	if rev, ok := hinted.Rev(n10); !ok || rev != 10 {
		t.Errorf("Rev of revision 10 with a right hint: %d, %v", rev, ok)
	}
	if hinted.changelog.nodemap != nil {
		t.Error("a right hint still built the node map")
	}
	if rev, ok := hinted.Rev(n20); !ok || rev != 20 {
		t.Errorf("Rev of revision 20 with a wrong hint: %d, %v", rev, ok)
	}
}
