package convert

import (
	"reflect"
	"testing"
)

// The expectations below come from hg-git 1.0.1's own doctests and from
// running its code on the same input.

func TestSanitizeIdent(t *testing.T) {
	t.Parallel()
	checkCases(t, "sanitizeIdent", sanitizeIdent, map[string]string{
		"John Doe":                        "John Doe",
		"john@doe.com":                    "john@doe.com",
		" <john@doe.com> ":                "john@doe.com",
		"    <random<\n<garbage\n>  > > ": "random???garbage?",
		"Typo in hgrc >but.hg-git@handles.it.gracefully>": "Typo in hgrc ?but.hg-git@handles.it.gracefully",
	})
}

func TestGitIdent(t *testing.T) {
	t.Parallel()
	checkCases(t, "gitIdent", gitIdent, map[string]string{
		"Plain <p@x>":         "Plain <p@x>",
		"justaname":           "justaname <none@none>",
		"m@x.org":             "m@x.org <m@x.org>",
		"Name<m@x>":           "Name <m@x>",
		"Name <m@x> trailing": "Name ext:(%20trailing) <m@x>",
		"Name <m@x>>":         "Name ext:(%3E) <m@x>",
		"unterminated <m@x":   "unterminated <m@x>",
		"a <b <c>":            "a <b ?c>",
		"":                    " <none@none>",
		"x <y> é/z":           "x ext:(%20%C3%A9/z) <y>",
		"  <  spaced@x  >  ":  "ext:(%20%20) <spaced@x>",
		"Two <<double@x>>":    "Two ext:(%3E) <double@x>",
	})
}

func TestLocalUTF8(t *testing.T) {
	t.Parallel()
	checkCases(t, "localUTF8", localUTF8, map[string]string{
		"plain":            "plain",
		"caf\xc3\xa9":      "caf\xc3\xa9",
		"caf\xe9":          "caf\xc3\xa9",
		"\xed\xa0\x80":     "\xc3\xad\xc2\xa0\xc2\x80", // a surrogate is not UTF-8 for Python either
		"\xf4\x90\x80\x80": "\xc3\xb4\xc2\x90\xc2\x80\xc2\x80",
	})
}

func TestFormatTZ(t *testing.T) {
	t.Parallel()
	checkCases(t, "formatTZ", func(hgTZ int64) string {
		return formatTZ(-(hgTZ - pyMod(hgTZ, 60)), false)
	}, map[int64]string{
		0: "+0000", -19800: "+0530", -20700: "+0545", 18000: "-0500", -50400: "+1400",
		43200: "-1200", -19830: "+0531", 19830: "-0530", -45: "+0001", 45: "+0000",
	})
}

func TestCommitterFromExtra(t *testing.T) {
	t.Parallel()
	checkCases(t, "committerFromExtra", func(in string) string {
		got, ok := committerFromExtra(in)
		if !ok {
			return ""
		}
		return got
	}, map[string]string{
		"Other <o@x> 1500000123 -7200": "Other <o@x> 1500000123 +0200",
		"G <g@x> 1500000123 +0130":     "G <g@x> 1500000123 +0130",
		"Q <q@x> 1500000123 +0300":     "Q <q@x> 1500000123 -0005", // hg-git's reading of "+0300" as seconds
		"N 12 3600":                    "N 12 -0100",
		"nonsense":                     "",
		"a b c":                        "",
	})
}

func TestCommitMeta(t *testing.T) {
	t.Parallel()
	cs := &changeset{
		User: "A <a@x>", Time: 10, TZ: -3600, Description: "msg",
		Extra: map[string]string{"branch": "feature", "close": "1", "zz": "a b", "GIT1-x": "v%41", "GIT0-y": "w"},
	}
	author, committer, extra, message := commitMeta(cs, [][2]string{{"old name", "new"}})
	if author != "A <a@x> 10 +0100" || committer != author {
		t.Errorf("author %q committer %q", author, committer)
	}
	wantExtra := [][2]string{{"y", "w"}, {"x", "vA"}, {"HG:rename", "old%20name:new"}, {"HG:extra", "close:1"}, {"HG:extra", "zz:a%20b"}}
	if !reflect.DeepEqual(extra, wantExtra) {
		t.Errorf("extra %q, want %q", extra, wantExtra)
	}
	if message != "msg\n\n--HG--\nbranch : feature\n" {
		t.Errorf("message %q", message)
	}
	_, _, extra, message = commitMeta(&changeset{User: "u", Extra: map[string]string{"branch": "default"}, Description: "d"}, nil)
	if !reflect.DeepEqual(extra, [][2]string{{"HG:rename-source", "hg"}}) || message != "d\n" {
		t.Errorf("default branch: extra %q message %q", extra, message)
	}
}

func TestSubrepoState(t *testing.T) {
	t.Parallel()
	state, problems := subrepoState(
		"docs/_themes = [git]git://github.com/x/y.git\nplain = ../plain\nsv = [svn] http://svn/x\nbad = [git\n",
		true,
		"11cb6b51c9ea3bc8f94afa3d7411b617f9db2570 docs/_themes\n docs/other\nabc plain\n",
		true)
	want := []subrepo{
		{Path: "docs/_themes", Kind: "git", Source: "git://github.com/x/y.git", Rev: "11cb6b51c9ea3bc8f94afa3d7411b617f9db2570"},
		{Path: "plain", Kind: "hg", Source: "../plain", Rev: "abc"},
		{Path: "sv", Kind: "svn", Source: "http://svn/x"},
	}
	if !reflect.DeepEqual(state, want) {
		t.Errorf("state %+v\nwant %+v", state, want)
	}
	if len(problems) != 2 || problems[0].Kind != WarnHgsubstateSyntax || problems[1].Kind != WarnHgsubSyntax {
		t.Errorf("problems %+v", problems)
	}
}

func TestUnsafePath(t *testing.T) {
	t.Parallel()
	checkCases(t, "unsafePath", unsafePath, map[string]bool{
		"ok": false, ".git/config": true, "a/.git": true, "GIT~1/x": true, "git~2": true, "gitx~3/y": true,
		".g\u200cit/x": true, ".GIT/x": false, "git~": false, "git~a": false, ".gitignore": false,
	})
}

func TestCheckRefFormat(t *testing.T) {
	t.Parallel()
	checkCases(t, "checkRefFormat", checkRefFormat, map[string]bool{
		"refs/heads/main": true, "refs/heads/bad name": false, "refs/heads/a..b": false, "refs/heads/x.lock": false,
		"refs/tags/bad~name": false, "refs/heads/.hidden": false, "refs/heads/ünïcode": true, "refs/heads/a@{b": false,
		"refs/heads/end.": false, "refs/heads/end/": false, "refs/tags/a:b": false,
	})
}

// checkCases reports each input in cases for which f, named name, does not
// return the wanted value.
func checkCases[In, Out comparable](t *testing.T, name string, f func(In) Out, cases map[In]Out) {
	t.Helper()
	for in, want := range cases {
		if got := f(in); got != want {
			t.Errorf("%s(%#v) = %#v, want %#v", name, in, got, want)
		}
	}
}
