package mirror

import (
	"sort"
	"strings"
)

// planned is one ref update to push.
type planned struct {
	RefUpdate
	force bool // not a fast-forward: needs "+" (only when the policy forces)
}

// ancestry answers whether old is an ancestor of new in the local
// repository; known is false when old is not there at all.
type ancestry func(old, new string) (isAncestor, known bool, err error)

// plan compares the refs a sync wants at the destination with those it has
// and returns the updates to push, sorted by ref. A destination ref whose
// value is not an ancestor of the new one (or unknown locally), and any
// moved tag, is divergence: without force, plan returns a *DivergedError
// listing them all and nothing is to be pushed. Refs the destination has
// and the sync does not want are left alone.
func plan(want, have map[string]string, force bool, isAncestor ancestry) ([]planned, error) {
	var out []planned
	var diverged []RefUpdate
	for _, ref := range sortedKeys(want) {
		newV, oldV := want[ref], have[ref]
		if newV == oldV {
			continue
		}
		u := planned{RefUpdate: RefUpdate{Ref: ref, Old: oldV, New: newV}}
		if oldV != "" {
			ff := false
			if !strings.HasPrefix(ref, "refs/tags/") { // tags never move by fast-forward
				ok, known, err := isAncestor(oldV, newV)
				if err != nil {
					return nil, err
				}
				ff = ok && known
			}
			if !ff {
				if !force {
					diverged = append(diverged, u.RefUpdate)
					continue
				}
				u.force = true
			}
		}
		out = append(out, u)
	}
	if len(diverged) > 0 {
		return nil, &DivergedError{Refs: diverged}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}
