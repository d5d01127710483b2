package convert

import (
	"fmt"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// excludedOf is excludedRevs of exclude, or, when exclude is nil, of what
// the repository itself hides or keeps secret (see Options.Exclude).
func excludedOf(repo *hg.Repo, exclude map[hg.Node]bool) ([]bool, error) {
	if exclude == nil {
		// Not repo.State, which reads every head; without obsolescence
		// markers, only the revisions from the oldest secret root on.
		excl, err := repo.ExcludedRevs()
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		return excl, nil
	}
	return excludedRevs(repo, exclude)
}

// excludedRevs marks the revisions of repo never to export: those in
// exclude (hidden or secret at the source, see hg.SourceState.Excluded)
// and their descendants (a descendant of a hidden changeset is hidden, of
// a secret one secret). nil when nothing is excluded.
func excludedRevs(repo *hg.Repo, exclude map[hg.Node]bool) ([]bool, error) {
	if len(exclude) == 0 {
		return nil, nil
	}
	cl := repo.Changelog()
	n := cl.Len()
	out := make([]bool, n)
	any := false
	for rev := 0; rev < n; rev++ {
		node, err := cl.Node(rev)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		if exclude[node] {
			out[rev] = true
			any = true
			continue
		}
		p1, p2, err := cl.Parents(rev)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		if p1 >= 0 && out[p1] || p2 >= 0 && out[p2] {
			out[rev] = true
			any = true
		}
	}
	if !any {
		return nil, nil
	}
	return out, nil
}

// isExcluded reports whether rev is marked in excl (nil: none is).
func isExcluded(excl []bool, rev int) bool { return rev >= 0 && rev < len(excl) && excl[rev] }

// excludedNodes returns the nodes marked in excl, for hg.Repo.VisibleTags.
func excludedNodes(repo *hg.Repo, excl []bool) (map[hg.Node]bool, error) {
	if excl == nil {
		return nil, nil
	}
	out := map[hg.Node]bool{}
	for rev, x := range excl {
		if x {
			node, err := repo.Changelog().Node(rev)
			if err != nil {
				return nil, fmt.Errorf("convert: %w", err)
			}
			out[node] = true
		}
	}
	return out, nil
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
