package hgtest

import (
	_ "embed"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/gittest"
)

// Conformance is one repository of the conformance set: each covers some of
// hg-git's rules (authors, dates, paths, branches, tags, extras, subrepositories,
// revlog formats) and is used by every part that must read Mercurial as
// hg does (the converter against hg-git, the native transport against hg).
type Conformance struct {
	Name string
	// Init are "section.key=value" settings for hg init (revlog formats).
	Init []string
	// Build makes the history in an empty repository.
	Build func(r *Script)
}

// Script is a repository whose commits, made by Step, have dates an hour
// apart from 1500000000 unless WithDate says otherwise.
type Script struct {
	*Repo
	n         int    // commits made by Step and NextDate
	extension string // testextra.py written for this repository, once
}

// NewScript creates an empty repository with init settings (WithConfig).
func NewScript(t testing.TB, init ...string) *Script {
	t.Helper()
	return &Script{Repo: NewRepo(t, WithConfig(init...))}
}

// OpenScript continues the script of the repository at dir after its first
// commits commits (the next date is the one after them).
func OpenScript(t testing.TB, dir string, commits int) *Script {
	t.Helper()
	return &Script{Repo: Open(t, dir), n: commits}
}

// NextDate returns the date of the next commit ("UNIX 0").
func (r *Script) NextDate() string {
	r.n++
	return strconv.Itoa(1500000000+r.n*3600) + " 0"
}

// Step commits everything (addremove) with message msg and the next date.
func (r *Script) Step(msg string, opts ...CommitOption) string {
	r.t.Helper()
	return r.Commit(append([]CommitOption{WithMessage(msg), WithDate(r.NextDate())}, opts...)...)
}

// GitSub creates a git repository at path inside r with one commit.
func (r *Script) GitSub(path string) {
	r.t.Helper()
	gittest.Run(r.t, "", "init", "-q", r.Path(path))
	r.GitCommit(path, "first")
}

