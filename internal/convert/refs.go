package convert

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/atomicfile"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// refs fills the refs of res and writes those hg-git writes into .hg/git:
// refs/heads/<bookmark> and refs/tags/<tag> (a tag's spaces become "_").
// Like hg-git, it never deletes a ref.
func (c *converter) refs(res *Result) error {
	hint := 16
	if c.prior != nil {
		hint += len(c.prior.Mapped) / 40
	}
	c.m.hits = make(map[hg.Node]git.Hash, hint) // what the next run looks up again
	refs, warns, d, err := describe(c.repo, c.m.get, res, c.branchOf, c.excl, c.settings.BranchBookmarkSuffix, c.prior, c.tagFnodes)
	if err != nil {
		return err
	}
	c.derived = d
	c.warnings = append(c.warnings, warns...)
	if c.excl != nil {
		// The next run finds the secret roots without the node map.
		roots, err := c.repo.PhaseRoots()
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		for _, root := range roots {
			if rev, ok := c.repo.Rev(root.Node); ok && rev >= 0 && root.Phase >= hg.Secret {
				d.known = append(d.known, nodeRev{root.Node, rev})
			}
		}
	}
	// Refs the last run left as they are now are not read again.
	todo := refs
	if known := c.prior.knownRefs(c.gitDir); known != nil {
		todo = map[string]git.Hash{}
		for name, h := range refs {
			if old, ok := known[name]; !ok || old != h {
				todo[name] = h
			}
		}
	}
	failed := writeLooseRefs(c.gitDir, todo)
	for _, name := range failed {
		w := Warning{Rev: -1, Path: name, Kind: WarnRef, Message: fmt.Sprintf("ref %s could not be written (a ref conflicts with it)", name)}
		c.warnings = append(c.warnings, w)
	}
	d.refs = refs
	for _, name := range failed {
		delete(d.refs, name)
	}
	res.Warnings = c.warnings
	return nil
}

// Describe opens the repository at hgRoot and returns its refs as Git
// commits according to byHg (a map as ReadMap returns it): bookmarks, tags,
// named-branch heads and tip, over the changesets it does not hide or keep
// secret. Converted and Warnings are left empty.
func Describe(hgRoot string, byHg map[hg.Node]git.Hash) (*Result, error) {
	return DescribeVisible(hgRoot, byHg, nil)
}

// DescribeVisible is Describe over the changesets not in exclude (nor
// descending from one); nil means those the repository hides or keeps
// secret, as for Options.Exclude.
func DescribeVisible(hgRoot string, byHg map[hg.Node]git.Hash, exclude map[hg.Node]bool) (*Result, error) {
	return DescribeVisibleWith(hgRoot, byHg, exclude, Settings{})
}

// DescribeVisibleWith is DescribeVisible for a conversion made with
// settings s (its branch bookmark suffix names the bookmarks' refs).
func DescribeVisibleWith(hgRoot string, byHg map[hg.Node]git.Hash, exclude map[hg.Node]bool, s Settings) (*Result, error) {
	repo, err := hg.Open(hgRoot)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	defer repo.Close()
	res := &Result{Total: repo.Len()}
	excl, err := excludedOf(repo, exclude)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := describe(repo, commitsIn(byHg), res, nil, excl, s.BranchBookmarkSuffix, nil, nil); err != nil {
		return nil, err
	}
	return res, nil
}

// ReadMap reads a git-mapfile (hg-git's format); a missing file is empty.
func ReadMap(path string) (map[hg.Node]git.Hash, error) {
	m, err := loadMap(path)
	if err != nil {
		return nil, err
	}
	return m.byHg, nil
}

// commitOf returns the git commit of a changeset, if mapped.
type commitOf func(hg.Node) (git.Hash, bool)

func commitsIn(byHg map[hg.Node]git.Hash) commitOf {
	return func(n hg.Node) (git.Hash, bool) {
		h, ok := byHg[n]
		return h, ok
	}
}

