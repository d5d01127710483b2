package convert_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// importFiles commits files as importPatch does, on top of the working
// directory's parent, then moves that parent to the new changeset without
// checking subrepositories out.
func (r *repo) importFiles(msg string, files map[string][2]string) {
	r.t.Helper()
	importPatch(r.t, r.dir, msg, files, "-d", r.NextDate())
	r.Run("debugsetparents", "--", "tip")
}

// TestSubrepoWarnings: a [git] subrepository becomes a gitlink; a malformed
// .hgsubstate line, an [svn] and an hg subrepository are reported with
// revision and path, and the rest of each changeset is converted.
func TestSubrepoWarnings(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	r := newRepo(t)
	r.Step("plain start", hgtest.WithFile("README", "hello\n"))
	const sha1 = "11cb6b51c9ea3bc8f94afa3d7411b617f9db2570"
	const sha2 = "3d964b660442e23faedf801caed6e3c7bd42d5c9"
	sub := "themes = [git]https://example.com/themes.git\nsv = [svn]https://svn.example.com/x\nnested = nested\n"
	r.importFiles("add subrepos", map[string][2]string{
		".hgsub":      {"", sub},
		".hgsubstate": {"", sha1 + " themes\nbadline\n42 sv\n"},
		"src/a.c":     {"", "int a;\n"},
	})
	r.importFiles("malformed state, like flask", map[string][2]string{
		".hgsubstate": {sha1 + " themes\nbadline\n42 sv\n", " themes\n42 sv\n"},
		"src/a.c":     {"int a;\n", "int a = 1;\n"},
	})
	r.importFiles("fixed again", map[string][2]string{
		".hgsubstate": {" themes\n42 sv\n", sha2 + " themes\n43 sv\nnot-a-sha nested\n"},
	})

	dir := copyRepo(t, r.dir, "n")
	res := runNative(t, dir)
	m := readMap(t, dir)
	if res.Converted != 4 || len(m) != 4 {
		t.Fatalf("converted %d, map %d; want 4", res.Converted, len(m))
	}
	link := func(rev string) string {
		return gitOut(t, dir, "ls-tree", commitOf(t, dir, m, rev), "themes")
	}
	if got := link("1"); got != "160000 commit "+sha1+"\tthemes\n" {
		t.Errorf("rev 1 themes: %q", got)
	}
	if got := link("2"); got != "" {
		t.Errorf("rev 2 (malformed line) themes: %q, want no entry", got)
	}
	if got := link("3"); got != "160000 commit "+sha2+"\tthemes\n" {
		t.Errorf("rev 3 themes: %q", got)
	}
	// The rest of the changesets is there.
	if got := gitOut(t, dir, "show", commitOf(t, dir, m, "2")+":src/a.c"); got != "int a = 1;\n" {
		t.Errorf("rev 2 src/a.c = %q", got)
	}
	for _, rev := range []string{"1", "2", "3"} {
		names := gitOut(t, dir, "ls-tree", "--name-only", commitOf(t, dir, m, rev))
		if strings.Contains(names, "sv\n") || strings.Contains(names, "nested\n") || strings.Contains(names, ".hgsub") {
			t.Errorf("rev %s tree: %q", rev, names)
		}
	}
	type key struct {
		rev        int
		path, kind string
	}
	want := map[key]bool{
		{1, "badline", convert.WarnHgsubstateSyntax}: true,
		{1, "sv", convert.WarnSubrepoKind}:           true,
		{1, "nested", convert.WarnSubrepoKind}:       true,
		{2, "themes", convert.WarnHgsubstateSyntax}:  true,
		{2, "sv", convert.WarnSubrepoKind}:           true,
		{2, "nested", convert.WarnSubrepoKind}:       true,
		{3, "sv", convert.WarnSubrepoKind}:           true,
		{3, "nested", convert.WarnSubrepoKind}:       true,
	}
	for _, w := range res.Warnings {
		k := key{w.Rev, w.Path, w.Kind}
		if !want[k] {
			t.Errorf("unexpected warning %+v", w)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing warning %+v", k)
	}
	fsck(t, dir)

	// One log line per kind of problem, however many entries.
	logged := copyRepo(t, r.dir, "logged")
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := (&convert.Native{}).Convert(ctx, logged, convert.Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))}); err != nil {
		t.Fatal(err)
	}
	logLines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for _, kind := range []string{convert.WarnHgsubstateSyntax, convert.WarnSubrepoKind} {
		n := 0
		for _, l := range logLines {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "kind="+kind) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d log lines of kind %s, want 1:\n%s", n, kind, buf.String())
		}
	}
	if len(logLines) != 2 {
		t.Errorf("%d log lines, want 2:\n%s", len(logLines), buf.String())
	}

	// hg-git converts revision 0 identically and aborts at revision 1.
	ref := copyRepo(t, r.dir, "ref")
	if _, err := tryHgGit(ref); err == nil || !strings.Contains(err.Error(), "invalid subrepository revision specifier") {
		t.Fatalf("hg-git: %v, want an abort on .hgsubstate", err)
	}
	partial := readMap(t, ref)
	if len(partial) != 1 {
		t.Fatalf("hg-git converted %d changesets before aborting, want 1", len(partial))
	}
	for n, h := range partial {
		if m[n] != h {
			t.Errorf("rev 0: hg-git %s, native %s", h, m[n])
		}
	}
}