// GitCommit commits a new file theme-MSG in the git repository at path.
func (r *Script) GitCommit(path, msg string) {
	r.t.Helper()
	dir := r.Path(path)
	if err := os.WriteFile(filepath.Join(dir, "theme-"+msg), []byte(msg+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	gittest.Run(r.t, dir, "add", "-A")
	gittest.Run(r.t, dir, "commit", "-q", "-m", msg)
}

//go:embed testdata/testextra.py
var testExtra []byte

// testExtra returns the path of the testextra extension (testdata/testextra.py),
// written for this repository's test.
func (r *Script) testExtra() string {
	r.t.Helper()
	if r.extension == "" {
		r.extension = filepath.Join(r.t.TempDir(), "testextra.py")
		if err := os.WriteFile(r.extension, testExtra, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	return r.extension
}

// allowEmpty lets a commit record no change.
var allowEmpty = WithArgs("--config", "ui.allowemptycommit=1")

// ConformanceRepos are the conformance repositories.
var ConformanceRepos = []Conformance{
	{Name: "authors", Build: func(r *Script) {
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
			r.Step("by "+u, WithUser(u), WithFile("f", strconv.Itoa(i)))
		}
	}},
	{Name: "timezones", Build: func(r *Script) {
		for i, d := range []string{
			"1500000000 0", "1500000000 -19800", "1500000000 -20700", "1500000000 18000",
			"1500000000 -50400", "1500000000 43200", "1500000000 -19830", "1500000000 19830",
			"1500000000 -45", "1500000000 45", "1500000000 -3601", "1500000000 3599",
			"0 0", "2147483647 -3600", "1 -34200",
		} {
			r.Step("tz "+d, WithDate(d), WithFile("f", strconv.Itoa(i)))
		}
	}},
	{Name: "renames-copies", Build: func(r *Script) {
		r.Step("base", WithFile("a.txt", "alpha\n"), WithFile("dir/b.txt", "beta\n"), WithFile("dir/sub/c.txt", "gamma\n"))
		r.Run("mv", "a.txt", "renamed.txt")
		r.Step("rename")
		r.Run("cp", "dir/b.txt", "copy of b.txt")
		r.Step("copy with space")
		r.Run("cp", "dir/sub/c.txt", "dir/c2.txt")
		r.Write("dir/c2.txt", "gamma changed\n")
		r.Run("mv", "dir/b.txt", "dir/sub/b-moved%.txt")
		r.Step("copy, modify and move")
		r.Run("mv", "dir", "newdir")
		r.Step("move directory")
		r.Run("cp", "renamed.txt", "é-copy.txt")
		r.Step("copy to non-ASCII name")
	}},
	{Name: "modes-symlinks-binary", Build: func(r *Script) {
		r.Write("script.sh", "#!/bin/sh\necho hi\n")
		r.Chmod("script.sh", 0o755)
		r.Write("plain", "text\n")
		r.Symlink("plain", "link")
		r.Symlink("../outside/target", "dir/dangling")
		r.Step("exec, symlinks, binary", WithFile("bin.dat", "\x00\x01\x02\xff\xfe binary \x00 data"))
		r.Chmod("script.sh", 0o644)
		r.Chmod("plain", 0o755)
		r.Step("flip exec bits")
		r.Write("link", "now a file\n")
		r.Symlink("script.sh", "plain2")
		r.Step("symlink becomes file")
		r.Run("rm", "link")
		r.Symlink("bin.dat", "link")
		r.Step("file becomes symlink")
	}},
	{Name: "store-encoding", Build: func(r *Script) {
		long := strings.Repeat("very-long-directory-name/", 6) + strings.Repeat("X", 40) + ".txt"
		for i, p := range []string{
			"UPPER/Case/File.TXT", "data.i", "data.d", "dir.i/inner.d", "x.hg/y", "foo.i/bar.hg/baz.d",
			"aux", "con.txt", "prn/nul.c", "com1", "lpt9.txt", "AUX.upper", "trailing.", "trailing ",
			"~tilde", ".dotfile", " leading space", "sp ace/é accent", long, long + ".more/Deep/" + strings.Repeat("z", 100),
			"_underscore", "a:colon", "percent%41", "back\\slash",
		} {
			r.Write(p, "content "+strconv.Itoa(i)+"\n")
		}
		r.Step("awkward store paths")
		r.Step("modify some", WithFile(long, "changed\n"), WithFile("UPPER/Case/File.TXT", "changed\n"))
		r.Run("rm", "aux", "prn/nul.c")
		r.Step("remove some")
	}},
	{Name: "branches-closed", Build: func(r *Script) {
		r.Step("root", WithFile("f", "0\n"))
		r.Run("branch", "feature")
		r.Step("on feature", WithFile("g", "feature\n"))
		r.Step("feature 2", WithFile("g", "feature 2\n"))
		r.Run("update", "default")
		r.Step("default moves", WithFile("f", "1\n"))
		r.Run("branch", "-f", "branché ünicode")
		r.Step("non-ASCII branch", WithFile("h", "x\n"))
		r.Step("close it", WithCloseBranch())
		r.Run("update", "feature")
		r.Step("close feature", WithCloseBranch())
		r.Run("update", "default")
		r.Run("branch", "-f", "other")
		r.Step("other branch", WithFile("o", "o\n"))
	}},
	{Name: "bookmarks", Build: func(r *Script) {
		r.Step("root", WithFile("f", "0\n"))
		r.Run("bookmark", "main")
		r.Step("main moves", WithFile("f", "1\n"))
		r.Run("bookmark", "-r", "0", "old")
		r.Run("bookmark", "-r", "0", "feature/x")
		r.Run("bookmark", "-r", "0", "bad name")
		r.Run("bookmark", "-r", "0", "bad..dots")
		r.Run("bookmark", "-r", "0", "ends.lock")
		r.Run("bookmark", "-r", "1", "ünïcode")
	}},
	{Name: "tags", Build: func(r *Script) {
		r.Step("root", WithFile("f", "0\n"))
		r.Run("tag", "-d", "1500100000 0", "v1.0")
		r.Step("more", WithFile("f", "1\n"))
		r.Run("tag", "-d", "1500100001 0", "v2.0")
		r.Run("tag", "-d", "1500100002 0", "-r", "0", "release 1")
		r.Run("tag", "-d", "1500100003 0", "--remove", "v1.0")
		r.Run("tag", "-d", "1500100004 0", "-f", "-r", "1", "v2.0")
		r.Run("tag", "-l", "local-only")
		r.Run("tag", "-d", "1500100005 0", "-r", "1", "bad~name")
	}},
	{Name: "merges", Build: func(r *Script) {
		r.Step("root", WithFile("a", "a\n"), WithFile("b", "b\n"))
		r.Write("a", "a1\n")
		r.Run("mv", "b", "b-renamed")
		r.Step("left")
		r.Run("update", "0")
		r.Step("right", WithFile("c", "c\n"), WithFile("b", "b changed\n"))
		r.Run("merge", "--tool", "internal:local", "1")
		r.Step("merge right with left")
		r.Run("update", "1")
		r.Step("left again", WithFile("d", "d\n"))
		r.Run("merge", "--tool", "internal:other", "3")
		r.Step("merge the merge (p2 higher)")
		r.Run("update", "1")
		r.Run("merge", "--tool", "internal:local", "2")
		r.Step("criss-cross", WithFile("a", "resolved\n"))
	}},
	{Name: "empty-commits", Build: func(r *Script) {
		r.Step("root", WithFile("f", "0\n"))
		r.Step("empty", allowEmpty)
		r.Run("branch", "newbranch")
		r.Step("branch change only")
		r.Step("empty on branch", allowEmpty)
	}},
	{Name: "empty-first", Build: func(r *Script) {
		r.Step("empty root", allowEmpty)
		r.Step("then a file", WithFile("f", "x\n"))
		r.Run("rm", "f")
		r.Step("and nothing again")
	}},
	{Name: "graft-amend-extras", Build: func(r *Script) {
		r.Step("root", WithFile("f", "0\n"))
		r.Write("g", "feature\n")
		r.Run("cp", "f", "f-copy")
		r.Step("to graft")
		r.Run("update", "0")
		r.Step("other head", WithFile("h", "h\n"))
		r.Run("graft", "-D", "1")
		r.Write("h", "amended\n")
		r.Run("commit", "--amend", "-m", "amended", "-d", "1600000000 0", "--config", "experimental.evolution=")
	}},
	{Name: "custom-extras", Build: func(r *Script) {
		x := []string{"--config", "extensions.testextra=" + r.testExtra()}
		r.Step("plain extras", WithArgs(append(x, "--config", "testextra.zeta=last", "--config", "testextra.alpha=first value/with:odd chars%")...), WithFile("f", "0\n"))
		r.Step("binary extra", WithArgs(append(x, "--config", `testextra.bin=\x00\xff\xe9`)...), WithFile("f", "1\n"))
		r.Step("committer extra", WithArgs(append(x, "--config", "testextra.committer=Other Person <other@example.com> 1500000123 -7200")...), WithFile("f", "2\n"))
		r.Step("committer git tz", WithArgs(append(x, "--config", "testextra.committer=Git Style <g@example.com> 1500000123 +0130")...), WithFile("f", "3\n"))
		r.Step("committer +0300 quirk", WithArgs(append(x, "--config", "testextra.committer=Q <q@example.com> 1500000123 +0300")...), WithFile("f", "4\n"))
		r.Step("committer broken", WithArgs(append(x, "--config", "testextra.committer=nonsense")...), WithFile("f", "5\n"))
		// GIT<n>-<field> extras make hg-git 1.0.1 crash ("dictionary changed
		// size during iteration"); TestGitExtras covers them natively.
		r.Step("rename source git", WithArgs(append(x, "--config", "testextra.hg-git-rename-source=git")...), WithFile("f", "7\n"))
		r.Run("cp", "f", "g")
		r.Step("rename source git with copy", WithArgs(append(x, "--config", "testextra.hg-git-rename-source=git")...))
		r.Step("ignored keys", WithArgs(append(x, "--config", "testextra.encoding=latin1", "--config", "testextra.hg-git=whatever")...), WithFile("f", "8\n"))
		r.Step("author delta garbage", WithArgs(append(x, "--config", `testextra.author=\x05\x05\x90\x01`)...), WithFile("f", "9\n"))
	}},
	{Name: "non-utf8", Build: func(r *Script) {
		x := []string{"--config", "extensions.testextra=" + r.testExtra()}
		r.Step("latin-1", WithArgs(append(x, "--config", `testextra-raw.user=J\xf6rg M\xfcller <j@example.de>`, "--config", `testextra-raw.desc=caf\xe9 cr\xe8me`)...), WithFile("f", "0\n"))
		r.Step("broken utf-8", WithArgs(append(x, "--config", `testextra-raw.user=\xc3 no mail`, "--config", `testextra-raw.desc=half \xe2\x82 euro`)...), WithFile("f", "1\n"))
		r.Run("branch", "caf\u00e9")
		r.Step("utf-8 branch", WithArgs(append(x, "--config", `testextra-raw.desc=surrogate \xed\xa0\x80 and \xf4\x90\x80\x80`)...), WithFile("f", "2\n"))
	}},
	{Name: "subrepo-hg", Build: func(r *Script) {
		sub := filepath.Join(r.Dir, "nested")
		Run(r.t, "", "init", sub)
		os.WriteFile(filepath.Join(sub, "inner"), []byte("inner\n"), 0o644)
		Run(r.t, sub, "commit", "-A", "-m", "inner", "-d", "1500000000 0")
		r.Step("add hg subrepo", WithFile(".hgsub", "nested = nested\n"), WithFile("top", "top\n"))
		r.Step("more", WithFile("top", "top 2\n"))
	}},
	{Name: "subrepo-git", Build: func(r *Script) {
		r.GitSub("themes")
		r.Step("add git subrepo", WithArgs("--config", "subrepos.git:allowed=true"), WithFile(".hgsub", "themes = [git]https://example.com/themes.git\n"), WithFile("top", "top\n"))
		r.GitCommit("themes", "second")
		r.Step("move subrepo", WithArgs("--config", "subrepos.git:allowed=true"), WithFile("top", "top 2\n"))
		r.Run("rm", ".hgsub")
		r.Step("drop subrepo", WithArgs("--config", "subrepos.git:allowed=true"))
	}},
	{Name: "compression-zlib", Init: []string{"format.revlog-compression=zlib"}, Build: func(r *Script) {
		buildSmallHistory(r)
	}},
	{Name: "compression-zstd", Init: []string{"format.revlog-compression=zstd"}, Build: func(r *Script) {
		buildSmallHistory(r)
	}},
	{Name: "no-dotencode-old-format", Init: []string{"format.dotencode=false", "format.usegeneraldelta=false", "format.sparse-revlog=false"}, Build: func(r *Script) {
		r.Write(".hidden/File.TXT", "x\n")
		r.Write(" space/aux.c", "y\n")
		buildSmallHistory(r)
	}},
	{Name: "dir-file-swaps", Build: func(r *Script) {
		r.Step("root", WithFile("a/b/c", "c\n"), WithFile("a/d", "d\n"), WithFile("x", "x\n"))
		r.Run("rm", "a/b/c")
		r.Step("dir becomes file", WithFile("a/b", "now a file\n"))
		r.Run("rm", "x")
		r.Step("file becomes dir", WithFile("x/inside", "x is a dir\n"))
		r.Run("rm", "a/b", "a/d")
		r.Step("a disappears")
		r.Run("rm", "x/inside")
		r.Step("only keep", WithFile("keep", "k\n"))
	}},
	{Name: "git-paths", Build: func(r *Script) {
		r.Step("dangerous paths", WithFile("ok", "ok\n"), WithFile("sub/.git/config", "[core]\n"), WithFile("GIT~1/x", "short name\n"), WithFile("deep/.g\u200cit/hfs", "ignorable\n"), WithFile("deep/.GIT/upper", "kept: not .git exactly\n"))
		r.Step("modify them", WithFile("sub/.git/config", "changed\n"), WithFile("ok", "ok 2\n"))
	}},
	{Name: "many-files", Build: func(r *Script) {
		for c := 0; c < 4; c++ {
			for i := 0; i < 60; i++ {
				r.Write(filepath.Join("pkg"+strconv.Itoa(i%7), "sub"+strconv.Itoa(i%3), "f"+strconv.Itoa(i)), strconv.Itoa(c*i)+"\n")
			}
			r.Step("round " + strconv.Itoa(c))
		}
		r.Run("rm", "pkg3")
		r.Step("remove a package")
	}},
	{Name: "reverts-same-content", Build: func(r *Script) {
		r.Step("A", WithFile("f", "A\n"))
		r.Step("B", WithFile("f", "B\n"))
		r.Step("back to A", WithFile("f", "A\n"))
		r.Run("cp", "f", "g")
		r.Step("copy identical")
		r.Run("backout", "--merge", "-r", "2", "-m", "backout", "-d", "1600000000 0", "--tool", "internal:other")
	}},
	{Name: "description-edge", Build: func(r *Script) {
		r.Step("line one\n\nbody with trailing spaces   \n\n\n", WithFile("f", "0\n"))
		r.Step("--HG--\nbranch : fake", WithFile("f", "1\n"))
		r.Step("tab\tand\r\ncrlf", WithFile("f", "2\n"))
	}},
}

func buildSmallHistory(r *Script) {
	r.Step("first", WithFile("README", strings.Repeat("some text that compresses well\n", 50)), WithFile("src/main.c", "int main() { return 0; }\n"))
	r.Write("README", strings.Repeat("some text that compresses well, changed\n", 60))
	r.Run("mv", "src/main.c", "src/prog.c")
	r.Step("second")
	r.Run("tag", "-d", "1500200000 0", "v1")
	r.Run("bookmark", "main")
}
