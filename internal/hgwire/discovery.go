package hgwire

import (
	"context"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// maxSample is the most nodes one known query asks about.
const maxSample = 200

// discover returns the common heads of the cache and the source: the
// cache heads the source knows and, when some are unknown (stripped or
// hidden at the source), the known ancestors found by sampling the
// undecided part of the cache's history with known queries. Sending fewer
// common nodes than the truth only makes the source send more (which the
// writer skips); sending a node the source lacks is harmless too (the
// source ignores it), but a tight set keeps bundles small.
func discover(ctx context.Context, peer *Peer, cl *hg.RevlogAppender, heads []hg.Node, known []bool, stats *Stats) ([]hg.Node, error) {
	n := cl.Len()
	const (
		undecided = iota
		common
		missing
	)
	state := make([]uint8, n)
	var unknownHeads []int
	markCommon := func(r int) {
		// r and its ancestors are common.
		stack := []int{r}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if x < 0 || state[x] == common {
				continue
			}
			state[x] = common
			p1, p2 := cl.Parents(x)
			stack = append(stack, p1, p2)
		}
	}
	for i, h := range heads {
		r, _ := cl.Rev(h)
		if known[i] {
			markCommon(r)
		} else {
			unknownHeads = append(unknownHeads, r)
		}
	}
	if len(unknownHeads) > 0 {
		// Undecided: ancestors of unknown heads that are not common.
		inSet := make([]bool, n)
		for _, r := range unknownHeads {
			inSet[r] = true
		}
		for r := n - 1; r >= 0; r-- {
			if !inSet[r] {
				continue
			}
			if state[r] == common {
				inSet[r] = false
				continue
			}
			markParents(cl, r, inSet)
		}
		// Only revisions in inSet are ever queried; the rest are
		// ancestors of known heads (common) or outside every head's
		// history.
		for rounds := 0; ; rounds++ {
			var und []int
			for r := n - 1; r >= 0; r-- {
				if inSet[r] && state[r] == undecided {
					und = append(und, r)
				}
			}
			if len(und) == 0 {
				break
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sample := pickSample(und)
			nodes := make([]hg.Node, len(sample))
			for i, r := range sample {
				nodes[i] = cl.Node(r)
			}
			ans, err := peer.Known(ctx, nodes)
			if err != nil {
				return nil, err
			}
			stats.Roundtrips++
			for i, r := range sample {
				if ans[i] {
					markCommon(r)
				} else {
					state[r] = missing
				}
			}
			// Descendants of missing revisions are missing.
			for r := 0; r < n; r++ {
				if state[r] != undecided {
					continue
				}
				p1, p2 := cl.Parents(r)
				if (p1 >= 0 && state[p1] == missing) || (p2 >= 0 && state[p2] == missing) {
					state[r] = missing
				}
			}
		}
	}
	// The heads of the common set.
	return headsOf(cl, func(r int) bool { return state[r] == common }), nil
}

// pickSample chooses up to maxSample revisions of und (newest first):
// the newest ones and then exponentially spaced older ones, so that a long
// undecided history is bisected in a few rounds.
func pickSample(und []int) []int {
	if len(und) <= maxSample {
		return und
	}
	var out []int
	seen := map[int]bool{}
	for i := 0; i < 20 && i < len(und); i++ {
		out = append(out, und[i])
		seen[i] = true
	}
	for step := 1; len(out) < maxSample; step *= 2 {
		i := 20 + step
		if i >= len(und) {
			break
		}
		if !seen[i] {
			out = append(out, und[i])
			seen[i] = true
		}
	}
	// Always include the oldest: if it is known, most of the rest is too.
	if !seen[len(und)-1] && len(out) < maxSample {
		out = append(out, und[len(und)-1])
	}
	return out
}
