package git

import (
	"strings"
	"testing"
)

func TestParseRefList(t *testing.T) {
	t.Parallel()
	a := "0123456789abcdef0123456789abcdef01234567"
	b := "89abcdef0123456789abcdef0123456789abcdef"
	refs, err := ParseRefList([]byte(a + "\tHEAD\n" + a + "\trefs/heads/main\n" + b + "\trefs/tags/v1\n" + a + "\trefs/tags/v1^{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 4 || refs["HEAD"].String() != a || refs["refs/tags/v1"].String() != b || refs["refs/tags/v1^{}"].String() != a {
		t.Errorf("ParseRefList = %v", refs)
	}
	if refs, err := ParseRefList(nil); err != nil || len(refs) != 0 {
		t.Errorf("empty output: %v, %v", refs, err)
	}
	for _, bad := range []string{
		a + " refs/heads/main\n",
		a[:39] + "\trefs/heads/main\n",
		a + "\t\n",
		a + "\trefs/heads/a\x01b\n",
		"ref: refs/heads/main\tHEAD\n",
		a + "\t" + strings.Repeat("x", maxRefName+1) + "\n",
	} {
		if _, err := ParseRefList([]byte(bad)); err == nil {
			t.Errorf("ParseRefList(%q) accepted", bad)
		}
	}
}

func TestParsePushPorcelain(t *testing.T) {
	t.Parallel()
	out := "To /tmp/dst.git\n" +
		"*\trefs/heads/new:refs/heads/new\t[new branch]\n" +
		" \trefs/heads/main:refs/heads/main\tabc1234..def5678\n" +
		"!\trefs/heads/other:refs/heads/main\t[rejected] (non-fast-forward)\n" +
		"!\trefs/heads/x:refs/heads/x\t[remote rejected] (pre-receive hook declined)\n" +
		"=\trefs/tags/v1:refs/tags/v1\t[up to date]\n" +
		"Done\n"
	got := parsePushPorcelain([]byte(out))
	want := []PushRef{
		{'*', "refs/heads/new", "refs/heads/new", "[new branch]", ""},
		{' ', "refs/heads/main", "refs/heads/main", "abc1234..def5678", ""},
		{'!', "refs/heads/other", "refs/heads/main", "[rejected]", "non-fast-forward"},
		{'!', "refs/heads/x", "refs/heads/x", "[remote rejected]", "pre-receive hook declined"},
		{'=', "refs/tags/v1", "refs/tags/v1", "[up to date]", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("parsePushPorcelain = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// A remote's refusal outranks a non-fast-forward.
	if k := pushKind(got); k != ErrRemoteRejected {
		t.Errorf("pushKind = %v", k)
	}
	if k := pushKind(got[:3]); k != ErrNonFastForward {
		t.Errorf("pushKind(non-fast-forward) = %v", k)
	}
	if k := pushKind(got[3:4]); k != ErrRemoteRejected {
		t.Errorf("pushKind(remote rejected) = %v", k)
	}
	atomic := []PushRef{
		{'!', "refs/heads/a", "refs/heads/a", "[rejected]", "atomic push failed"},
		{'!', "refs/heads/c", "refs/heads/c", "[remote rejected]", "atomic push failure"},
		{'!', "refs/heads/b", "refs/heads/b", "[remote rejected]", "protected branch hook declined"},
	}
	if k := pushKind(atomic); k != ErrRemoteRejected {
		t.Errorf("pushKind(atomic) = %v", k)
	}
	if k := pushKind(atomic[:1]); k != nil {
		t.Errorf("pushKind(atomic push failed alone) = %v", k)
	}
	if k := pushKind(got[:2]); k != nil {
		t.Errorf("pushKind(accepted) = %v", k)
	}
}

func FuzzParseRefList(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef01234567\tHEAD\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		refs, err := ParseRefList(data)
		if err != nil {
			return
		}
		for name, h := range refs {
			if name == "" || len(name) > maxRefName || strings.ContainsFunc(name, isControl) {
				t.Fatalf("accepted ref name %q", name)
			}
			if _, err := ParseHash(h.String()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParsePushPorcelain(f *testing.F) {
	f.Add([]byte("To x\n!\trefs/heads/a:refs/heads/a\t[rejected] (non-fast-forward)\nDone\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range parsePushPorcelain(data) {
			if !strings.ContainsRune(" +-*!=", rune(p.Flag)) {
				t.Fatalf("flag %q", p.Flag)
			}
			if strings.Contains(p.From, "\n") || strings.Contains(p.Reason, "\n") {
				t.Fatalf("line break in %+v", p)
			}
		}
		_ = pushKind(parsePushPorcelain(data))
	})
}
