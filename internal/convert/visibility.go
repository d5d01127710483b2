package convert

import "github.com/synchroniser/synchroniser/internal/hg"

// excludedRevs marks the revisions of repo never to export: those in
// exclude (hidden or secret at the source, see hg.SourceState.Excluded)
// and their descendants (a descendant of a hidden changeset is hidden, of
// a secret one secret). nil when nothing is excluded.
func excludedRevs(repo *hg.Repo, exclude map[hg.Node]bool) []bool {
	if len(exclude) == 0 {
		return nil
	}
	cl := repo.Changelog()
	n := cl.Len()
	out := make([]bool, n)
	any := false
	for rev := 0; rev < n; rev++ {
		if exclude[cl.Node(rev)] {
			out[rev] = true
			any = true
			continue
		}
		p1, p2 := cl.Parents(rev)
		if p1 >= 0 && out[p1] || p2 >= 0 && out[p2] {
			out[rev] = true
			any = true
		}
	}
	if !any {
		return nil
	}
	return out
}

// isExcluded reports whether rev is marked in excl (nil: none is).
func isExcluded(excl []bool, rev int) bool { return rev >= 0 && rev < len(excl) && excl[rev] }

// excludedNodes returns the nodes marked in excl, for hg.Repo.VisibleTags.
func excludedNodes(repo *hg.Repo, excl []bool) map[hg.Node]bool {
	if excl == nil {
		return nil
	}
	out := map[hg.Node]bool{}
	for rev, x := range excl {
		if x {
			out[repo.Changelog().Node(rev)] = true
		}
	}
	return out
}

// tipRev returns the highest revision not excluded, -1 when none.
func tipRev(repo *hg.Repo, excl []bool) int {
	for rev := repo.Len() - 1; rev >= 0; rev-- {
		if !isExcluded(excl, rev) {
			return rev
		}
	}
	return -1
}
