package convert_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// authorsFile is a git.authors file in the forms hg-git reads: comments,
// blank lines, spacing around "=", CRLF, a repeated name (the later wins),
// and a translation into something that is not "Name <mail>".
const authorsFile = "# hg user = Git Name <email>\n" +
	"\n" +
	"alice = Alice Liddell <alice@example.com>\n" +
	"   Bob <bob@old.example>=Bob Builder <bob@example.com>   \n" +
	"carol\t=\tCarol <carol@example.com>\r\n" +
	"  # an indented comment\n" +
	"dave = Dave One <dave1@example.com>\n" +
	"dave = Dave Two <dave2@example.com>\n" +
	"Jörg <j@example.de> = Joerg Mueller <joerg@example.de>\n" +
	"eve = just-a-name\n" +
	"frank = Frank <frank@example.com> with ext\n" +
	"=nobody\n" +
	"gina =\n"

// loadAuthors loads text as an authors file.
func loadAuthors(t *testing.T, text string) *convert.Authors {
	t.Helper()
	p := filepath.Join(t.TempDir(), "authors.txt")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := convert.LoadAuthors(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// settingsRepo builds a repository with users that the authors file
// translates and users it does not, and bookmarks with and without the
// suffix "_bm" (one pair naming the same branch from different changesets).
func settingsRepo(r *repo) {
	users := []string{
		"alice", "Bob <bob@old.example>", "carol", "dave", "Jörg <j@example.de>", "eve", "frank", "gina",
		"untranslated <u@example.com>", "mallory", "alice ", "Alice", "mail.only@example.com",
	}
	for i, u := range users {
		r.Step("by "+u, hgtest.WithUser(u), hgtest.WithFile("f", strings.Repeat("x", i+1)+"\n"))
	}
	for _, b := range [][2]string{
		{"0", "main_bm"}, {"1", "feature_bm"}, {"2", "plain"}, {"3", "dup"}, {"4", "dup_bm"}, {"6", "_bm"}, {"5", "a_bm_bm"},
	} {
		r.Run("bookmark", "-r", b[0], b[1])
	}
	r.Run("tag", "-u", "alice", "-d", "1500300000 0", "v1")
}

// TestSettingsAgainstHgGit converts one repository with hg-git 1.0.1 and
// natively under git.authors and git.branch_bookmark_suffix (alone and
// together): the maps, the refs and .hg/git's refs must be identical.
func TestSettingsAgainstHgGit(t *testing.T) {
	hgtest.RequireHgGit(t)
	r := newRepo(t)
	settingsRepo(r)
	authors := loadAuthors(t, authorsFile)
	cases := []struct {
		name string
		s    convert.Settings
	}{
		{"authors", convert.Settings{Authors: authors}},
		{"suffix", convert.Settings{BranchBookmarkSuffix: "_bm"}},
		{"both", convert.Settings{Authors: authors, BranchBookmarkSuffix: "_bm"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref, want, nat, got := convertBoth(t, r.dir, tc.s)
			compareConversions(t, ref, want, nat, got)
			compareGitRefs(t, ref, nat)
			if tc.s.Authors != nil {
				// Translated and untranslated users, as Git shows them.
				out := gitOut(t, nat, "log", "--all", "--format=%an <%ae>")
				for _, a := range []string{"Alice Liddell <alice@example.com>", "Bob Builder <bob@example.com>", "Dave Two <dave2@example.com>",
					"just-a-name <none@none>", "Frank ext:(%20with%20ext) <frank@example.com>", "untranslated <u@example.com>",
					"mallory <none@none>", "Alice <none@none>", " <none@none>"} {
					if !strings.Contains(out, a+"\n") {
						t.Errorf("no commit by %q in:\n%s", a, out)
					}
				}
				if strings.Contains(out, "Dave One") {
					t.Errorf("the earlier of two lines for dave was used:\n%s", out)
				}
				if got.Record.AuthorsHash != authors.Hash {
					t.Errorf("result records authors %q, want %q", got.Record.AuthorsHash, authors.Hash)
				}
			}
			if tc.s.BranchBookmarkSuffix != "" {
				for _, b := range []string{"main", "feature", "plain", "dup", "a_bm"} {
					if _, ok := got.Bookmarks[b]; !ok {
						t.Errorf("branch %s not exported (have %v)", b, got.Bookmarks)
					}
				}
			}
		})
	}
}

func TestParseAuthors(t *testing.T) {
	t.Parallel()
	good := []struct{ in, from, to string }{
		{"a=b", "a", "b"},
		{"  a  =  b  \n", "a", "b"},
		{"a b = c d <e>\r\n", "a b", "c d <e>"},
		{"\t\v a\f=\tb", "a", "b"},
		{"=x", "", "x"},
		{"x=", "x", ""},
	}
	for _, tc := range good {
		m, err := convert.ParseAuthors("f", []byte(tc.in))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if len(m) != 1 || m[tc.from] != tc.to {
			t.Errorf("%q: got %q, want {%q: %q}", tc.in, m, tc.from, tc.to)
		}
	}
	bad := []struct{ in, where string }{
		{"# c\n\nno equals sign\n", "people.txt:3:"},
		{"a = b\nx = y = z\n", "people.txt:2:"},
		{"a==b", "people.txt:1:"},
	}
	for _, tc := range bad {
		_, err := convert.ParseAuthors("people.txt", []byte(tc.in))
		if !errors.Is(err, convert.ErrAuthorsSyntax) || !strings.Contains(err.Error(), tc.where) {
			t.Errorf("%q: error %v, want ErrAuthorsSyntax at %s", tc.in, err, tc.where)
		}
	}
}

// TestAuthorsChangeRefused converts with one authors file, then refuses to
// go on with another (or none) unless the change is allowed.
func TestAuthorsChangeRefused(t *testing.T) {
	t.Parallel()
	hgtest.RequireHgGit(t)
	r := newRepo(t)
	r.Step("one", hgtest.WithUser("alice"), hgtest.WithFile("f", "1\n"))
	a1 := loadAuthors(t, "alice = Alice <alice@example.com>\n")
	a2 := loadAuthors(t, "alice = Alice <alice@example.org>\n")
	conv := func(s convert.Settings) (*convert.Result, error) { return tryConvert(&convert.Native{}, r.dir, s) }
	if _, err := conv(convert.Settings{Authors: a1}); err != nil {
		t.Fatal(err)
	}
	r.Step("two", hgtest.WithUser("alice"), hgtest.WithFile("f", "2\n"))
	before := readMap(t, r.dir)
	for _, s := range []convert.Settings{{Authors: a2}, {}} {
		_, err := conv(s)
		if !errors.Is(err, convert.ErrAuthorsChanged) {
			t.Fatalf("authors %v: error %v, want ErrAuthorsChanged", s.Authors, err)
		}
	}
	if after := readMap(t, r.dir); len(after) != len(before) {
		t.Fatalf("a refused conversion changed the map: %d → %d lines", len(before), len(after))
	}
	// The same file goes on; then a change that is asked for is taken.
	if res, err := conv(convert.Settings{Authors: a1}); err != nil || res.Converted != 1 {
		t.Fatalf("same authors file: %v (%+v)", err, res)
	}
	res, err := conv(convert.Settings{Authors: a2, AllowAuthorsChange: true})
	if err != nil || res.Record.AuthorsHash != a2.Hash {
		t.Fatalf("allowed change: %v (%+v)", err, res)
	}
	rec, ok, err := convert.ReadRecord(r.dir)
	if err != nil || !ok || rec.AuthorsHash != a2.Hash || rec.HgGit != "1.0" {
		t.Fatalf("record %+v (%v, %v), want authors %s", rec, ok, err, a2.Hash)
	}
}
