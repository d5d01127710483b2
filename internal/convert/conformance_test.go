package convert_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// repo builds a Mercurial repository with real hg commands.
type repo struct {
	t   testing.TB
	env []string
	dir string
	n   int // commits made, for increasing dates
}

func newRepo(t testing.TB, env []string, initArgs ...string) *repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	args := append([]string{"init"}, initArgs...)
	args = append(args, "--", dir)
	hgRun(t, env, "", args...)
	return &repo{t: t, env: env, dir: dir}
}

func (r *repo) hg(args ...string) string {
	r.t.Helper()
	return hgRun(r.t, r.env, r.dir, args...)
}

func (r *repo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	os.Remove(p) // replaces a symlink rather than writing through it
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repo) chmod(path string, mode os.FileMode) {
	r.t.Helper()
	if err := os.Chmod(filepath.Join(r.dir, filepath.FromSlash(path)), mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repo) symlink(target, path string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(path))
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything (addremove) with a fixed, increasing date
// unless extra arguments give one.
func (r *repo) commit(msg string, extra ...string) {
	r.t.Helper()
	r.n++
	args := []string{"commit", "-A", "-m", msg}
	hasDate := false
	for _, a := range extra {
		if a == "-d" {
			hasDate = true
		}
	}
	if !hasDate {
		args = append(args, "-d", strconv.Itoa(1500000000+r.n*3600)+" 0")
	}
	args = append(args, extra...)
	r.hg(args...)
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
			r.write("f", strconv.Itoa(i))
			r.commit("by "+u, "-u", u)
		}
	}},
	{name: "timezones", build: func(r *repo) {
		for i, d := range []string{
			"1500000000 0", "1500000000 -19800", "1500000000 -20700", "1500000000 18000",
			"1500000000 -50400", "1500000000 43200", "1500000000 -19830", "1500000000 19830",
			"1500000000 -45", "1500000000 45", "1500000000 -3601", "1500000000 3599",
			"0 0", "2147483647 -3600", "1 -34200",
		} {
			r.write("f", strconv.Itoa(i))
			r.commit("tz "+d, "-d", d)
		}
	}},
	{name: "renames-copies", build: func(r *repo) {
		r.write("a.txt", "alpha\n")
		r.write("dir/b.txt", "beta\n")
		r.write("dir/sub/c.txt", "gamma\n")
		r.commit("base")
		r.hg("mv", "a.txt", "renamed.txt")
		r.commit("rename")
		r.hg("cp", "dir/b.txt", "copy of b.txt")
		r.commit("copy with space")
		r.hg("cp", "dir/sub/c.txt", "dir/c2.txt")
		r.write("dir/c2.txt", "gamma changed\n")
		r.hg("mv", "dir/b.txt", "dir/sub/b-moved%.txt")
		r.commit("copy, modify and move")
		r.hg("mv", "dir", "newdir")
		r.commit("move directory")
		r.hg("cp", "renamed.txt", "é-copy.txt")
		r.commit("copy to non-ASCII name")
	}},
	{name: "modes-symlinks-binary", build: func(r *repo) {
		r.write("script.sh", "#!/bin/sh\necho hi\n")
		r.chmod("script.sh", 0o755)
		r.write("plain", "text\n")
		r.symlink("plain", "link")
		r.symlink("../outside/target", "dir/dangling")
		r.write("bin.dat", "\x00\x01\x02\xff\xfe binary \x00 data")
		r.commit("exec, symlinks, binary")
		r.chmod("script.sh", 0o644)
		r.chmod("plain", 0o755)
		r.commit("flip exec bits")
		r.write("link", "now a file\n")
		r.symlink("script.sh", "plain2")
		r.commit("symlink becomes file")
		r.hg("rm", "link")
		r.symlink("bin.dat", "link")
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
			r.write(p, "content "+strconv.Itoa(i)+"\n")
		}
		r.commit("awkward store paths")
		r.write(long, "changed\n")
		r.write("UPPER/Case/File.TXT", "changed\n")
		r.commit("modify some")
		r.hg("rm", "aux", "prn/nul.c")
		r.commit("remove some")
	}},
	{name: "branches-closed", build: func(r *repo) {
		r.write("f", "0\n")
		r.commit("root")
		r.hg("branch", "feature")
		r.write("g", "feature\n")
		r.commit("on feature")
		r.write("g", "feature 2\n")
		r.commit("feature 2")
		r.hg("update", "default")
		r.write("f", "1\n")
		r.commit("default moves")
		r.hg("branch", "-f", "branché ünicode")
		r.write("h", "x\n")
		r.commit("non-ASCII branch")
		r.commit("close it", "--close-branch")
		r.hg("update", "feature")
		r.commit("close feature", "--close-branch")
		r.hg("update", "default")
		r.hg("branch", "-f", "other")
		r.write("o", "o\n")
		r.commit("other branch")
	}},
	{name: "bookmarks", build: func(r *repo) {
		r.write("f", "0\n")
		r.commit("root")
		r.hg("bookmark", "main")
		r.write("f", "1\n")
		r.commit("main moves")
		r.hg("bookmark", "-r", "0", "old")
		r.hg("bookmark", "-r", "0", "feature/x")
		r.hg("bookmark", "-r", "0", "bad name")
		r.hg("bookmark", "-r", "0", "bad..dots")
		r.hg("bookmark", "-r", "0", "ends.lock")
		r.hg("bookmark", "-r", "1", "ünïcode")
	}},
	{name: "tags", build: func(r *repo) {
		r.write("f", "0\n")
		r.commit("root")
		r.hg("tag", "-d", "1500100000 0", "v1.0")
		r.write("f", "1\n")
		r.commit("more")
		r.hg("tag", "-d", "1500100001 0", "v2.0")
		r.hg("tag", "-d", "1500100002 0", "-r", "0", "release 1")
		r.hg("tag", "-d", "1500100003 0", "--remove", "v1.0")
		r.hg("tag", "-d", "1500100004 0", "-f", "-r", "1", "v2.0")
		r.hg("tag", "-l", "local-only")
		r.hg("tag", "-d", "1500100005 0", "-r", "1", "bad~name")
	}},
	{name: "merges", build: func(r *repo) {
		r.write("a", "a\n")
		r.write("b", "b\n")
		r.commit("root")
		r.write("a", "a1\n")
		r.hg("mv", "b", "b-renamed")
		r.commit("left")
		r.hg("update", "0")
		r.write("c", "c\n")
		r.write("b", "b changed\n")
		r.commit("right")
		r.hg("merge", "--tool", "internal:local", "1")
		r.commit("merge right with left")
		r.hg("update", "1")
		r.write("d", "d\n")
		r.commit("left again")
		r.hg("merge", "--tool", "internal:other", "3")
		r.commit("merge the merge (p2 higher)")
		r.hg("update", "1")
		r.hg("merge", "--tool", "internal:local", "2")
		r.write("a", "resolved\n")
		r.commit("criss-cross")
	}},
	{name: "empty-commits", build: func(r *repo) {
		r.write("f", "0\n")
		r.commit("root")
		r.commit("empty", "--config", "ui.allowemptycommit=1")
		r.hg("branch", "newbranch")
		r.commit("branch change only")
		r.commit("empty on branch", "--config", "ui.allowemptycommit=1")
	}},
	{name: "empty-first", build: func(r *repo) {
		r.commit("empty root", "--config", "ui.allowemptycommit=1")
		r.write("f", "x\n")
		r.commit("then a file")
		r.hg("rm", "f")
		r.commit("and nothing again")
	}},
	{name: "graft-amend-extras", build: func(r *repo) {
		r.write("f", "0\n")
		r.commit("root")
		r.write("g", "feature\n")
		r.hg("cp", "f", "f-copy")
		r.commit("to graft")
		r.hg("update", "0")
		r.write("h", "h\n")
		r.commit("other head")
		r.hg("graft", "-D", "1")
		r.write("h", "amended\n")
		r.hg("commit", "--amend", "-m", "amended", "-d", "1600000000 0", "--config", "experimental.evolution=")
	}},
	{name: "custom-extras", build: func(r *repo) {
		x := []string{"--config", "extensions.testextra=" + testExtraExt}
		r.write("f", "0\n")
		r.commit("plain extras", append(x, "--config", "testextra.zeta=last", "--config", "testextra.alpha=first value/with:odd chars%")...)
		r.write("f", "1\n")
		r.commit("binary extra", append(x, "--config", `testextra.bin=\x00\xff\xe9`)...)
		r.write("f", "2\n")
		r.commit("committer extra", append(x, "--config", "testextra.committer=Other Person <other@example.com> 1500000123 -7200")...)
		r.write("f", "3\n")
		r.commit("committer git tz", append(x, "--config", "testextra.committer=Git Style <g@example.com> 1500000123 +0130")...)
		r.write("f", "4\n")
		r.commit("committer +0300 quirk", append(x, "--config", "testextra.committer=Q <q@example.com> 1500000123 +0300")...)
		r.write("f", "5\n")
		r.commit("committer broken", append(x, "--config", "testextra.committer=nonsense")...)
		// GIT<n>-<field> extras make hg-git 1.0.1 crash ("dictionary changed
		// size during iteration"); TestGitExtras covers them natively.
		r.write("f", "7\n")
		r.commit("rename source git", append(x, "--config", "testextra.hg-git-rename-source=git")...)
		r.hg("cp", "f", "g")
		r.commit("rename source git with copy", append(x, "--config", "testextra.hg-git-rename-source=git")...)
		r.write("f", "8\n")
		r.commit("ignored keys", append(x, "--config", "testextra.encoding=latin1", "--config", "testextra.hg-git=whatever")...)
		r.write("f", "9\n")
		r.commit("author delta garbage", append(x, "--config", `testextra.author=\x05\x05\x90\x01`)...)
	}},
	{name: "non-utf8", build: func(r *repo) {
		x := []string{"--config", "extensions.testextra=" + testExtraExt}
		r.write("f", "0\n")
		r.commit("latin-1", append(x, "--config", `testextra-raw.user=J\xf6rg M\xfcller <j@example.de>`, "--config", `testextra-raw.desc=caf\xe9 cr\xe8me`)...)
		r.write("f", "1\n")
		r.commit("broken utf-8", append(x, "--config", `testextra-raw.user=\xc3 no mail`, "--config", `testextra-raw.desc=half \xe2\x82 euro`)...)
		r.hg("branch", "caf\u00e9")
		r.write("f", "2\n")
		r.commit("utf-8 branch", append(x, "--config", `testextra-raw.desc=surrogate \xed\xa0\x80 and \xf4\x90\x80\x80`)...)
	}},
	{name: "subrepo-hg", build: func(r *repo) {
		sub := filepath.Join(r.dir, "nested")
		hgRun(r.t, r.env, "", "init", sub)
		os.WriteFile(filepath.Join(sub, "inner"), []byte("inner\n"), 0o644)
		hgRun(r.t, r.env, sub, "commit", "-A", "-m", "inner", "-d", "1500000000 0")
		r.write(".hgsub", "nested = nested\n")
		r.write("top", "top\n")
		r.commit("add hg subrepo")
		r.write("top", "top 2\n")
		r.commit("more")
	}},
	{name: "subrepo-git", build: func(r *repo) {
		gitSub(r, "themes")
		r.write(".hgsub", "themes = [git]https://example.com/themes.git\n")
		r.write("top", "top\n")
		r.commit("add git subrepo", "--config", "subrepos.git:allowed=true")
		gitCommit(r, "themes", "second")
		r.write("top", "top 2\n")
		r.commit("move subrepo", "--config", "subrepos.git:allowed=true")
		r.hg("rm", ".hgsub")
		r.commit("drop subrepo", "--config", "subrepos.git:allowed=true")
	}},
	{name: "compression-zlib", init: []string{"--config", "format.revlog-compression=zlib"}, build: func(r *repo) {
		buildSmallHistory(r)
	}},
	{name: "compression-zstd", init: []string{"--config", "format.revlog-compression=zstd"}, build: func(r *repo) {
		buildSmallHistory(r)
	}},
	{name: "no-dotencode-old-format", init: []string{"--config", "format.dotencode=false", "--config", "format.usegeneraldelta=false", "--config", "format.sparse-revlog=false"}, build: func(r *repo) {
		r.write(".hidden/File.TXT", "x\n")
		r.write(" space/aux.c", "y\n")
		buildSmallHistory(r)
	}},
	{name: "dir-file-swaps", build: func(r *repo) {
		r.write("a/b/c", "c\n")
		r.write("a/d", "d\n")
		r.write("x", "x\n")
		r.commit("root")
		r.hg("rm", "a/b/c")
		r.write("a/b", "now a file\n")
		r.commit("dir becomes file")
		r.hg("rm", "x")
		r.write("x/inside", "x is a dir\n")
		r.commit("file becomes dir")
		r.hg("rm", "a/b", "a/d")
		r.commit("a disappears")
		r.hg("rm", "x/inside")
		r.write("keep", "k\n")
		r.commit("only keep")
	}},
	{name: "git-paths", build: func(r *repo) {
		r.write("ok", "ok\n")
		r.write("sub/.git/config", "[core]\n")
		r.write("GIT~1/x", "short name\n")
		r.write("deep/.g\u200cit/hfs", "ignorable\n")
		r.write("deep/.GIT/upper", "kept: not .git exactly\n")
		r.commit("dangerous paths")
		r.write("sub/.git/config", "changed\n")
		r.write("ok", "ok 2\n")
		r.commit("modify them")
	}},
	{name: "many-files", build: func(r *repo) {
		for c := 0; c < 4; c++ {
			for i := 0; i < 60; i++ {
				r.write(filepath.Join("pkg"+strconv.Itoa(i%7), "sub"+strconv.Itoa(i%3), "f"+strconv.Itoa(i)), strconv.Itoa(c*i)+"\n")
			}
			r.commit("round " + strconv.Itoa(c))
		}
		r.hg("rm", "pkg3")
		r.commit("remove a package")
	}},
	{name: "reverts-same-content", build: func(r *repo) {
		r.write("f", "A\n")
		r.commit("A")
		r.write("f", "B\n")
		r.commit("B")
		r.write("f", "A\n")
		r.commit("back to A")
		r.hg("cp", "f", "g")
		r.commit("copy identical")
		r.hg("backout", "--merge", "-r", "2", "-m", "backout", "-d", "1600000000 0", "--tool", "internal:other")
	}},
	{name: "description-edge", build: func(r *repo) {
		r.write("f", "0\n")
		r.commit("line one\n\nbody with trailing spaces   \n\n\n")
		r.write("f", "1\n")
		r.commit("--HG--\nbranch : fake")
		r.write("f", "2\n")
		r.commit("tab\tand\r\ncrlf")
	}},
}