// describe fills the refs of res and returns the Git refs hg-git would set
// and the bookmarks and tags it leaves out.
// known holds the branch of changesets already read, by revision (may be nil).
// Revisions marked in excl are left out (excludedRevs; nil = none).
// A bookmark ending in suffix (when not "") names the branch without it.
// prior, when not nil, is what an earlier run found (branch heads, the
// .hgtags of heads); describe also returns what the next run can reuse.
// tagFnodes holds .hgtags file revisions of heads, by changeset, that the
// caller read already (may be nil).
func describe(repo *hg.Repo, byHg commitOf, res *Result, known map[int]branchInfo, excl []bool, suffix string, prior *runState, tagFnodes map[hg.Node]hg.Node) (map[string]git.Hash, []Warning, *derived, error) {
	res.Bookmarks = map[string]string{}
	res.Tags = map[string]string{}
	res.BranchHeads = map[string]string{}
	var warns []Warning
	bad := func(what, name, ref string) {
		warns = append(warns, Warning{Rev: -1, Path: name, Kind: WarnRef,
			Message: fmt.Sprintf("%s %q is not a valid Git ref name (%s); not exported", what, name, ref)})
	}
	bms, err := repo.Bookmarks()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("convert: %w", err)
	}
	res.Bookmarks = make(map[string]string, len(bms))
	refs := make(map[string]git.Hash, len(bms)+16)
	var revs []nodeRev // for the next run (hg.Repo.KnowRevs)
	seen := make(map[hg.Node]bool, len(bms)+16)
	remember := func(n hg.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		if rev, ok := repo.Rev(n); ok && rev >= 0 {
			revs = append(revs, nodeRev{n, rev})
		}
	}
	for _, n := range bms {
		remember(n)
	}
	for _, b := range exportedBookmarks(bms, suffix) {
		h, ok := byHg(b.node)
		if !ok {
			continue
		}
		if excl != nil {
			if rev, _ := repo.Rev(b.node); isExcluded(excl, rev) {
				continue // a bookmark on a secret changeset
			}
		}
		if !checkRefFormat("refs/heads/" + b.branch) {
			bad("bookmark", b.name, "refs/heads/"+b.branch)
			continue
		}
		res.Bookmarks[b.branch] = h.String()
		refs["refs/heads/"+b.branch] = h
	}
	d, err := branchHeads(repo, byHg, res, known, excl, prior)
	if err != nil {
		return nil, nil, nil, err
	}
	exNodes, err := excludedNodes(repo, excl)
	if err != nil {
		return nil, nil, nil, err
	}
	// The .hgtags of heads an earlier run saw are not read again.
	fnodes := &hg.TagFnodes{Old: map[hg.Node]hg.Node{}, New: map[hg.Node]hg.Node{}}
	if prior != nil {
		for _, f := range prior.TagFnodes {
			fnodes.Old[f.Changeset] = f.File
		}
	}
	for n, f := range tagFnodes {
		fnodes.Old[n] = f
	}
	heads := make([]hg.HeadRev, len(d.topo))
	for i, h := range d.topo {
		heads[i] = hg.HeadRev{Rev: h.Rev, Node: h.Node}
	}
	tags, err := repo.TagsAt(heads, exNodes, fnodes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("convert: %w", err)
	}
	for _, t := range tags {
		remember(t.Node)
		name := strings.ReplaceAll(t.Name, " ", "_")
		h, ok := byHg(t.Node)
		if !ok {
			continue
		}
		if !checkRefFormat("refs/tags/" + name) {
			bad("tag", name, "refs/tags/"+name)
			continue
		}
		res.Tags[name] = h.String()
		refs["refs/tags/"+name] = h
	}
	for n, f := range fnodes.New {
		d.tagFnodes = append(d.tagFnodes, tagFnode{n, f})
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].Rev < revs[j].Rev })
	d.known = revs
	if rev := tipRev(repo, excl); rev >= 0 {
		tip, err := repo.Changelog().Node(rev)
		if err != nil {
			return nil, nil, nil, err
		}
		if h, ok := byHg(tip); ok {
			res.Tip = h.String()
		}
	}
	return refs, warns, d, nil
}

// exportedBookmark is a bookmark and the branch hg-git exports it as.
type exportedBookmark struct {
	name, branch string
	node         hg.Node
}

