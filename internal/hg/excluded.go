package hg

// Excluded is State().Excluded() without reading the heads' changesets:
// the hidden changesets and those in the secret (or an internal) phase,
// computed from the phase roots, the obsstore and the changelog index
// alone, so that its cost does not grow with the number of heads.
func (r *Repo) Excluded() (map[Node]bool, error) {
	phases, _, hidden, err := r.visibility()
	if err != nil {
		return nil, err
	}
	out := map[Node]bool{}
	cl := r.changelog
	for rev := 0; rev < cl.Len(); rev++ {
		if hidden[rev] || phases[rev] >= Secret {
			out[cl.node(rev)] = true
		}
	}
	return out, cl.indexErr()
}

// ExcludedRevs marks, by revision, the changesets Excluded returns and
// their descendants (a descendant of a hidden changeset is hidden, of a
// secret one secret); nil when there are none. Without obsolescence
// markers only the phase roots are read, and the revisions from the
// oldest secret (or archived, internal) root on: nothing when every
// changeset is public or draft, whatever the history's length. With
// markers, every revision is visited (see HiddenRevs).
func (r *Repo) ExcludedRevs() ([]bool, error) {
	markers, err := r.Markers()
	if err != nil {
		return nil, err
	}
	cl := r.changelog
	n := cl.Len()
	if len(markers) == 0 {
		roots, err := r.PhaseRoots()
		if err != nil {
			return nil, err
		}
		var out []bool
		first := n
		for _, root := range roots {
			// Archived and internal changesets are hidden, which
			// excludes them too (a pinned one is still not public).
			if root.Phase < Secret {
				continue
			}
			if rev, ok := r.Rev(root.Node); ok && rev >= 0 {
				if out == nil {
					out = make([]bool, n)
				}
				out[rev] = true
				first = min(first, rev)
			}
		}
		if out == nil {
			return nil, nil
		}
		markDescendants(cl, out, first)
		return out, cl.indexErr()
	}
	ex, err := r.Excluded()
	if err != nil || len(ex) == 0 {
		return nil, err
	}
	out := make([]bool, n)
	for rev := 0; rev < n; rev++ {
		out[rev] = ex[cl.node(rev)]
	}
	markDescendants(cl, out, 0)
	return out, cl.indexErr()
}

// markDescendants marks in out every revision from first on that has a
// marked parent.
func markDescendants(cl *Revlog, out []bool, first int) {
	for rev := first + 1; rev < len(out); rev++ {
		if out[rev] {
			continue
		}
		p1, p2 := cl.parentRevs(rev)
		if p1 >= 0 && out[p1] || p2 >= 0 && out[p2] {
			out[rev] = true
		}
	}
}