func buildSmallHistory(r *repo) {
	r.write("README", strings.Repeat("some text that compresses well\n", 50))
	r.write("src/main.c", "int main() { return 0; }\n")
	r.commit("first")
	r.write("README", strings.Repeat("some text that compresses well, changed\n", 60))
	r.hg("mv", "src/main.c", "src/prog.c")
	r.commit("second")
	r.hg("tag", "-d", "1500200000 0", "v1")
	r.hg("bookmark", "main")
}

// gitSub creates a git repository at path inside r with one commit.
func gitSub(r *repo, path string) {
	r.t.Helper()
	dir := filepath.Join(r.dir, path)
	gitRun(r.t, "", "init", "-q", dir)
	gitCommit(r, path, "first")
}

func gitCommit(r *repo, path, msg string) {
	r.t.Helper()
	dir := filepath.Join(r.dir, path)
	os.WriteFile(filepath.Join(dir, "theme-"+msg), []byte(msg+"\n"), 0o644)
	gitRun(r.t, dir, "add", "-A")
	gitRun(r.t, dir, "commit", "-q", "-m", msg)
}

func gitRun(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_AUTHOR_DATE=1500000000 +0000", "GIT_COMMITTER_DATE=1500000000 +0000",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestConformance builds each repository with hg, converts copies of it with
// hg-git and natively, and requires identical commits for every changeset
// and identical bookmarks and tags.
func TestConformance(t *testing.T) {
	requireHg(t)
	for _, tc := range conformanceRepos {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := hgEnv(t)
			r := newRepo(t, env, tc.init...)
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
	list := func(dir string) string {
		cmd := exec.Command("git", "--git-dir", filepath.Join(dir, ".hg", "git"), "for-each-ref", "--format=%(refname) %(objectname)")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git for-each-ref: %v\n%s", err, out)
		}
		return string(out)
	}
	if a, b := list(ref), list(nat); a != b {
		t.Errorf("refs in .hg/git differ:\nhg-git:\n%s\nnative:\n%s", a, b)
	}
}
