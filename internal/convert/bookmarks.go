package convert

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// bookmarkState is one bookmark as a run resolved it (runState.Bookmarks).
type bookmarkState struct {
	Name   string
	Node   hg.Node
	Rev    int      // -1: a changeset the changelog lacks (hg ignores the bookmark)
	Commit git.Hash // zero: not exported (its changeset is unmapped or excluded)
	Valid  bool     // its ref, refs/heads/<branch>, passes checkRefFormat
}

// bookmarkSet is the bookmarks describe found, sorted by name, and the
// file they were read from.
type bookmarkSet struct {
	sum       [32]byte // SHA-256 of the bookmarks file
	marks     []bookmarkState
	unchanged bool // marks are those of the state (same file, none looked up again)
}

// resolveBookmarks returns the bookmarks of repo with their revisions and
// commits. From prior (may be nil; from is scannedBefore's answer for it),
// it keeps what cannot have changed: the whole set when the bookmarks file
// is the one prior read (the file is not parsed), otherwise the bookmarks
// still on the node they named. Only the others are looked up.
func resolveBookmarks(repo *hg.Repo, byHg commitOf, excl []bool, suffix string, prior *runState, from int, res *Result) (*bookmarkSet, error) {
	raw, err := repo.BookmarksFile()
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	set := &bookmarkSet{sum: sha256.Sum256(raw)}
	// Revisions [0, from) are those prior was made with, excluded alike
	// and mapped alike: its bookmarks on them resolve as they did.
	if prior == nil || !prior.BookmarksRead || prior.BookmarksSuffix != suffix || !sortedUnique(prior.Bookmarks) {
		from = 0
	}
	var old map[string]int // prior's bookmarks by name (index in prior.Bookmarks)
	if from > 0 && set.sum == prior.BookmarksSum {
		set.marks = prior.Bookmarks
	} else {
		marks := hg.ParseBookmarks(raw)
		res.BookmarksParsed += len(marks)
		if from > 0 {
			old = make(map[string]int, len(prior.Bookmarks))
			for i, b := range prior.Bookmarks {
				old[b.Name] = i
			}
		}
		set.marks = make([]bookmarkState, 0, len(marks))
		for name, node := range marks {
			if node == hg.NullNode {
				continue // never a changeset (hg drops it)
			}
			set.marks = append(set.marks, bookmarkState{Name: name, Node: node, Rev: -2})
		}
		sort.Slice(set.marks, func(i, j int) bool { return set.marks[i].Name < set.marks[j].Name })
	}
	var priorRevs map[hg.Node]int // prior's bookmarks' revisions by node, made when needed
	var unknown []int             // indexes of the bookmarks whose changeset is still to find
	copied := old != nil
	for i := range set.marks {
		b := &set.marks[i]
		if old != nil {
			if j, ok := old[b.Name]; ok && prior.Bookmarks[j].Node == b.Node {
				*b = prior.Bookmarks[j]
			}
		}
		if b.Rev >= 0 && b.Rev < from {
			continue
		}
		if !copied {
			set.marks = append([]bookmarkState(nil), set.marks...)
			b, copied = &set.marks[i], true
		}
		res.BookmarkLookups++
		if b.Rev == -1 && from > 0 {
			// Unknown to prior's changelog: only a new revision can hold it.
			unknown = append(unknown, i)
			continue
		}
		rev := -1
		if from > 0 {
			if priorRevs == nil {
				priorRevs = make(map[hg.Node]int, len(prior.Bookmarks))
				for _, p := range prior.Bookmarks {
					if p.Rev >= 0 && p.Rev < from {
						priorRevs[p.Node] = p.Rev
					}
				}
			}
			if r, ok := priorRevs[b.Node]; ok {
				rev = r
			}
		}
		if rev < 0 {
			if r, ok := repo.Rev(b.Node); ok && r >= 0 {
				rev = r
			}
		}
		set.resolve(i, rev, byHg, excl, suffix)
	}
	set.unchanged = from > 0 && !copied
	if len(unknown) > 0 {
		want := make(map[hg.Node][]int, len(unknown))
		for _, i := range unknown {
			want[set.marks[i].Node] = append(want[set.marks[i].Node], i)
			set.marks[i].Rev = -1
		}
		cl := repo.Changelog()
		for rev := from; rev < repo.Len(); rev++ {
			node, err := cl.Node(rev)
			if err != nil {
				return nil, fmt.Errorf("convert: %w", err)
			}
			for _, i := range want[node] {
				set.resolve(i, rev, byHg, excl, suffix)
			}
		}
	}
	return set, nil
}

// resolve sets the revision (-1: none) of bookmark i, and from it its
// commit and whether its ref name is valid.
func (s *bookmarkSet) resolve(i, rev int, byHg commitOf, excl []bool, suffix string) {
	b := &s.marks[i]
	b.Rev, b.Commit = rev, git.Hash{}
	b.Valid = checkRefFormat("refs/heads/" + bookmarkBranch(b.Name, suffix))
	if rev < 0 || isExcluded(excl, rev) {
		return // unknown, or a bookmark on a secret changeset
	}
	if h, ok := byHg(b.Node); ok {
		b.Commit = h
	}
}

// bookmarkBranch is the branch hg-git exports bookmark name as: without
// suffix, when it ends in it.
func bookmarkBranch(name, suffix string) string {
	if suffix != "" && strings.HasSuffix(name, suffix) {
		return name[:len(name)-len(suffix)]
	}
	return name
}

// export sets the refs of the bookmarks of s in refs and res (may be nil),
// in the order hg-git sets them (exportOrder), and reports the invalid
// names.
func (s *bookmarkSet) export(suffix string, res *Result, refs map[string]git.Hash, bad func(what, name, ref string)) {
	order := s.marks
	// Only two bookmarks naming one branch (b and b<suffix>) or the order
	// of the warnings depend on hg-git's order.
	needOrder := suffix != ""
	for i := 0; !needOrder && i < len(s.marks); i++ {
		needOrder = !s.marks[i].Commit.IsZero() && !s.marks[i].Valid
	}
	if needOrder {
		order = exportOrder(s.marks)
	}
	for i := range order {
		b := &order[i]
		if b.Commit.IsZero() {
			continue
		}
		branch := bookmarkBranch(b.Name, suffix)
		if !b.Valid {
			bad("bookmark", b.Name, "refs/heads/"+branch)
			continue
		}
		if res != nil {
			res.Bookmarks[branch] = b.Commit.String()
		}
		refs[headsPrefix+branch] = b.Commit
	}
}

// exportOrder returns marks (sorted by name) in the order hg-git sets
// their refs (get_exportable, then update_references): grouped by node,
// the nodes in the order their first bookmark comes by name. When two
// bookmarks name one branch (b and b<suffix>), the later one here wins, as
// in hg-git.
func exportOrder(marks []bookmarkState) []bookmarkState {
	var order []hg.Node
	byNode := make(map[hg.Node][]bookmarkState, len(marks))
	for _, b := range marks {
		if _, seen := byNode[b.Node]; !seen {
			order = append(order, b.Node)
		}
		byNode[b.Node] = append(byNode[b.Node], b)
	}
	out := make([]bookmarkState, 0, len(marks))
	for _, n := range order {
		out = append(out, byNode[n]...)
	}
	return out
}

// sortedUnique reports whether marks are sorted by name, each name once
// (as a state is written; a damaged one is not used).
func sortedUnique(marks []bookmarkState) bool {
	for i := 1; i < len(marks); i++ {
		if marks[i-1].Name >= marks[i].Name {
			return false
		}
	}
	return true
}
