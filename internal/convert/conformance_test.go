package convert_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// repo is a conformance script repository (hgtest.Script: commits an hour
// apart from 1500000000 unless WithDate says otherwise).
type repo struct {
	*hgtest.Script
	t   testing.TB
	dir string
}

// newRepo creates a repository; init are "section.key=value" settings for hg init.
func newRepo(t testing.TB, init ...string) *repo {
	t.Helper()
	r := hgtest.NewScript(t, init...)
	return &repo{Script: r, t: t, dir: r.Dir}
}

// openRepo is the repository at dir (a copy of one of newRepo's, its
// changesets made by the script), for more changesets dated after
// newRepo's first 100.
func openRepo(t testing.TB, dir string) *repo {
	t.Helper()
	return &repo{Script: hgtest.OpenScript(t, dir, 100), t: t, dir: dir}
}

// TestConformance builds each repository with hg, converts copies of it with
// hg-git and natively, and requires identical commits for every changeset
// and identical bookmarks and tags.
func TestConformance(t *testing.T) {
	hgtest.RequireHgGit(t)
	for _, tc := range hgtest.ConformanceRepos {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t, tc.Init...)
			tc.Build(r.Script)
			ref, want, nat, got := convertBoth(t, r.dir, convert.Settings{})
			if n := len(readMap(t, nat)); n != got.Total {
				t.Errorf("native map has %d entries for %d changesets", n, got.Total)
			}
			compareConversions(t, ref, want, nat, got)
			compareGitRefs(t, ref, nat)
		})
	}
}

// TestClickConformance converts click (3,333 changesets) with hg-git and
// natively and requires every commit to be identical. hg-git needs about
// 30 s here, so under -short only the native conversion runs (and its
// determinism is checked instead).
func TestClickConformance(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	src := unbundle(t, "click.hg")
	native := copyRepo(t, src, "native")
	res := runNative(t, native)
	got := readMap(t, native)
	if len(got) != 3333 || res.Converted != 3333 || res.Total != 3333 {
		t.Fatalf("native: %d in map, converted %d of %d; want 3333", len(got), res.Converted, res.Total)
	}
	// git re-hashes every object of the packs: blobs written as the Git
	// form of their filelog deltas must come out as the files' contents.
	fsck(t, native)
	if testing.Short() {
		t.Log("-short: hg-git's 30 s reference run on click skipped; checking determinism only")
		again := copyRepo(t, src, "again")
		runNative(t, again)
		compareMaps(t, got, readMap(t, again))
		return
	}
	ref := copyRepo(t, src, "hggit")
	compareConversions(t, ref, runHgGit(t, ref), native, res)
}

// compareGitRefs compares the refs both converters left in .hg/git.
func compareGitRefs(t *testing.T, ref, nat string) {
	t.Helper()
	a, b := gittest.Refs(t, convert.GitDir(ref)), gittest.Refs(t, convert.GitDir(nat))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("refs in .hg/git differ:\nhg-git:\n%v\nnative:\n%v", a, b)
	}
}

// hggit11 names an hg-git 1.1.x source tree's hggit package; when set, the
// golden maps in testdata/hggit11 are written anew with it (see the README
// there). The test itself compares with the golden files only.
var hggit11 = flag.String("hggit11", "", "regenerate testdata/hggit11 with the hg-git 1.1 package at `dir`")

// allowGitSubrepos lets hg commit and update [git] subrepositories in r.
func allowGitSubrepos(t *testing.T, r *repo) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(r.dir, ".hg", "hgrc"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("[subrepos]\ngit:allowed = true\n"); err != nil {
		t.Fatal(err)
	}
}

// subrepoRepos hold [git] subrepositories added, moved, changed and
// removed; hg-git 1.1 writes a .gitmodules beside their gitlinks.
var subrepoRepos = []struct {
	name  string
	build func(r *repo)
}{
	{name: "lifecycle", build: func(r *repo) {
		r.Step("plain start", hgtest.WithFile("a", "a\n"))
		r.GitSub("lib")
		r.Write(".hgsub", "lib = [git]https://example.com/lib.git\n")
		r.Run("add", ".hgsub")
		r.Step("add lib")
		r.GitSub("vendor/dep")
		r.Write(".hgsub", "lib = [git]https://example.com/lib.git\nvendor/dep = [git] https://example.com/dep.git#frag\n")
		commitSub(r, "add vendor/dep (url with #)")
		r.GitCommit("lib", "second")
		commitSub(r, "change lib")
		if err := os.MkdirAll(filepath.Join(r.dir, "ext"), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(r.dir, "lib"), filepath.Join(r.dir, "ext", "lib")); err != nil {
			r.t.Fatal(err)
		}
		r.Write(".hgsub", "ext/lib = [git]https://example.com/lib.git\nvendor/dep = [git] https://example.com/dep.git#frag\n")
		commitSub(r, "move lib to ext/lib")
		r.Write(".hgsub", "ext/lib = [git]https://example.com/lib.git\nvendor/dep = [git]../dep-moved.git\n")
		commitSub(r, "change dep's url (relative)")
		r.Write("a", "a 2\n")
		commitSub(r, "an ordinary change")
		r.Write(".hgsub", "ext/lib = [git]https://example.com/lib.git\n")
		os.RemoveAll(filepath.Join(r.dir, "vendor"))
		commitSub(r, "remove vendor/dep")
		r.Run("rm", ".hgsub")
		commitSub(r, "remove the last subrepository")
		r.Write("a", "a 3\n")
		commitSub(r, "after")
	}},
	{name: "tracked-gitmodules", build: func(r *repo) {
		r.Write(".gitmodules", "[submodule \"Library\"]\n\tpath = lib\n\turl = git://old.example/lib.git\n\tbranch = stable\n[submodule \"other\"]\n\tpath = gone\n\turl = x ; comment\n")
		r.Step("a tracked .gitmodules")
		r.GitSub("lib")
		r.GitSub("Other")
		r.Write(".hgsub", "lib = [git]https://example.com/lib.git\nOther = [git]https://example.com/Other.git\n")
		r.Run("add", ".hgsub")
		r.Step("add lib and Other")
		r.Write(".gitmodules", "[submodule \"Library\"]\n\tpath = lib\n\turl = \" spaced \"\n")
		commitSub(r, "edit the tracked .gitmodules only")
		r.GitCommit("lib", "second")
		commitSub(r, "change lib")
	}},
	{name: "executable-hgsub", build: func(r *repo) {
		r.GitSub("themes")
		r.Write(".hgsub", "themes = [git]https://example.com/themes.git\n")
		r.Chmod(".hgsub", 0o755)
		r.Run("add", ".hgsub")
		r.Step("add themes with an executable .hgsub")
		r.Chmod(".hgsub", 0o644)
		r.GitCommit("themes", "second")
		commitSub(r, "plain .hgsub, new themes")
	}},
}