// exportedBookmarks lists the bookmarks in the order hg-git sets their refs
// (get_exportable, then update_references): grouped by node, the nodes in
// the order their first bookmark comes by name. When two bookmarks name one
// branch (b and b<suffix>), the later one here wins, as in hg-git.
func exportedBookmarks(bms map[string]hg.Node, suffix string) []exportedBookmark {
	names := make([]string, 0, len(bms))
	for name := range bms {
		names = append(names, name)
	}
	sort.Strings(names)
	var order []hg.Node
	byNode := make(map[hg.Node][]exportedBookmark, len(bms))
	for _, name := range names {
		node := bms[name]
		branch := name
		if suffix != "" && strings.HasSuffix(name, suffix) {
			branch = name[:len(name)-len(suffix)]
		}
		if _, seen := byNode[node]; !seen {
			order = append(order, node)
		}
		byNode[node] = append(byNode[node], exportedBookmark{name: name, branch: branch, node: node})
	}
	out := make([]exportedBookmark, 0, len(names))
	for _, node := range order {
		out = append(out, byNode[node]...)
	}
	return out
}

// branchHeads records, for each named branch, its tipmost open head (or its
// tipmost head when all are closed, as `hg branches --closed` shows it),
// and returns the heads of every branch (the revisions with no child on
// their own branch) for the next run. It reads only the changesets after
// those prior covers, when prior's changelog is a prefix of repo's and the
// same revisions of it are excluded.
func branchHeads(repo *hg.Repo, byHg commitOf, res *Result, known map[int]branchInfo, excl []bool, prior *runState) (*derived, error) {
	n := repo.Len()
	cl := repo.Changelog()
	d := &derived{}
	for rev := range excl {
		if excl[rev] {
			d.excluded = append(d.excluded, rev)
		}
	}
	// Both lists stay sorted by revision: the new revisions come after
	// the prior ones. Entries that stop being heads are dropped at the end.
	var heads []headState
	var topo []nodeRev // heads whatever the branch (see runState.TopoHeads)
	from := scannedBefore(repo, excl, prior)
	if from > 0 {
		heads, topo = slices.Clone(prior.Heads), slices.Clone(prior.TopoHeads)
	}
	goneHeads, goneTopo := map[int]bool{}, map[int]bool{} // by index
	for rev := from; rev < n; rev++ {
		if isExcluded(excl, rev) {
			continue // never a head, and no parent's child
		}
		info, ok := known[rev]
		if !ok {
			cs, err := repo.Changeset(rev)
			if err != nil {
				return nil, fmt.Errorf("convert: %w", err)
			}
			info = branchInfo{branch: cs.Branch(), closed: cs.Closed()}
		}
		p1, p2, err := cl.Parents(rev)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		// A parent that is no head already has a child on its branch.
		for _, pr := range []int{p1, p2} {
			if pr < 0 {
				continue
			}
			if i, ok := slices.BinarySearchFunc(heads, pr, func(h headState, r int) int { return cmp.Compare(h.Rev, r) }); ok && heads[i].Branch == info.branch {
				goneHeads[i] = true
			}
			if i, ok := slices.BinarySearchFunc(topo, pr, func(h nodeRev, r int) int { return cmp.Compare(h.Rev, r) }); ok {
				goneTopo[i] = true
			}
		}
		node, err := cl.Node(rev)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		heads = append(heads, headState{Rev: rev, Branch: info.branch, Closed: info.closed})
		topo = append(topo, nodeRev{node, rev})
	}
	d.heads = dropIndexes(heads, goneHeads)
	d.topo = dropIndexes(topo, goneTopo)
	open := map[string]int{}
	any := map[string]int{}
	for _, h := range d.heads {
		any[h.Branch] = h.Rev
		if !h.Closed {
			open[h.Branch] = h.Rev
		}
	}
	for b, rev := range any {
		if r, ok := open[b]; ok {
			rev = r
		}
		node, err := cl.Node(rev)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		if h, ok := byHg(node); ok {
			res.BranchHeads[b] = h.String()
		}
	}
	return d, nil
}

