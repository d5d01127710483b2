package convert_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// repo is an hgtest repository whose commits have increasing dates an hour
// apart from 1500000000 unless WithDate says otherwise.
type repo struct {
	*hgtest.Repo
	t   testing.TB
	dir string
	n   int // commits made, for increasing dates
}

// newRepo creates a repository; initArgs are --config settings for hg init.
func newRepo(t testing.TB, initArgs ...string) *repo {
	t.Helper()
	var settings []string
	for i := 1; i < len(initArgs); i += 2 {
		settings = append(settings, initArgs[i])
	}
	r := hgtest.NewRepo(t, hgtest.WithConfig(settings...))
	return &repo{Repo: r, t: t, dir: r.Dir}
}

// commit commits everything (addremove) with the repository's next date.
func (r *repo) commit(msg string, opts ...hgtest.CommitOption) string {
	r.t.Helper()
	r.n++
	date := strconv.Itoa(1500000000+r.n*3600) + " 0"
	return r.Commit(append([]hgtest.CommitOption{hgtest.WithMessage(msg), hgtest.WithDate(date)}, opts...)...)
}

var testExtraExt, _ = filepath.Abs("testdata/testextra.py")

// conformanceRepos are the repositories converted by both converters; each
// covers some of hg-git's rules.
var conformanceRepos = []struct {
	name  string
	build func(r *repo)
	init  []string
}{
	{name: "authors", build: func(r *repo) {
		users := []string{
			"Plain Name <plain@example.com>",
			"justaname",
			"mail.only@example.com",
			"Jörg Müller <joerg@example.de>",
			"<bracketed@example.com>",
			"  spaced  <  spaced@example.com  >  ",
			"Name<nospace@example.com>",
			"Name <mail@example.com> trailing ext",
			"Name <mail@example.com>>",
			"Typo >but.hg-git@handles.it>",
			"Two <<double@example.com>>",
			"random<\x01garbage>  > > ",
			"unterminated <mail@example.com",
			"name with <lt <in@it>",
			"Ünïcödé only",
			"日本語 <nihongo@example.jp>",
			"ext with spaces <a@b> x y%z/é",
			"a@b <c@d>",
		}
		for i, u := range users {
			r.Write("f", strconv.Itoa(i))
			r.commit("by "+u, hgtest.WithUser(u))
		}
	}},
	{name: "timezones", build: func(r *repo) {
		for i, d := range []string{
			"1500000000 0", "1500000000 -19800", "1500000000 -20700", "1500000000 18000",
			"1500000000 -50400", "1500000000 43200", "1500000000 -19830", "1500000000 19830",
			"1500000000 -45", "1500000000 45", "1500000000 -3601", "1500000000 3599",
			"0 0", "2147483647 -3600", "1 -34200",
		} {
			r.Write("f", strconv.Itoa(i))
			r.commit("tz "+d, hgtest.WithDate(d))
		}
	}},
	{name: "renames-copies", build: func(r *repo) {
		r.Write("a.txt", "alpha\n")
		r.Write("dir/b.txt", "beta\n")
		r.Write("dir/sub/c.txt", "gamma\n")
		r.commit("base")
		r.Run("mv", "a.txt", "renamed.txt")
		r.commit("rename")
		r.Run("cp", "dir/b.txt", "copy of b.txt")
		r.commit("copy with space")
		r.Run("cp", "dir/sub/c.txt", "dir/c2.txt")
		r.Write("dir/c2.txt", "gamma changed\n")
		r.Run("mv", "dir/b.txt", "dir/sub/b-moved%.txt")
		r.commit("copy, modify and move")
		r.Run("mv", "dir", "newdir")
		r.commit("move directory")
		r.Run("cp", "renamed.txt", "é-copy.txt")
		r.commit("copy to non-ASCII name")
	}},
	{name: "modes-symlinks-binary", build: func(r *repo) {
		r.Write("script.sh", "#!/bin/sh\necho hi\n")
		r.Chmod("script.sh", 0o755)
		r.Write("plain", "text\n")
		r.Symlink("plain", "link")
		r.Symlink("../outside/target", "dir/dangling")
		r.Write("bin.dat", "\x00\x01\x02\xff\xfe binary \x00 data")
		r.commit("exec, symlinks, binary")
		r.Chmod("script.sh", 0o644)
		r.Chmod("plain", 0o755)
		r.commit("flip exec bits")
		r.Write("link", "now a file\n")
		r.Symlink("script.sh", "plain2")
		r.commit("symlink becomes file")
		r.Run("rm", "link")
		r.Symlink("bin.dat", "link")
		r.commit("file becomes symlink")
	}},
	{name: "store-encoding", build: func(r *repo) {
		long := strings.Repeat("very-long-directory-name/", 6) + strings.Repeat("X", 40) + ".txt"
		for i, p := range []string{
			"UPPER/Case/File.TXT", "data.i", "data.d", "dir.i/inner.d", "x.hg/y", "foo.i/bar.hg/baz.d",
			"aux", "con.txt", "prn/nul.c", "com1", "lpt9.txt", "AUX.upper", "trailing.", "trailing ",
			"~tilde", ".dotfile", " leading space", "sp ace/é accent", long, long + ".more/Deep/" + strings.Repeat("z", 100),
			"_underscore", "a:colon", "percent%41", "back\\slash",
		} {
			r.Write(p, "content "+strconv.Itoa(i)+"\n")
		}
		r.commit("awkward store paths")
		r.Write(long, "changed\n")
		r.Write("UPPER/Case/File.TXT", "changed\n")
		r.commit("modify some")
		r.Run("rm", "aux", "prn/nul.c")
		r.commit("remove some")
	}},
	{name: "branches-closed", build: func(r *repo) {
		r.Write("f", "0\n")
		r.commit("root")
		r.Run("branch", "feature")
		r.Write("g", "feature\n")
		r.commit("on feature")
		r.Write("g", "feature 2\n")
		r.commit("feature 2")
		r.Run("update", "default")
		r.Write("f", "1\n")
		r.commit("default moves")
		r.Run("branch", "-f", "branché ünicode")
		r.Write("h", "x\n")
		r.commit("non-ASCII branch")
		r.commit("close it", hgtest.WithCloseBranch())
		r.Run("update", "feature")
		r.commit("close feature", hgtest.WithCloseBranch())
		r.Run("update", "default")
		r.Run("branch", "-f", "other")
		r.Write("o", "o\n")
		r.commit("other branch")
	}},
	{name: "bookmarks", build: func(r *repo) {
		r.Write("f", "0\n")
		r.commit("root")
		r.Run("bookmark", "main")
		r.Write("f", "1\n")
		r.commit("main moves")
		r.Run("bookmark", "-r", "0", "old")
		r.Run("bookmark", "-r", "0", "feature/x")
		r.Run("bookmark", "-r", "0", "bad name")
		r.Run("bookmark", "-r", "0", "bad..dots")
		r.Run("bookmark", "-r", "0", "ends.lock")
		r.Run("bookmark", "-r", "1", "ünïcode")
	}},
	{name: "tags", build: func(r *repo) {
		r.Write("f", "0\n")
		r.commit("root")
		r.Run("tag", "-d", "1500100000 0", "v1.0")
		r.Write("f", "1\n")
		r.commit("more")
		r.Run("tag", "-d", "1500100001 0", "v2.0")
		r.Run("tag", "-d", "1500100002 0", "-r", "0", "release 1")
		r.Run("tag", "-d", "1500100003 0", "--remove", "v1.0")
		r.Run("tag", "-d", "1500100004 0", "-f", "-r", "1", "v2.0")
		r.Run("tag", "-l", "local-only")
		r.Run("tag", "-d", "1500100005 0", "-r", "1", "bad~name")
	}},
	{name: "merges", build: func(r *repo) {
		r.Write("a", "a\n")
		r.Write("b", "b\n")
		r.commit("root")
		r.Write("a", "a1\n")
		r.Run("mv", "b", "b-renamed")
		r.commit("left")
		r.Run("update", "0")
		r.Write("c", "c\n")
		r.Write("b", "b changed\n")
		r.commit("right")
		r.Run("merge", "--tool", "internal:local", "1")
		r.commit("merge right with left")
		r.Run("update", "1")
		r.Write("d", "d\n")
		r.commit("left again")
		r.Run("merge", "--tool", "internal:other", "3")
		r.commit("merge the merge (p2 higher)")
		r.Run("update", "1")
		r.Run("merge", "--tool", "internal:local", "2")
		r.Write("a", "resolved\n")
		r.commit("criss-cross")
	}},
	{name: "empty-commits", build: func(r *repo) {
		r.Write("f", "0\n")
		r.commit("root")
		r.commit("empty", hgtest.WithArgs("--config", "ui.allowemptycommit=1"))
		r.Run("branch", "newbranch")
		r.commit("branch change only")
		r.commit("empty on branch", hgtest.WithArgs("--config", "ui.allowemptycommit=1"))
	}},
	{name: "empty-first", build: func(r *repo) {
		r.commit("empty root", hgtest.WithArgs("--config", "ui.allowemptycommit=1"))
		r.Write("f", "x\n")
		r.commit("then a file")
		r.Run("rm", "f")
		r.commit("and nothing again")
	}},
	{name: "graft-amend-extras", build: func(r *repo) {
		r.Write("f", "0\n")
		r.commit("root")
		r.Write("g", "feature\n")
		r.Run("cp", "f", "f-copy")
		r.commit("to graft")
		r.Run("update", "0")
		r.Write("h", "h\n")
		r.commit("other head")
		r.Run("graft", "-D", "1")
		r.Write("h", "amended\n")
		r.Run("commit", "--amend", "-m", "amended", "-d", "1600000000 0", "--config", "experimental.evolution=")
	}},
	{name: "custom-extras", build: func(r *repo) {
		x := []string{"--config", "extensions.testextra=" + testExtraExt}
		r.Write("f", "0\n")
		r.commit("plain extras", hgtest.WithArgs(append(x, "--config", "testextra.zeta=last", "--config", "testextra.alpha=first value/with:odd chars%")...))
		r.Write("f", "1\n")
		r.commit("binary extra", hgtest.WithArgs(append(x, "--config", `testextra.bin=\x00\xff\xe9`)...))
		r.Write("f", "2\n")
		r.commit("committer extra", hgtest.WithArgs(append(x, "--config", "testextra.committer=Other Person <other@example.com> 1500000123 -7200")...))
		r.Write("f", "3\n")
		r.commit("committer git tz", hgtest.WithArgs(append(x, "--config", "testextra.committer=Git Style <g@example.com> 1500000123 +0130")...))
		r.Write("f", "4\n")
		r.commit("committer +0300 quirk", hgtest.WithArgs(append(x, "--config", "testextra.committer=Q <q@example.com> 1500000123 +0300")...))
		r.Write("f", "5\n")
		r.commit("committer broken", hgtest.WithArgs(append(x, "--config", "testextra.committer=nonsense")...))
		// GIT<n>-<field> extras make hg-git 1.0.1 crash ("dictionary changed
		// size during iteration"); TestGitExtras covers them natively.
		r.Write("f", "7\n")
		r.commit("rename source git", hgtest.WithArgs(append(x, "--config", "testextra.hg-git-rename-source=git")...))
		r.Run("cp", "f", "g")
		r.commit("rename source git with copy", hgtest.WithArgs(append(x, "--config", "testextra.hg-git-rename-source=git")...))
		r.Write("f", "8\n")
		r.commit("ignored keys", hgtest.WithArgs(append(x, "--config", "testextra.encoding=latin1", "--config", "testextra.hg-git=whatever")...))
		r.Write("f", "9\n")
		r.commit("author delta garbage", hgtest.WithArgs(append(x, "--config", `testextra.author=\x05\x05\x90\x01`)...))
	}},
	{name: "non-utf8", build: func(r *repo) {
		x := []string{"--config", "extensions.testextra=" + testExtraExt}
		r.Write("f", "0\n")
		r.commit("latin-1", hgtest.WithArgs(append(x, "--config", `testextra-raw.user=J\xf6rg M\xfcller <j@example.de>`, "--config", `testextra-raw.desc=caf\xe9 cr\xe8me`)...))
		r.Write("f", "1\n")
		r.commit("broken utf-8", hgtest.WithArgs(append(x, "--config", `testextra-raw.user=\xc3 no mail`, "--config", `testextra-raw.desc=half \xe2\x82 euro`)...))
		r.Run("branch", "caf\u00e9")
		r.Write("f", "2\n")
		r.commit("utf-8 branch", hgtest.WithArgs(append(x, "--config", `testextra-raw.desc=surrogate \xed\xa0\x80 and \xf4\x90\x80\x80`)...))
	}},
	{name: "subrepo-hg", build: func(r *repo) {
		sub := filepath.Join(r.dir, "nested")
		hgtest.Run(r.t, "", "init", sub)
		os.WriteFile(filepath.Join(sub, "inner"), []byte("inner\n"), 0o644)
		hgtest.Run(r.t, sub, "commit", "-A", "-m", "inner", "-d", "1500000000 0")
		r.Write(".hgsub", "nested = nested\n")
		r.Write("top", "top\n")
		r.commit("add hg subrepo")
		r.Write("top", "top 2\n")
		r.commit("more")
	}},
	{name: "subrepo-git", build: func(r *repo) {
		gitSub(r, "themes")
		r.Write(".hgsub", "themes = [git]https://example.com/themes.git\n")
		r.Write("top", "top\n")
		r.commit("add git subrepo", hgtest.WithArgs("--config", "subrepos.git:allowed=true"))
		gitCommit(r, "themes", "second")
		r.Write("top", "top 2\n")
		r.commit("move subrepo", hgtest.WithArgs("--config", "subrepos.git:allowed=true"))
		r.Run("rm", ".hgsub")
		r.commit("drop subrepo", hgtest.WithArgs("--config", "subrepos.git:allowed=true"))
	}},
	{name: "compression-zlib", init: []string{"--config", "format.revlog-compression=zlib"}, build: func(r *repo) {
		buildSmallHistory(r)
	}},
	{name: "compression-zstd", init: []string{"--config", "format.revlog-compression=zstd"}, build: func(r *repo) {
		buildSmallHistory(r)
	}},
	{name: "no-dotencode-old-format", init: []string{"--config", "format.dotencode=false", "--config", "format.usegeneraldelta=false", "--config", "format.sparse-revlog=false"}, build: func(r *repo) {
		r.Write(".hidden/File.TXT", "x\n")
		r.Write(" space/aux.c", "y\n")
		buildSmallHistory(r)
	}},
	{name: "dir-file-swaps", build: func(r *repo) {
		r.Write("a/b/c", "c\n")
		r.Write("a/d", "d\n")
		r.Write("x", "x\n")
		r.commit("root")
		r.Run("rm", "a/b/c")
		r.Write("a/b", "now a file\n")
		r.commit("dir becomes file")
		r.Run("rm", "x")
		r.Write("x/inside", "x is a dir\n")
		r.commit("file becomes dir")
		r.Run("rm", "a/b", "a/d")
		r.commit("a disappears")
		r.Run("rm", "x/inside")
		r.Write("keep", "k\n")
		r.commit("only keep")
	}},
	{name: "git-paths", build: func(r *repo) {
		r.Write("ok", "ok\n")
		r.Write("sub/.git/config", "[core]\n")
		r.Write("GIT~1/x", "short name\n")
		r.Write("deep/.g\u200cit/hfs", "ignorable\n")
		r.Write("deep/.GIT/upper", "kept: not .git exactly\n")
		r.commit("dangerous paths")
		r.Write("sub/.git/config", "changed\n")
		r.Write("ok", "ok 2\n")
		r.commit("modify them")
	}},
	{name: "many-files", build: func(r *repo) {
		for c := 0; c < 4; c++ {
			for i := 0; i < 60; i++ {
				r.Write(filepath.Join("pkg"+strconv.Itoa(i%7), "sub"+strconv.Itoa(i%3), "f"+strconv.Itoa(i)), strconv.Itoa(c*i)+"\n")
			}
			r.commit("round " + strconv.Itoa(c))
		}
		r.Run("rm", "pkg3")
		r.commit("remove a package")
	}},
	{name: "reverts-same-content", build: func(r *repo) {
		r.Write("f", "A\n")
		r.commit("A")
		r.Write("f", "B\n")
		r.commit("B")
		r.Write("f", "A\n")
		r.commit("back to A")
		r.Run("cp", "f", "g")
		r.commit("copy identical")
		r.Run("backout", "--merge", "-r", "2", "-m", "backout", "-d", "1600000000 0", "--tool", "internal:other")
	}},
	{name: "description-edge", build: func(r *repo) {
		r.Write("f", "0\n")
		r.commit("line one\n\nbody with trailing spaces   \n\n\n")
		r.Write("f", "1\n")
		r.commit("--HG--\nbranch : fake")
		r.Write("f", "2\n")
		r.commit("tab\tand\r\ncrlf")
	}},
}

