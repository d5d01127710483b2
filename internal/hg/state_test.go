package hg

import "testing"

func TestSuccessors(t *testing.T) {
	a, b, c, d := Node{1}, Node{2}, Node{3}, Node{4}
	s := &SourceState{Markers: []Marker{
		{Prec: a, Succs: []Node{b}},
		{Prec: b, Succs: []Node{c}},
		{Prec: c, Succs: []Node{a}}, // a cycle must not loop
		{Prec: d},                   // a prune
	}}
	succs, pruned := s.Successors(a)
	if len(succs) != 2 || succs[0] != b || succs[1] != c || pruned {
		t.Errorf("Successors(a) = %v, %v; want [b c], false", succs, pruned)
	}
	if succs, pruned := s.Successors(d); len(succs) != 0 || !pruned {
		t.Errorf("Successors(d) = %v, %v; want [], true", succs, pruned)
	}
	if p := s.PhaseOf(a); p != Public {
		t.Errorf("PhaseOf(a) = %v; want public", p)
	}
	if Draft.String() != "draft" || Phase(7).String() != "phase(7)" {
		t.Errorf("Phase.String: %q %q", Draft.String(), Phase(7).String())
	}
}
