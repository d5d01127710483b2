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
	return out, nil
}
