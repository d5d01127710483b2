package mirror

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// hh and nn make distinct hashes and nodes from a short name.
func hh(s string) git.Hash {
	var h git.Hash
	copy(h[:], s)
	h[19] = 1
	return h
}

func nn(s string) hg.Node {
	var n hg.Node
	copy(n[:], s)
	n[19] = 2
	return n
}

// refLines renders wanted refs as "REF ORIGIN NAME STATE VALUE" lines
// (VALUE the name hh was given, "-" for none).
func refLines(ws []wantRef, names map[git.Hash]string) []string {
	var out []string
	for _, w := range ws {
		v := "-"
		if !w.Value.IsZero() {
			v = names[w.Value]
		}
		st := string(w.State)
		if st == "" {
			st = "ok"
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %s", w.Ref, w.Origin, w.Name, st, v))
	}
	return out
}

func TestHgRefStates(t *testing.T) {
	t.Parallel()
	// Changesets a..g, converted to commits A..G (f is secret, g hidden
	// and not converted).
	conv := map[hg.Node]git.Hash{}
	names := map[git.Hash]string{}
	for _, c := range "abcde" {
		n, h := nn(string(c)), hh(strings.ToUpper(string(c)))
		conv[n] = h
		names[h] = strings.ToUpper(string(c))
	}
	state := &hg.SourceState{
		Heads: []hg.Head{
			{Node: nn("a"), Branch: "default"},
			{Node: nn("b"), Branch: "default"},
			{Node: nn("c"), Branch: "default", Topic: "feat", Phase: hg.Draft},
			{Node: nn("d"), Branch: "stable"},
			{Node: nn("e"), Branch: "default", Phase: hg.Draft},
			{Node: nn("f"), Branch: "default", Phase: hg.Secret},
		},
		Bookmarks: map[string]hg.Node{"main": nn("e"), "old": nn("a")},
		Phases:    map[hg.Node]hg.Phase{nn("c"): hg.Draft, nn("e"): hg.Draft, nn("f"): hg.Secret},
	}
	tags := map[string]git.Hash{"v1": hh("D")}
	tests := []struct {
		name     string
		policy   RefPolicy
		state    *hg.SourceState
		want     []string
		warnKind []string
	}{
		{"hg-git bookmarks", RefPolicy{Tags: true}, state, []string{
			"refs/heads/main bookmark main ok E",
			"refs/heads/old bookmark old ok A",
			"refs/tags/v1 tag v1 ok D",
		}, []string{"head-unexported", "head-unexported"}}, // b and c (d is tagged)
		{"hg-git public", RefPolicy{Phases: PhasesPublic}, state, []string{
			"refs/heads/main bookmark main waiting-draft -",
			"refs/heads/old bookmark old ok A",
		}, []string{"head-unexported", "head-unexported"}}, // b, d (c and e are drafts: waiting, not unexported)
		{"hg-git wild heads", RefPolicy{WildHeads: true, NamedBranches: true}, state, []string{
			"refs/heads/branches/default branch default ok E",
			"refs/heads/branches/stable branch stable ok D",
			"refs/heads/main bookmark main ok E",
			"refs/heads/old bookmark old ok A",
			"refs/heads/wild/" + nn("b").String() + " head " + nn("b").String() + " ok B",
			"refs/heads/wild/" + nn("c").String() + " head " + nn("c").String() + " ok C",
		}, nil},
		{"heptapod", RefPolicy{Layout: LayoutHeptapod, Tags: true}, state, []string{
			"refs/heads/branch/default branch default ok E",
			"refs/heads/branch/stable branch stable ok D",
			"refs/heads/main bookmark main ok E",
			"refs/heads/old bookmark old ok A",
			"refs/heads/topic/default/feat topic default/feat ok C",
			"refs/heads/wild/" + nn("b").String() + " head " + nn("b").String() + " ok B",
			"refs/tags/v1 tag v1 ok D",
		}, nil},
		{"tip without bookmarks", RefPolicy{TipBranch: "main"}, &hg.SourceState{Heads: state.Heads[:4]}, []string{
			"refs/heads/main head tip ok D",
		}, []string{"head-unexported", "head-unexported", "head-unexported"}},
		{"secret tip skipped", RefPolicy{}, &hg.SourceState{Heads: []hg.Head{{Node: nn("a")}, {Node: nn("f"), Phase: hg.Secret}}, Phases: state.Phases}, []string{
			"refs/heads/master head tip ok A",
		}, nil},
		{"secret bookmark", RefPolicy{}, &hg.SourceState{Bookmarks: map[string]hg.Node{"s": nn("f")}, Phases: state.Phases}, []string{
			"refs/heads/s bookmark s not-exported-secret -",
		}, nil},
		{"globs", RefPolicy{Tags: true, Refs: []string{"refs/tags/*"}}, state, []string{
			"refs/tags/v1 tag v1 ok D",
		}, []string{"head-unexported", "head-unexported", "head-unexported", "head-unexported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, warns := tt.policy.hgRefStates(hgSource{State: tt.state, Git: conv, Tags: tags, BranchHeads: map[string]git.Hash{"default": hh("E"), "stable": hh("D")}})
			if lines := refLines(got, names); !slices.Equal(lines, tt.want) {
				t.Errorf("refs:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(tt.want, "\n  "))
			}
			var kinds []string
			for _, w := range warns {
				kinds = append(kinds, w.Kind)
			}
			if !slices.Equal(kinds, tt.warnKind) {
				t.Errorf("warnings %v, want kinds %v", warns, tt.warnKind)
			}
		})
	}
}

// TestHgRefStatesHostile: names Git refuses or that collide are not
// exported, each with a warning, and 10,000 bookmarks are fine.
func TestHgRefStatesHostile(t *testing.T) {
	t.Parallel()
	conv := map[hg.Node]git.Hash{nn("a"): hh("A"), nn("b"): hh("B")}
	names := map[git.Hash]string{hh("A"): "A", hh("B"): "B"}
	st := &hg.SourceState{
		Heads: []hg.Head{{Node: nn("a"), Branch: "default"}, {Node: nn("b"), Branch: "default", Topic: "x y", Phase: hg.Draft}},
		Bookmarks: map[string]hg.Node{
			"a": nn("a"), "a/b": nn("b"), "HEAD": nn("a"), "-rf": nn("a"), "bad name": nn("a"), "x..y": nn("a"),
			"ok": nn("b"), "branch/default": nn("b"),
		},
		Phases: map[hg.Node]hg.Phase{nn("b"): hg.Draft},
	}
	got, warns := RefPolicy{Layout: LayoutHeptapod}.hgRefStates(hgSource{State: st, Git: conv})
	want := []string{
		"refs/heads/-rf bookmark -rf not-exported-invalid-name -",
		"refs/heads/HEAD bookmark HEAD not-exported-invalid-name -",
		"refs/heads/a bookmark a ok A",
		"refs/heads/a/b bookmark a/b not-exported-invalid-name -",
		"refs/heads/bad name bookmark bad name not-exported-invalid-name -",
		"refs/heads/branch/default branch default ok A",
		"refs/heads/branch/default bookmark branch/default not-exported-invalid-name -",
		"refs/heads/ok bookmark ok ok B",
		"refs/heads/topic/default/x y topic default/x y not-exported-invalid-name -",
		"refs/heads/x..y bookmark x..y not-exported-invalid-name -",
	}
	if lines := refLines(got, names); !slices.Equal(lines, want) {
		t.Errorf("refs:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	if len(warns) != 7 {
		t.Errorf("%d warnings, want 7: %v", len(warns), warns)
	}
	for _, w := range warns {
		if w.Kind != "ref-name" || w.Message == "" {
			t.Errorf("warning %+v", w)
		}
	}

	many := &hg.SourceState{Heads: st.Heads[:1], Bookmarks: map[string]hg.Node{}}
	for i := range 10000 {
		many.Bookmarks[fmt.Sprintf("bm/%05d", i)] = nn("a")
	}
	got, warns = RefPolicy{}.hgRefStates(hgSource{State: many, Git: conv})
	if len(got) != 10000 || len(warns) != 0 {
		t.Errorf("10000 bookmarks: %d refs, %d warnings", len(got), len(warns))
	}
}

func TestGitRefStates(t *testing.T) {
	t.Parallel()
	src := map[string]git.Hash{"refs/heads/main": hh("a"), "refs/tags/v1": hh("b"), "refs/pull/1/head": hh("c"), "refs/heads/wip/x": hh("d")}
	names := map[git.Hash]string{hh("a"): "a", hh("b"): "b", hh("c"): "c", hh("d"): "d"}
	got := refLines(RefPolicy{Tags: true, Refs: []string{"refs/heads/main", "refs/tags/*"}}.gitRefStates(src), names)
	if want := []string{"refs/heads/main branch main ok a", "refs/tags/v1 tag v1 ok b"}; !slices.Equal(got, want) {
		t.Errorf("gitRefStates = %v, want %v", got, want)
	}
	got = refLines(RefPolicy{}.gitRefStates(src), names)
	if want := []string{"refs/heads/main branch main ok a", "refs/heads/wip/x branch wip/x ok d"}; !slices.Equal(got, want) {
		t.Errorf("gitRefStates (no tags) = %v, want %v", got, want)
	}
}
