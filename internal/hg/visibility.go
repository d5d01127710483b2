package hg

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// PhaseRevs returns the phase of every changelog revision, computed from
// .hg/store/phaseroots ("<phase> <hex node>" lines; a missing file means
// every changeset is public): a revision's phase is the highest phase of
// the roots it descends from (itself included). Roots naming unknown
// changesets are ignored, as hg ignores them.
func (r *Repo) PhaseRevs() ([]Phase, error) {
	r.fullScans.Add(1)
	n := r.changelog.Len()
	phases := make([]Phase, n)
	roots, err := r.PhaseRoots()
	if err != nil {
		return nil, err
	}
	for _, root := range roots {
		if rev, ok := r.Rev(root.Node); ok && rev >= 0 && root.Phase > phases[rev] {
			phases[rev] = root.Phase
		}
	}
	for rev := 0; rev < n; rev++ {
		p1, p2 := r.changelog.parentRevs(rev)
		for _, pr := range []int{p1, p2} {
			if pr >= 0 && pr < rev && phases[pr] > phases[rev] {
				phases[rev] = phases[pr]
			}
		}
	}
	return phases, r.changelog.indexErr()
}

// PhaseRoot is a line of .hg/store/phaseroots: the changesets descending
// from Node (itself included) are at least in Phase.
type PhaseRoot struct {
	Phase Phase
	Node  Node
}

// PhaseRoots reads .hg/store/phaseroots ("<phase> <hex node>" lines; a
// missing file means every changeset is public). Roots may name unknown
// changesets, which hg ignores.
func (r *Repo) PhaseRoots() ([]PhaseRoot, error) {
	p := filepath.Join(r.storeDir, "phaseroots")
	b, err := readOptional(p)
	if err != nil {
		return nil, err
	}
	var roots []PhaseRoot
	for line := range lines(b) {
		ph, hexNode, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			return nil, fmt.Errorf("hg: %s: malformed line %q", p, limitio.Clip(string(line), 80))
		}
		v, err := strconv.Atoi(string(ph))
		if err != nil || v < 0 || v > int(Internal) {
			return nil, fmt.Errorf("hg: %s: bad phase in line %q", p, limitio.Clip(string(line), 80))
		}
		var node Node
		if !decodeHex(node[:], hexNode) {
			return nil, fmt.Errorf("hg: %s: bad node in line %q", p, limitio.Clip(string(line), 80))
		}
		roots = append(roots, PhaseRoot{Phase(v), node})
	}
	return roots, nil
}

// visibility reads the phase of every revision, the obsolescence markers
// and which revisions are hidden.
func (r *Repo) visibility() (phases []Phase, markers []Marker, hidden []bool, err error) {
	if phases, err = r.PhaseRevs(); err != nil {
		return nil, nil, nil, err
	}
	if markers, err = r.Markers(); err != nil {
		return nil, nil, nil, err
	}
	if hidden, err = r.HiddenRevs(phases, markers); err != nil {
		return nil, nil, nil, err
	}
	return phases, markers, hidden, nil
}

// HiddenRevs computes which revisions Mercurial hides (repoview.py's
// computehidden): the obsolete ones (not public, the predecessor of some
// marker) and those in the archived or internal phases, except those
// pinned (bookmarked, a parent of the working directory, or locally
// tagged) and the ancestors of any visible non-public revision.
func (r *Repo) HiddenRevs(phases []Phase, markers []Marker) ([]bool, error) {
	r.fullScans.Add(1)
	n := r.changelog.Len()
	if len(phases) != n {
		return nil, fmt.Errorf("hg: hidden: %d phases for %d revisions", len(phases), n)
	}
	hidden := make([]bool, n)
	if len(markers) == 0 {
		any := false
		for _, p := range phases {
			any = any || p >= Archived
		}
		if !any {
			return hidden, nil
		}
	}
	obsolete := make(map[Node]bool, len(markers))
	for _, m := range markers {
		obsolete[m.Prec] = true
	}
	found := false
	for rev := 0; rev < n; rev++ {
		if phases[rev] >= Archived || phases[rev] != Public && obsolete[r.changelog.node(rev)] {
			hidden[rev] = true
			found = true
		}
	}
	if !found {
		return hidden, nil
	}
	pinned, err := r.pinnedRevs()
	if err != nil {
		return nil, err
	}
	for _, rev := range pinned {
		hidden[rev] = false
	}
	// Reveal the ancestors of visible mutable revisions; descending order
	// reaches every revealed revision before its parents.
	for rev := n - 1; rev >= 0; rev-- {
		if hidden[rev] || phases[rev] == Public {
			continue
		}
		p1, p2 := r.changelog.parentRevs(rev)
		for _, pr := range []int{p1, p2} {
			if pr >= 0 && hidden[pr] {
				hidden[pr] = false
			}
		}
	}
	return hidden, nil
}