// ascendingBelow reports whether the revisions of s are ascending, from 0
// and below n.
func ascendingBelow[T any](s []T, rev func(T) int, n int) bool {
	last := -1
	for _, x := range s {
		if r := rev(x); r <= last || r >= n {
			return false
		}
		last = rev(x)
	}
	return true
}

// dropIndexes returns s without the elements at the indexes in drop.
func dropIndexes[T any](s []T, drop map[int]bool) []T {
	if len(drop) == 0 {
		return s
	}
	out := make([]T, 0, len(s)-len(drop))
	for i, x := range s {
		if !drop[i] {
			out = append(out, x)
		}
	}
	return out
}

// scannedBefore returns the revisions an earlier run scanned (prior, may
// be nil) that this one need not scan again: all of them when the
// changelog still holds them and the same of them are excluded (excl, as
// excludedRevs), otherwise 0.
func scannedBefore(repo *hg.Repo, excl []bool, prior *runState) int {
	if prior == nil || prior.Scanned <= 0 || prior.Scanned > repo.Len() {
		return 0
	}
	if tip, err := repo.Changelog().Node(prior.Scanned - 1); err != nil || tip != prior.ScannedTip {
		return 0
	}
	// Heads are kept ascending, below Scanned (a damaged state is not).
	if !ascendingBelow(prior.Heads, func(h headState) int { return h.Rev }, prior.Scanned) ||
		!ascendingBelow(prior.TopoHeads, func(h nodeRev) int { return h.Rev }, prior.Scanned) {
		return 0
	}
	var excluded []int
	for rev := 0; rev < prior.Scanned && rev < len(excl); rev++ {
		if excl[rev] {
			excluded = append(excluded, rev)
		}
	}
	if !slices.Equal(excluded, prior.Excluded) {
		return 0
	}
	return prior.Scanned
}

// derived is what describe computed that the next run can reuse.
type derived struct {
	heads     []headState         // branch heads of the whole changelog
	topo      []nodeRev           // heads of the changesets not excluded, ascending
	excluded  []int               // the revisions excluded, ascending
	tagFnodes []tagFnode          // .hgtags revisions of the heads tags were read from
	known     []nodeRev           // revisions of the nodes bookmarks and tags name
	refs      map[string]git.Hash // the refs .hg/git holds as refs set them
}

// branchInfo is what branch heads need to know of a changeset.
type branchInfo struct {
	branch string
	closed bool
}

// checkRefFormat is dulwich's check_ref_format, which hg-git uses to decide
// which bookmarks and tags it exports.
func checkRefFormat(ref string) bool {
	if strings.Contains(ref, "/.") || strings.HasPrefix(ref, ".") {
		return false
	}
	if !strings.Contains(ref, "/") || strings.Contains(ref, "..") {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c < 0o40 || c == 0o177 || strings.IndexByte(" ~^:?*[", c) >= 0 {
			return false
		}
	}
	if last := ref[len(ref)-1]; last == '/' || last == '.' {
		return false
	}
	if strings.HasSuffix(ref, ".lock") || strings.Contains(ref, "@{") || strings.Contains(ref, `\`) {
		return false
	}
	return true
}

// writeLooseRefs sets each ref as a loose ref file (written to a temporary
// file, synced and renamed), skipping refs that already hold the value. It
// returns the refs it could not write (a ref "a" blocks "a/b" and back).
func writeLooseRefs(gitDir string, refs map[string]git.Hash) (failed []string) {
	names := make([]string, 0, len(refs))
	for name := range refs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := writeLooseRef(gitDir, name, refs[name]); err != nil {
			failed = append(failed, name)
		}
	}
	return failed
}

func writeLooseRef(gitDir, name string, h git.Hash) error {
	if strings.Contains(name, "//") {
		return fmt.Errorf("convert: ref %s: empty component", name)
	}
	path := filepath.Join(gitDir, filepath.FromSlash(name))
	want := []byte(h.String() + "\n")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, want) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("convert: ref %s: %w", name, err)
	}
	// Unsynced: every run rewrites a ref whose file differs, so one a crash
	// emptied is written again.
	if err := atomicfile.WriteFileUnsynced(path, ".tmp-ref-*", want); err != nil {
		return fmt.Errorf("convert: ref %s: %w", name, err)
	}
	return nil
}