func buildSmallHistory(r *repo) {
	r.Write("README", strings.Repeat("some text that compresses well\n", 50))
	r.Write("src/main.c", "int main() { return 0; }\n")
	r.commit("first")
	r.Write("README", strings.Repeat("some text that compresses well, changed\n", 60))
	r.Run("mv", "src/main.c", "src/prog.c")
	r.commit("second")
	r.Run("tag", "-d", "1500200000 0", "v1")
	r.Run("bookmark", "main")
}

// gitSub creates a git repository at path inside r with one commit.
func gitSub(r *repo, path string) {
	r.t.Helper()
	dir := filepath.Join(r.dir, path)
	gittest.Run(r.t, "", "init", "-q", dir)
	gitCommit(r, path, "first")
}

func gitCommit(r *repo, path, msg string) {
	r.t.Helper()
	dir := filepath.Join(r.dir, path)
	os.WriteFile(filepath.Join(dir, "theme-"+msg), []byte(msg+"\n"), 0o644)
	gittest.Run(r.t, dir, "add", "-A")
	gittest.Run(r.t, dir, "commit", "-q", "-m", msg)
}

// TestConformance builds each repository with hg, converts copies of it with
// hg-git and natively, and requires identical commits for every changeset
// and identical bookmarks and tags.
func TestConformance(t *testing.T) {
	requireHg(t)
	for _, tc := range conformanceRepos {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t, tc.init...)
			tc.build(r)
			ref := filepath.Join(t.TempDir(), "hggit")
			nat := filepath.Join(t.TempDir(), "native")
			copyDir(t, r.dir, ref)
			copyDir(t, r.dir, nat)
			want := runHgGit(t, ref)
			got := runNative(t, nat)
			wantMap, gotMap := readMap(t, ref), readMap(t, nat)
			if len(gotMap) != got.Total {
				t.Errorf("native map has %d entries for %d changesets", len(gotMap), got.Total)
			}
			compareMaps(t, wantMap, gotMap)
			compareStringMaps(t, "bookmarks", want.Bookmarks, got.Bookmarks)
			compareStringMaps(t, "tags", want.Tags, got.Tags)
			if want.Tip != got.Tip {
				t.Errorf("tip: hg-git %s, native %s", want.Tip, got.Tip)
			}
			compareGitRefs(t, ref, nat)
		})
	}
}

// compareGitRefs compares the refs both converters left in .hg/git.
func compareGitRefs(t *testing.T, ref, nat string) {
	t.Helper()
	a, b := gittest.Refs(t, convert.GitDir(ref)), gittest.Refs(t, convert.GitDir(nat))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("refs in .hg/git differ:\nhg-git:\n%v\nnative:\n%v", a, b)
	}
}
