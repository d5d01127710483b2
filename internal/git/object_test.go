package git

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func TestHashObjectMatchesGit(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	blobs := [][]byte{
		nil,
		[]byte("hello\n"),
		[]byte("no newline"),
		[]byte("\x00\x01\x02binary\xff"),
		bytes.Repeat([]byte("0123456789abcdef"), 100000),
	}
	for i, b := range blobs {
		want := mustHash(t, string(gitT(t, dir, b, "hash-object", "-t", "blob", "--stdin")))
		if got := HashObject(BlobObject, b); got != want {
			t.Errorf("blob %d: HashObject = %s, git hash-object = %s", i, got, want)
		}
	}
}

func TestParseHash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", true},
		{"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", true},
		{"da39a3ee5e6b4b0d3255bfef95601890afd8070", false},
		{"da39a3ee5e6b4b0d3255bfef95601890afd807090", false},
		{"za39a3ee5e6b4b0d3255bfef95601890afd80709", false},
		{"", false},
	} {
		h, err := ParseHash(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseHash(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && h.String() != strings.ToLower(tc.in) {
			t.Errorf("ParseHash(%q).String() = %s", tc.in, h)
		}
	}
	if !ZeroHash.IsZero() || HashObject(BlobObject, nil).IsZero() {
		t.Error("IsZero wrong")
	}
}

// TestEncodeTreeMatchesMktree checks entry order and mode spelling against
// `git mktree`, which sorts entries itself.
func TestEncodeTreeMatchesMktree(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	blob := HashObject(BlobObject, []byte("x\n"))
	sub := HashObject(TreeObject, nil)
	commit := mustHash(t, "0123456789abcdef0123456789abcdef01234567")
	entry := func(mode uint32, h Hash) func(string) TreeEntry {
		return func(name string) TreeEntry { return TreeEntry{mode, name, h} }
	}
	f, x, l := entry(ModeFile, blob), entry(ModeExecutable, blob), entry(ModeSymlink, blob)
	d, g := entry(ModeDir, sub), entry(ModeGitlink, commit)
	cases := map[string][]TreeEntry{
		"empty":  {},
		"single": {f("README")},
		"modes":  {f("file"), x("run.sh"), l("link"), d("dir"), g("sub")},
		// Directories sort as name+"/", gitlinks and files as plain names.
		"slash order":                   {d("a"), f("a.b"), f("a-b"), f("a0")},
		"file named like the directory": {f("a"), f("a.b"), f("a-b"), f("a0")},
		"dir vs file prefix":            {f("foo.c"), d("foo"), f("foo0"), g("foo-"), g("bar"), d("bar.d")},
		"unicode and bytes":             {f("é"), f("e"), f("Z"), f(" space"), d("~tilde")},
	}
	for name, entries := range cases {
		var in strings.Builder
		for _, e := range entries {
			kind := map[uint32]string{ModeDir: "tree", ModeGitlink: "commit"}[e.Mode]
			if kind == "" {
				kind = "blob"
			}
			fmt.Fprintf(&in, "%06o %s %s\t%s\n", e.Mode, kind, e.Hash, e.Name)
		}
		want := mustHash(t, string(gitT(t, dir, []byte(in.String()), "mktree", "--missing")))
		body := EncodeTree(entries)
		if got := HashObject(TreeObject, body); got != want {
			t.Errorf("%s: tree %s, git mktree %s", name, got, want)
		}
	}
}

var (
	testTree   = mustHashS("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
	testParent = mustHashS("0123456789abcdef0123456789abcdef01234567")
	testOther  = mustHashS("89abcdef0123456789abcdef0123456789abcdef")
)

func mustHashS(s string) Hash {
	h, err := ParseHash(s)
	if err != nil {
		panic(err)
	}
	return h
}

// TestEncodeCommitMatchesCommitTree checks plain commits against
// `git commit-tree`.
func TestEncodeCommitMatchesCommitTree(t *testing.T) {
	t.Parallel()
	dir := newBare(t)
	tree := mustHash(t, string(gitT(t, dir, nil, "mktree")))
	p1 := mustHash(t, string(gitT(t, dir, []byte("one\n"), "commit-tree", tree.String())))
	p2 := mustHash(t, string(gitT(t, dir, []byte("two\n"), "commit-tree", tree.String())))
	author := "Test Author <author@example.com> 1700000000 +0100"
	committer := "Test Committer <committer@example.com> 1700000100 -0230"
	for _, tc := range []struct {
		parents []Hash
		msg     string
	}{
		{nil, "root\n"},
		{[]Hash{p1}, "child\n\nbody\n"},
		{[]Hash{p1, p2}, "merge\n"},
		{[]Hash{p2, p1}, "merge reversed\n"},
	} {
		args := []string{"commit-tree", tree.String()}
		for _, p := range tc.parents {
			args = append(args, "-p", p.String())
		}
		want := mustHash(t, string(gitT(t, dir, []byte(tc.msg), args...)))
		c := &Commit{Tree: tree, Parents: tc.parents, Author: author, Committer: committer, Message: tc.msg}
		if got := HashObject(CommitObject, EncodeCommit(c)); got != want {
			t.Errorf("%q: commit %s, git commit-tree %s\n%s", tc.msg, got, want, EncodeCommit(c))
		}
	}
}

// TestEncodeCommitMatchesDulwich checks the header layout hg-git produces
// (encoding, extra headers, gpgsig) against dulwich itself.
func TestEncodeCommitMatchesDulwich(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Fatal("python3 with dulwich is required: ", err)
	}
	author := "Foo Bar <foo@example.com> 1400000000 +0200"
	committer := "Baz <baz@example.com> 1400000060 -0000"
	commits := []*Commit{
		{Tree: testTree, Author: author, Committer: author, Message: "plain\n"},
		{Tree: testTree, Author: author, Committer: committer, Message: "negative utc\n"},
		{Tree: testTree, Parents: []Hash{testParent, testOther}, Author: author, Committer: author,
			Extra: [][2]string{{"HG:rename-source", "hg"}}, Message: "merge\n"},
		{Tree: testTree, Parents: []Hash{testParent}, Author: author, Committer: author,
			Extra:   [][2]string{{"HG:rename", "a%20b:c"}, {"HG:rename", "d:e"}, {"HG:extra", "amend_source:0123"}, {"HG:extra", "rebase_source:abcd"}},
			Message: "renames\n\n--HG--\nbranch : stable\n"},
		{Tree: testTree, Author: author, Committer: author, Encoding: "ISO-8859-1",
			Extra: [][2]string{{"HG:rename-source", "hg"}}, Message: "caf\xe9\n"},
		{Tree: testTree, Author: author, Committer: author, Encoding: "UTF-8",
			Extra:  [][2]string{{"HG:extra", "x:y"}},
			GPGSig: "-----BEGIN PGP SIGNATURE-----\n\nabc\ndef\n-----END PGP SIGNATURE-----", Message: "signed\n"},
		{Tree: testTree, Author: author, Committer: author, Message: ""},
		{Tree: testTree, Author: author, Committer: author, Message: "no newline"},
		{Tree: testTree, Author: "Név <none@none> 0 +0000", Committer: "Név <none@none> 0 +0000", Message: "\n\nleading blank lines\n"},
	}
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var specs []map[string]any
	for _, c := range commits {
		var parents, extra []any
		for _, p := range c.Parents {
			parents = append(parents, enc(p.String()))
		}
		for _, kv := range c.Extra {
			extra = append(extra, []string{enc(kv[0]), enc(kv[1])})
		}
		specs = append(specs, map[string]any{
			"tree": enc(c.Tree.String()), "parents": parents, "author": enc(c.Author),
			"committer": enc(c.Committer), "encoding": enc(c.Encoding), "extra": extra,
			"gpgsig": enc(c.GPGSig), "message": enc(c.Message),
		})
	}
	in, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", "testdata/dulwich_commit.py")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dulwich oracle: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(commits) {
		t.Fatalf("dulwich oracle printed %d lines for %d commits: %s", len(lines), len(commits), out)
	}
	dir := newBare(t)
	for i, c := range commits {
		want, err := base64.StdEncoding.DecodeString(lines[i])
		if err != nil {
			t.Fatalf("commit %d: dulwich: %s", i, lines[i])
		}
		got := EncodeCommit(c)
		if !bytes.Equal(got, want) {
			t.Errorf("commit %d differs from dulwich:\n got %q\nwant %q", i, got, want)
		}
		// Git reads it back as the same object.
		h := mustHash(t, string(gitT(t, dir, got, "hash-object", "-t", "commit", "-w", "--stdin")))
		if h != HashObject(CommitObject, got) {
			t.Errorf("commit %d: git hash-object %s, HashObject %s", i, h, HashObject(CommitObject, got))
		}
		if back := gitT(t, dir, nil, "cat-file", "commit", h.String()); !bytes.Equal(back, got) {
			t.Errorf("commit %d: git cat-file returned %q", i, back)
		}
	}
}