// commitSub commits what changed without adding files (addremove would
// take a new subrepository's own files into the outer repository).
func commitSub(r *repo, msg string) {
	r.t.Helper()
	r.Run("commit", "-m", msg, "-d", r.NextDate())
}

// TestHgGit11Golden converts each repository at level 1.1 and compares with
// the maps hg-git 1.1.4 made (testdata/hggit11/NAME.map); at level 1.0 the
// same repositories must convert as the installed hg-git 1.0.1 does.
func TestHgGit11Golden(t *testing.T) {
	hgtest.RequireHgGit(t)
	for _, tc := range subrepoRepos {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			allowGitSubrepos(t, r)
			tc.build(r)
			// Subrepositories' own files must not have been added to the
			// outer repository.
			for _, f := range strings.Fields(r.Run("manifest", "--all")) {
				if strings.Contains(f, ".git/") || strings.Contains(f, "theme-") {
					t.Fatalf("the outer repository tracks %s", f)
				}
			}
			golden := filepath.Join("testdata", "hggit11", tc.name+".map")
			s11 := convert.Settings{HgGit: "1.1"}
			if *hggit11 != "" {
				ref := copyRepo(t, r.dir, "hggit11")
				mustConvert(t, hgGit(*hggit11), ref, s11)
				if err := os.WriteFile(golden, []byte(mapLines(readMap(t, ref))), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("golden map: %v (make it with -hggit11, see testdata/hggit11/README)", err)
			}
			nat := copyRepo(t, r.dir, "native11")
			mustConvert(t, &convert.Native{}, nat, s11)
			got := mapLines(readMap(t, nat))
			if got != string(want) {
				t.Errorf("level 1.1 differs from hg-git 1.1.4 (%s):\ngolden:\n%s\nnative:\n%s", golden, want, got)
			}
			// Converting in two runs (the second starting after the last
			// subrepository went, its .gitmodules left in the tree) gives the same.
			if tc.name == "lifecycle" {
				inc := filepath.Join(t.TempDir(), "inc")
				hgtest.Run(t, "", "clone", "-q", "-U", "-r", "8", "--", r.dir, inc)
				mustConvert(t, &convert.Native{}, inc, s11)
				hgtest.Run(t, inc, "pull", "-q", "--", r.dir)
				mustConvert(t, &convert.Native{}, inc, s11)
				if got := mapLines(readMap(t, inc)); got != string(want) {
					t.Errorf("level 1.1 in two runs differs from hg-git 1.1.4:\ngolden:\n%s\nnative:\n%s", want, got)
				}
			}
			// Level 1.0 on the same repository is hg-git 1.0.1's output.
			ref10, _, nat10, _ := convertBoth(t, r.dir, convert.Settings{})
			compareMaps(t, readMap(t, ref10), readMap(t, nat10))
			if mapLines(readMap(t, nat10)) == string(want) {
				t.Errorf("levels 1.0 and 1.1 give the same commits: the repository tests nothing")
			}
			if tc.name == "lifecycle" {
				// The .gitmodules hg-git 1.1 writes, as Git reads it.
				out := gitOut(t, nat, "config", "--blob", lastCommit(t, nat)+"~3:.gitmodules", "--list")
				for _, line := range []string{"submodule.ext/lib.path=ext/lib", "submodule.vendor/dep.url=../dep-moved.git"} {
					if !strings.Contains(out, line+"\n") {
						t.Errorf(".gitmodules lacks %s:\n%s", line, out)
					}
				}
			}
		})
	}
}

// lastCommit returns the Git commit of the repository's tip.
func lastCommit(t *testing.T, dir string) string {
	t.Helper()
	out := hgtest.Run(t, dir, "log", "-r", "tip", "-T", "{node}")
	return readMap(t, dir)[strings.TrimSpace(out)]
}
