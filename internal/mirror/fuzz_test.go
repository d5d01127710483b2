package mirror

import (
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

func FuzzValidRefName(f *testing.F) {
	f.Add("refs/heads/master")
	f.Add("refs/heads/a..b")
	f.Add("refs/tags/v1.0^{}")
	f.Fuzz(func(t *testing.T, ref string) {
		if !validRefName(ref) {
			return
		}
		// What it accepts, git's rules accept too.
		for _, bad := range []string{"..", "//", "@{", "/.", ".lock/", "\\", " ", "~", "^", ":", "?", "*", "["} {
			if strings.Contains(ref, bad) {
				t.Fatalf("validRefName(%q) accepted %q", ref, bad)
			}
		}
		if !strings.HasPrefix(ref, "refs/") || strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".lock") || strings.HasSuffix(ref, ".") {
			t.Fatalf("validRefName(%q) = true", ref)
		}
	})
}

func FuzzScheme(f *testing.F) {
	f.Add("https://example.org/r")
	f.Add("git@example.org:o/r.git")
	f.Add("file:///srv/r")
	f.Add("-oProxyCommand=x")
	s := &Syncer{}
	f.Fuzz(func(t *testing.T, raw string) {
		sc, err := s.scheme(raw)
		if err != nil {
			return
		}
		switch sc {
		case "https", "ssh", "scp":
		default:
			t.Fatalf("scheme(%q) = %q allowed with AllowFile and AllowHTTP off", raw, sc)
		}
		if strings.HasPrefix(raw, "-") {
			t.Fatalf("scheme(%q) allowed an option-like URL", raw)
		}
	})
}

// FuzzHgRefStates: whatever bookmark and topic names the source has, the
// planner never panics, never exports a ref Git refuses, never exports
// two refs Git cannot hold together (a and a/b), and accounts for every
// bookmark.
func FuzzHgRefStates(f *testing.F) {
	f.Add("main", "a/b", "feat", true)
	f.Add("a", "a/b", "x..y", false)
	f.Add("HEAD", "-rf", "t", true)
	f.Add("branch/default", "topic/default/t", "t", true)
	f.Fuzz(func(t *testing.T, b1, b2, topic string, heptapod bool) {
		var n1, n2 hg.Node
		n1[0], n2[0] = 1, 2
		st := &hg.SourceState{
			Heads:     []hg.Head{{Node: n1, Branch: "default"}, {Node: n2, Branch: "default", Topic: topic, Phase: hg.Draft}},
			Bookmarks: map[string]hg.Node{b1: n1, b2: n2},
			Phases:    map[hg.Node]hg.Phase{n2: hg.Draft},
		}
		var h1, h2 git.Hash
		h1[0], h2[0] = 1, 2
		p := RefPolicy{Tags: true, WildHeads: true}
		if heptapod {
			p.Layout = LayoutHeptapod
		}
		refs, _ := p.hgRefStates(hgSource{State: st, Git: map[hg.Node]git.Hash{n1: h1, n2: h2}})
		exported := map[string]bool{}
		listed := map[string]bool{}
		for _, r := range refs {
			listed[r.Ref] = true
			if r.State != "" {
				continue
			}
			if badRefName(r.Ref) != "" {
				t.Fatalf("exported %q, which Git refuses", r.Ref)
			}
			if exported[r.Ref] {
				t.Fatalf("exported %q twice", r.Ref)
			}
			exported[r.Ref] = true
		}
		for ref := range exported {
			for other := range exported {
				if strings.HasPrefix(other, ref+"/") {
					t.Fatalf("exported both %q and %q", ref, other)
				}
			}
		}
		for name := range st.Bookmarks {
			// Listed as itself, or as the same ref another origin gives
			// the same value (a bookmark "branch/default" at that head).
			if !listed["refs/heads/"+name] {
				t.Fatalf("bookmark %q not accounted for: %+v", name, refs)
			}
		}
	})
}