// TestEncodeCommitMultilineExtra checks that a multi-line extra value is
// continued with leading spaces and read back whole by dulwich's parser.
func TestEncodeCommitMultilineExtra(t *testing.T) {
	t.Parallel()
	c := &Commit{Tree: testTree, Author: "A <a@b> 1 +0000", Committer: "A <a@b> 1 +0000",
		Extra: [][2]string{{"x-multi", "object x\ntype commit\n\nsig"}, {"HG:extra", "k:v"}}, Message: "m\n"}
	got := string(EncodeCommit(c))
	want := "tree " + testTree.String() + "\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n" +
		"x-multi object x\n type commit\n \n sig\nHG:extra k:v\n\nm\n"
	if got != want {
		t.Fatalf("EncodeCommit:\n got %q\nwant %q", got, want)
	}
	script := "import sys\nfrom dulwich.objects import Commit\n" +
		"c = Commit.from_string(sys.stdin.buffer.read())\nsys.stdout.buffer.write(repr(c.extra).encode())\n"
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = strings.NewReader(got)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dulwich parse: %v", err)
	}
	if w := `[(b'x-multi', b'object x\ntype commit\n\nsig'), (b'HG:extra', b'k:v')]`; string(out) != w {
		t.Errorf("dulwich parsed extra %s, want %s", out, w)
	}
}

func TestObjectType(t *testing.T) {
	t.Parallel()
	for typ, want := range map[ObjectType]string{CommitObject: "commit", TreeObject: "tree", BlobObject: "blob", TagObject: "tag", InvalidObject: "invalid", 9: "invalid"} {
		if got := typ.String(); got != want {
			t.Errorf("ObjectType(%d).String() = %q, want %q", typ, got, want)
		}
		if typ.Valid() != (want != "invalid") {
			t.Errorf("ObjectType(%d).Valid() = %v", typ, typ.Valid())
		}
	}
}
