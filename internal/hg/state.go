package hg

import (
	"sort"
	"strconv"
	"time"
)

// Phase is a changeset's phase, as Mercurial numbers them.
type Phase int

// Phases in Mercurial's order: a changeset only moves towards Public.
const (
	Public Phase = 0
	Draft  Phase = 1
	Secret Phase = 2
)

// Phases beyond Secret that Mercurial keeps for changesets it hides
// without markers (phases.py): they are never visible unless pinned.
const (
	Archived Phase = 32
	Internal Phase = 96
)

// String returns the phase as hg names it ("public", "draft", "secret").
func (p Phase) String() string {
	switch p {
	case Public:
		return "public"
	case Draft:
		return "draft"
	case Secret:
		return "secret"
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// Marker is one obsolescence marker: Prec was rewritten into Succs (an
// empty Succs is a prune).
type Marker struct {
	Prec    Node
	Succs   []Node
	Parents []Node // recorded parents of a pruned Prec; nil when not recorded
	Flags   uint16
	Date    time.Time
	Meta    map[string]string
}

// Head is a visible head of the source: a changeset with no visible child.
type Head struct {
	Node   Node
	Branch string // named branch ("default" when none)
	Topic  string // topic (topic extension), "" when none
	Phase  Phase
	Closed bool // the head closes its branch
}

// SourceState is what the source says, exactly, after a pull: the one value
// that drives conversion and refs, whichever transport produced it. The
// cache never invents state: no NAME@path divergent bookmarks, no stale
// bookmarks, no changesets the source hid or stripped.
type SourceState struct {
	Heads     []Head          // visible heads, in revision order
	Bookmarks map[string]Node // the source's bookmarks, exactly
	// Phases holds the phase of every visible changeset that is not
	// public; a node absent from it is public.
	Phases  map[Node]Phase
	Markers []Marker // the obsolescence markers the source knows
	// Hidden lists changesets present in the cache but not visible at the
	// source (obsoleted there); they are never exported.
	Hidden map[Node]bool
	// Stripped lists changesets the cache held but the source no longer
	// knows (stripped there, without markers); they were removed from the
	// cache and are never exported.
	Stripped   []Node
	Publishing bool // the source publishes what is pushed to it
}

// PhaseOf returns n's phase in s (Public when s does not list it).
func (s *SourceState) PhaseOf(n Node) Phase {
	if s == nil {
		return Public
	}
	if p, ok := s.Phases[n]; ok {
		return p
	}
	return Public
}

// Successors returns every node that markers in s rewrite n into,
// transitively (n itself excluded), and whether n was pruned on some path
// (a marker with no successor). A marker cycle does not loop.
func (s *SourceState) Successors(n Node) (succs []Node, pruned bool) {
	if s == nil {
		return nil, false
	}
	next := make(map[Node][]Marker)
	for _, m := range s.Markers {
		next[m.Prec] = append(next[m.Prec], m)
	}
	seen := map[Node]bool{n: true}
	queue := []Node{n}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, m := range next[cur] {
			if len(m.Succs) == 0 {
				pruned = true
			}
			for _, sn := range m.Succs {
				if !seen[sn] {
					seen[sn] = true
					succs = append(succs, sn)
					queue = append(queue, sn)
				}
			}
		}
	}
	return succs, pruned
}

// Excluded returns the changesets that must never be exported: the hidden
// ones and the secret ones (and those in Mercurial's internal phases).
func (s *SourceState) Excluded() map[Node]bool {
	if s == nil {
		return nil
	}
	out := make(map[Node]bool, len(s.Hidden))
	for n := range s.Hidden {
		out[n] = true
	}
	for n, p := range s.Phases {
		if p >= Secret {
			out[n] = true
		}
	}
	for _, n := range s.Stripped {
		out[n] = true
	}
	return out
}

// BookmarkNames returns the bookmarks of s, sorted.
func (s *SourceState) BookmarkNames() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.Bookmarks))
	for name := range s.Bookmarks {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