// pinnedRevs returns the revisions that are never hidden: the working
// directory's parents, bookmarked and locally tagged revisions.
func (r *Repo) pinnedRevs() ([]int, error) {
	var nodes []Node
	p1, p2, err := r.dirstateParents()
	if err != nil {
		return nil, err
	}
	nodes = append(nodes, p1, p2)
	bms, err := r.Bookmarks()
	if err != nil {
		return nil, err
	}
	for _, n := range bms {
		nodes = append(nodes, n)
	}
	localtags, err := readOptional(filepath.Join(r.hgDir, "localtags"))
	if err != nil {
		return nil, err
	}
	for _, n := range ParseBookmarks(localtags) { // same "hex name" lines
		nodes = append(nodes, n)
	}
	var revs []int
	for _, n := range nodes {
		if n == NullNode {
			continue
		}
		if rev, ok := r.Rev(n); ok {
			revs = append(revs, rev)
		}
	}
	return revs, nil
}

// dirstateParents reads the working directory's parents from .hg/dirstate
// (v1: two nodes first; v2: a docket "dirstate-v2\n" then two 32-byte
// fields); no dirstate means none.
func (r *Repo) dirstateParents() (p1, p2 Node, err error) {
	b, err := readOptional(filepath.Join(r.hgDir, "dirstate"))
	if err != nil {
		return p1, p2, err
	}
	const v2 = "dirstate-v2\n"
	if r.requires["dirstate-v2"] && bytes.HasPrefix(b, []byte(v2)) {
		b = b[len(v2):]
		if len(b) >= 64 {
			copy(p1[:], b[0:20])
			copy(p2[:], b[32:52])
		}
		return p1, p2, nil
	}
	if len(b) >= 40 {
		copy(p1[:], b[0:20])
		copy(p2[:], b[20:40])
	}
	return p1, p2, nil
}

// ReadState reads, natively, the state of the repository at root as
// Mercurial shows it: visible heads (branch, topic, phase), bookmarks, the
// phases of non-public visible changesets, the obsolescence markers and
// the hidden changesets. Publishing and Stripped are left for the caller,
// which knows the source.
func ReadState(root string) (*SourceState, error) {
	r, err := Open(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.State()
}

// State is ReadState on an open repository.
func (r *Repo) State() (*SourceState, error) {
	phases, markers, hidden, err := r.visibility()
	if err != nil {
		return nil, err
	}
	bms, err := r.Bookmarks()
	if err != nil {
		return nil, err
	}
	st := &SourceState{
		Bookmarks: bms,
		Phases:    map[Node]Phase{},
		Markers:   markers,
		Hidden:    map[Node]bool{},
	}
	r.fullScans.Add(1)
	cl := r.changelog
	n := cl.Len()
	hasChild := make([]bool, n)
	for rev := 0; rev < n; rev++ {
		node := cl.node(rev)
		if hidden[rev] {
			st.Hidden[node] = true
			continue
		}
		if phases[rev] != Public {
			st.Phases[node] = phases[rev]
		}
		p1, p2 := cl.parentRevs(rev)
		for _, pr := range []int{p1, p2} {
			if pr >= 0 {
				hasChild[pr] = true
			}
		}
	}
	for rev := 0; rev < n; rev++ {
		if hidden[rev] || hasChild[rev] {
			continue
		}
		cs, err := r.Changeset(rev)
		if err != nil {
			return nil, err
		}
		h := Head{Node: cs.Node, Branch: cs.Branch(), Phase: phases[rev], Closed: cs.Closed()}
		if phases[rev] != Public {
			// The topic extension ignores the topic of public changesets.
			h.Topic = cs.Extra["topic"]
		}
		st.Heads = append(st.Heads, h)
	}
	return st, nil
}

// VisibleTags is Tags over the changesets not in excluded (hidden or
// secret ones, see SourceState.Excluded): .hgtags is read from the heads
// of the remaining changesets only, and tags on excluded changesets are
// dropped, as hg's filtered repository does.
func (r *Repo) VisibleTags(excluded map[Node]bool) ([]Tag, error) {
	return r.VisibleTagsCached(excluded, nil)
}

// VisibleTagsCached is VisibleTags looking the .hgtags of heads up in cache
// first (see TagFnodes; nil reads every head's).
func (r *Repo) VisibleTagsCached(excluded map[Node]bool, cache *TagFnodes) ([]Tag, error) {
	if len(excluded) == 0 {
		return r.tagsOf(r.Heads(), nil, cache)
	}
	r.fullScans.Add(1)
	cl := r.changelog
	n := cl.Len()
	hasChild := make([]bool, n)
	for rev := 0; rev < n; rev++ {
		if excluded[cl.node(rev)] {
			continue
		}
		p1, p2 := cl.parentRevs(rev)
		for _, pr := range []int{p1, p2} {
			if pr >= 0 {
				hasChild[pr] = true
			}
		}
	}
	var heads []int
	for rev := 0; rev < n; rev++ {
		if !hasChild[rev] && !excluded[cl.node(rev)] {
			heads = append(heads, rev)
		}
	}
	return r.tagsOf(heads, excluded, cache)
}

// parentRevs is Parents for a revision known to be in [0, Len()).
func (rl *Revlog) parentRevs(rev int) (p1, p2 int) {
	e := rl.ent(rev)
	return int(e.p1), int(e.p2)
}
