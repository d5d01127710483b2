package convert

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
	refs, warns, d, err := describe(c.repo, c.m.get, res, c.branchOf, c.excl, c.settings.BranchBookmarkSuffix, c.prior, c.from, c.tagFnodes)
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
	todo := c.prior.changedRefs(c.gitDir, refs, d.bookmarks)
	failed, written := writeLooseRefs(c.gitDir, todo)
	res.RefsWritten += written
	for _, name := range failed {
		w := Warning{Rev: -1, Path: name, Kind: WarnRef, Message: fmt.Sprintf("ref %s could not be written (a ref conflicts with it)", name)}
		c.warnings = append(c.warnings, w)
	}
	d.refs, d.failed = refs, failed
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
	if _, _, _, err := describe(repo, commitsIn(byHg), res, nil, excl, s.BranchBookmarkSuffix, nil, 0, nil); err != nil {
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
// .hgtags of heads, bookmarks); describe also returns what the next run
// can reuse. from is scannedBefore(repo, excl, prior), computed once by
// the caller.
// tagFnodes holds .hgtags file revisions of heads, by changeset, that the
// caller read already (may be nil).
func describe(repo *hg.Repo, byHg commitOf, res *Result, known map[int]branchInfo, excl []bool, suffix string, prior *runState, from int, tagFnodes map[hg.Node]hg.Node) (map[string]git.Hash, []Warning, *derived, error) {
	res.Bookmarks = map[string]string{}
	res.Tags = map[string]string{}
	res.BranchHeads = map[string]string{}
	var warns []Warning
	bad := func(what, name, ref string) {
		warns = append(warns, Warning{Rev: -1, Path: name, Kind: WarnRef,
			Message: fmt.Sprintf("%s %q is not a valid Git ref name (%s); not exported", what, name, ref)})
	}
	bms, err := resolveBookmarks(repo, byHg, excl, suffix, prior, from, res)
	if err != nil {
		return nil, nil, nil, err
	}
	res.Bookmarks = make(map[string]string, len(bms.marks))
	refs := make(map[string]git.Hash, len(bms.marks)+16)
	bms.export(suffix, res, refs, bad)
	// For the next run (hg.Repo.KnowRevs): the revisions of tags; those of
	// bookmarks are in the bookmark state.
	var revs []nodeRev
	seen := make(map[hg.Node]bool, 16)
	remember := func(n hg.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		if rev, ok := repo.Rev(n); ok && rev >= 0 {
			revs = append(revs, nodeRev{n, rev})
		}
	}
	d, err := branchHeads(repo, byHg, res, known, excl, prior, from)
	if err != nil {
		return nil, nil, nil, err
	}
	d.bookmarks = bms
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
	if err != nil && prior != nil && len(prior.TagFnodes) > 0 {
		// A .hgtags revision of prior's the filelog lacks (a faulty
		// state): every head's is read from its manifest instead, or the
		// run would fail, and every next one from the same state.
		fnodes = &hg.TagFnodes{Old: maps.Clone(tagFnodes), New: map[hg.Node]hg.Node{}}
		if fnodes.Old == nil {
			fnodes.Old = map[hg.Node]hg.Node{}
		}
		tags, err = repo.TagsAt(heads, exNodes, fnodes)
	}
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
	slices.SortFunc(revs, func(a, b nodeRev) int { return cmp.Compare(a.Rev, b.Rev) })
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

// branchHeads records, for each named branch, its tipmost open head (or its
// tipmost head when all are closed, as `hg branches --closed` shows it),
// and returns the heads of every branch (the revisions with no child on
// their own branch) for the next run. It reads only the changesets after
// those prior covers, when prior's changelog is a prefix of repo's and the
// same revisions of it are excluded (from, as scannedBefore returns it).
func branchHeads(repo *hg.Repo, byHg commitOf, res *Result, known map[int]branchInfo, excl []bool, prior *runState, from int) (*derived, error) {
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
	known     []nodeRev           // revisions of the nodes tags name, and of secret roots
	bookmarks *bookmarkSet        // the bookmarks, resolved
	refs      map[string]git.Hash // the refs .hg/git holds as refs set them
	failed    []string            // the refs refs could not write
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
// returns the refs it could not write (a ref "a" blocks "a/b" and back)
// and how many it wrote.
func writeLooseRefs(gitDir string, refs map[string]git.Hash) (failed []string, written int) {
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		wrote, err := writeLooseRef(gitDir, name, refs[name])
		if err != nil {
			failed = append(failed, name)
		}
		if wrote {
			written++
		}
	}
	return failed, written
}

// writeLooseRef sets one ref, and reports whether it wrote its file (false
// when the file held h already).
func writeLooseRef(gitDir, name string, h git.Hash) (bool, error) {
	if strings.Contains(name, "//") {
		return false, fmt.Errorf("convert: ref %s: empty component", name)
	}
	path := filepath.Join(gitDir, filepath.FromSlash(name))
	want := []byte(h.String() + "\n")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, want) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("convert: ref %s: %w", name, err)
	}
	// Unsynced: every run rewrites a ref whose file differs, so one a crash
	// emptied is written again.
	if err := atomicfile.WriteFileUnsynced(path, ".tmp-ref-*", want); err != nil {
		return false, fmt.Errorf("convert: ref %s: %w", name, err)
	}
	return true, nil
}
