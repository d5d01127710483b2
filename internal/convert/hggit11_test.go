package convert_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

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
		r.Write("a", "a\n")
		r.commit("plain start")
		gitSub(r, "lib")
		r.Write(".hgsub", "lib = [git]https://example.com/lib.git\n")
		r.Run("add", ".hgsub")
		r.commit("add lib")
		gitSub(r, "vendor/dep")
		r.Write(".hgsub", "lib = [git]https://example.com/lib.git\nvendor/dep = [git] https://example.com/dep.git#frag\n")
		commitSub(r, "add vendor/dep (url with #)")
		gitCommit(r, "lib", "second")
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
		r.commit("a tracked .gitmodules")
		gitSub(r, "lib")
		gitSub(r, "Other")
		r.Write(".hgsub", "lib = [git]https://example.com/lib.git\nOther = [git]https://example.com/Other.git\n")
		r.Run("add", ".hgsub")
		r.commit("add lib and Other")
		r.Write(".gitmodules", "[submodule \"Library\"]\n\tpath = lib\n\turl = \" spaced \"\n")
		commitSub(r, "edit the tracked .gitmodules only")
		gitCommit(r, "lib", "second")
		commitSub(r, "change lib")
	}},
	{name: "executable-hgsub", build: func(r *repo) {
		gitSub(r, "themes")
		r.Write(".hgsub", "themes = [git]https://example.com/themes.git\n")
		r.Chmod(".hgsub", 0o755)
		r.Run("add", ".hgsub")
		r.commit("add themes with an executable .hgsub")
		r.Chmod(".hgsub", 0o644)
		gitCommit(r, "themes", "second")
		commitSub(r, "plain .hgsub, new themes")
	}},
}

// commitSub commits what changed without adding files (addremove would
// take a new subrepository's own files into the outer repository).
func commitSub(r *repo, msg string) {
	r.t.Helper()
	r.n++
	r.Run("commit", "-m", msg, "-d", strconv.Itoa(1500000000+r.n*3600)+" 0")
}

// TestHgGit11Golden converts each repository at level 1.1 and compares with
// the maps hg-git 1.1.4 made (testdata/hggit11/NAME.map); at level 1.0 the
// same repositories must convert as the installed hg-git 1.0.1 does.
func TestHgGit11Golden(t *testing.T) {
	requireHg(t)
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
			if *hggit11 != "" {
				ref := filepath.Join(t.TempDir(), "hggit11")
				copyDir(t, r.dir, ref)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				c := &hggit.Converter{Runner: &hg.Runner{}, Extension: *hggit11}
				if _, err := c.Convert(ctx, ref, convert.Options{Settings: convert.Settings{HgGit: "1.1"}}); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(mapLines(readMap(t, ref))), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("golden map: %v (make it with -hggit11, see testdata/hggit11/README)", err)
			}
			nat := filepath.Join(t.TempDir(), "native11")
			copyDir(t, r.dir, nat)
			ctx := context.Background()
			if _, err := (&convert.Native{}).Convert(ctx, nat, convert.Options{Settings: convert.Settings{HgGit: "1.1"}}); err != nil {
				t.Fatal(err)
			}
			got := mapLines(readMap(t, nat))
			if got != string(want) {
				t.Errorf("level 1.1 differs from hg-git 1.1.4 (%s):\ngolden:\n%s\nnative:\n%s", golden, want, got)
			}
			// Converting in two runs (the second starting after the last
			// subrepository went, its .gitmodules left in the tree) gives the same.
			if tc.name == "lifecycle" {
				inc := filepath.Join(t.TempDir(), "inc")
				hgtest.Run(t, "", "clone", "-q", "-U", "-r", "8", "--", r.dir, inc)
				s11 := convert.Options{Settings: convert.Settings{HgGit: "1.1"}}
				if _, err := (&convert.Native{}).Convert(ctx, inc, s11); err != nil {
					t.Fatal(err)
				}
				hgtest.Run(t, inc, "pull", "-q", "--", r.dir)
				if _, err := (&convert.Native{}).Convert(ctx, inc, s11); err != nil {
					t.Fatal(err)
				}
				if got := mapLines(readMap(t, inc)); got != string(want) {
					t.Errorf("level 1.1 in two runs differs from hg-git 1.1.4:\ngolden:\n%s\nnative:\n%s", want, got)
				}
			}
			// Level 1.0 on the same repository is hg-git 1.0.1's output.
			ref10 := filepath.Join(t.TempDir(), "hggit10")
			nat10 := filepath.Join(t.TempDir(), "native10")
			copyDir(t, r.dir, ref10)
			copyDir(t, r.dir, nat10)
			runHgGit(t, ref10)
			runNative(t, nat10)
			compareMaps(t, readMap(t, ref10), readMap(t, nat10))
			if mapLines(readMap(t, nat10)) == string(want) {
				t.Errorf("levels 1.0 and 1.1 give the same commits: the repository tests nothing")
			}
			if tc.name == "lifecycle" {
				// The .gitmodules hg-git 1.1 writes, as Git reads it.
				out, err := exec.Command("git", "--git-dir", convert.GitDir(nat), "config", "--blob", lastCommit(t, nat)+"~3:.gitmodules", "--list").CombinedOutput()
				if err != nil {
					t.Fatalf("git config --blob: %v\n%s", err, out)
				}
				for _, line := range []string{"submodule.ext/lib.path=ext/lib", "submodule.vendor/dep.url=../dep-moved.git"} {
					if !strings.Contains(string(out), line+"\n") {
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

// mapLines writes a map as sorted "<hg node> <git sha>" lines.
func mapLines(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for n, h := range m {
		lines = append(lines, n+" "+h)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
