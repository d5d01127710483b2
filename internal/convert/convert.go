// Package convert turns Mercurial changesets into Git commits identical to
// those hg-git 1.0.x writes, keeping hg-git's git repository (.hg/git) and
// map (.hg/git-mapfile) so that either can continue the other's work.
package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// Options tune one conversion.
type Options struct {
	Progress func(done, total int) // called as changesets are converted; may be nil
	Logger   *slog.Logger          // nil discards
}

// Result describes a repository after a conversion.
type Result struct {
	Converted   int               // changesets converted by this run
	Total       int               // changesets in the repository
	Bookmarks   map[string]string // bookmark → git sha (hex)
	Tags        map[string]string // global tag (spaces as "_", as hg-git names it) → git sha
	BranchHeads map[string]string // named branch → git sha of its tipmost open head
	Tip         string            // git sha of tip ("" for an empty repository)
	Warnings    []Warning         // entries that could not be mapped (never silent)
}

// Warning is one entry that could not be carried into Git.
type Warning struct {
	Rev     int
	Node    string
	Path    string
	Kind    string // WarnHgsubSyntax, WarnHgsubstateSyntax, WarnSubrepoRevision, WarnSubrepoKind, WarnRef
	Message string
}

// WarnRef is the kind of a bookmark or tag whose name Git refuses.
const WarnRef = "ref-name"

// Native is the native Go converter.
type Native struct {
	// CheckpointEvery commits the pack and the map after this many
	// changesets (0 = 2000), bounding the work an interruption loses.
	CheckpointEvery int
}

// GitDir returns where the git repository of hgRoot is kept (as hg-git).
func GitDir(hgRoot string) string { return filepath.Join(hgRoot, ".hg", "git") }

// MapPath returns where the map of hgRoot is kept (as hg-git).
func MapPath(hgRoot string) string { return filepath.Join(hgRoot, ".hg", MapFile) }

// Convert converts every changeset of the repository at hgRoot that is not
// in the map yet, in revision order, then sets the refs hg-git sets in
// .hg/git (refs/heads/<bookmark>, refs/tags/<tag>) and returns them.
//
// Objects go to one pack per checkpoint; a checkpoint writes the pack
// durably before the map names its commits, so an interrupted run (a
// cancelled ctx or a crash) leaves a map the next run continues from.
func (n *Native) Convert(ctx context.Context, hgRoot string, opts Options) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	repo, err := hg.Open(hgRoot)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	defer repo.Close()

	gitDir := GitDir(hgRoot)
	if _, err := os.Stat(filepath.Join(gitDir, "HEAD")); err != nil {
		if err := git.Init(ctx, gitDir, true); err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
	}
	m, err := loadMap(MapPath(hgRoot))
	if err != nil {
		return nil, err
	}
	every := n.CheckpointEvery
	if every <= 0 {
		every = 2000
	}
	c := &converter{
		repo:   repo,
		gitDir: gitDir,
		m:      m,
		log:    log,
		blobs:  make(map[hg.Node]git.Hash),
		trees:  newTreeState(),
		links:  map[string]git.Hash{},
	}
	res := &Result{Total: repo.Len()}
	convErr := c.run(ctx, every, opts.Progress, res)
	res.Warnings = c.warnings
	c.logWarnings()
	if convErr != nil {
		return res, convErr
	}
	if err := c.refs(res); err != nil {
		return res, err
	}
	return res, nil
}

// converter holds the state of one run.
type converter struct {
	repo   *hg.Repo
	gitDir string
	m      *gitMap
	log    *slog.Logger
	pw     *git.PackWriter

	// The tree of the changeset converted last (hg-git's exporter state):
	// its manifest, directory tree and gitlinks.
	curRev      int
	haveCur     bool
	curManifest []hg.ManifestEntry
	trees       *treeState
	rootHash    git.Hash
	links       map[string]git.Hash
	haveState   bool

	blobs    map[hg.Node]git.Hash // filenode → blob, for blobs already stored
	warnings []Warning
}

// maxBlobCache bounds the filenode → blob cache; past it the cache starts
// afresh (a miss only costs reading the file again).
const maxBlobCache = 1 << 20

func (c *converter) run(ctx context.Context, every int, progress func(int, int), res *Result) error {
	total := c.repo.Len()
	var todo []int
	for rev := 0; rev < total; rev++ {
		node := c.repo.Changelog().Node(rev)
		if _, ok := c.m.byHg[node]; !ok {
			todo = append(todo, rev)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := c.openPack(); err != nil {
		return err
	}
	defer func() {
		if c.pw != nil {
			c.pw.Abort()
		}
	}()
	sinceCheckpoint := 0
	for i, rev := range todo {
		if err := ctx.Err(); err != nil {
			if cerr := c.checkpoint(false); cerr != nil {
				return errors.Join(err, cerr)
			}
			return fmt.Errorf("convert: interrupted after %d of %d changesets: %w", res.Converted, len(todo), err)
		}
		cs, err := c.repo.Changeset(rev)
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		if cs.Extra["hg-git"] == "octopus" {
			// hg-git folds these into the octopus-done changeset's parents.
			continue
		}
		h, err := c.convertOne(cs)
		if err != nil {
			return fmt.Errorf("convert: changeset %d (%s): %w", rev, cs.Node, err)
		}
		c.m.set(cs.Node, h)
		res.Converted++
		sinceCheckpoint++
		if progress != nil {
			progress(i+1, len(todo))
		}
		if sinceCheckpoint >= every && i+1 < len(todo) {
			if err := c.checkpoint(true); err != nil {
				return err
			}
			sinceCheckpoint = 0
		}
	}
	return c.checkpoint(false)
}

func (c *converter) openPack() error {
	pw, err := git.NewPackWriter(c.gitDir)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	c.pw = pw
	return nil
}

// checkpoint makes everything converted so far durable: the pack first,
// then the map that refers to it.
func (c *converter) checkpoint(reopen bool) error {
	if c.pw != nil {
		err := c.pw.Commit()
		c.pw = nil
		if err != nil {
			return fmt.Errorf("convert: write pack: %w", err)
		}
	}
	if err := c.m.save(); err != nil {
		return err
	}
	if reopen {
		return c.openPack()
	}
	return nil
}

// add stores an object in the pack, as a delta against base (an earlier
// version of it, or the zero hash) when the pack writer finds that worth it.
func (c *converter) add(kind string, data []byte, base git.Hash) (git.Hash, error) {
	if base.IsZero() {
		return c.pw.Add(kind, data)
	}
	return c.pw.AddDelta(kind, data, base)
}

// convertOne writes the tree and commit of cs and returns the commit.
func (c *converter) convertOne(cs *hg.Changeset) (git.Hash, error) {
	if !c.haveState {
		if err := c.loadBase(cs); err != nil {
			return git.Hash{}, err
		}
	}
	mf, err := c.repo.Manifest(cs.Manifest)
	if err != nil {
		return git.Hash{}, err
	}
	if err := c.update(cs, mf, c.add); err != nil {
		return git.Hash{}, err
	}
	tree := c.rootHash
	renames, err := c.renames(cs, mf)
	if err != nil {
		return git.Hash{}, err
	}
	var parents []git.Hash
	for _, p := range c.gitParents(cs) {
		if h, ok := c.m.byHg[p]; ok {
			parents = append(parents, h)
		}
	}
	commit := gitCommit(&changeset{
		User: cs.User, Time: cs.Time, TZ: int64(cs.TZ), Extra: cs.Extra, Description: cs.Description,
	}, parents, tree, renames)
	return c.pw.Add("commit", git.EncodeCommit(commit))
}

// gitParents lists the Mercurial parents of cs as hg-git exports them: an
// "octopus-done" changeset (from a Git octopus merge) gathers the first
// parents of its chain of "octopus" changesets.
func (c *converter) gitParents(cs *hg.Changeset) []hg.Node {
	if cs.Extra["hg-git"] == "octopus-done" {
		var parents []hg.Node
		part := cs
		for part != nil && (part.Extra["hg-git"] == "octopus" || part.Extra["hg-git"] == "octopus-done") {
			parents = append(parents, part.P1)
			p2 := part.P2
			rev, ok := c.repo.Rev(p2)
			if !ok || p2 == hg.NullNode {
				parents = append(parents, p2)
				return parents
			}
			next, err := c.repo.Changeset(rev)
			if err != nil {
				break
			}
			if next.Extra["hg-git"] != "octopus" && next.Extra["hg-git"] != "octopus-done" {
				parents = append(parents, p2)
				return parents
			}
			part = next
		}
		return parents
	}
	if cs.P2 == hg.NullNode {
		return []hg.Node{cs.P1}
	}
	return []hg.Node{cs.P1, cs.P2}
}

// loadBase sets the exporter state to cs's first parent when that was
// converted by an earlier run (its objects are in .hg/git already, so
// nothing is written), or to the empty tree.
func (c *converter) loadBase(cs *hg.Changeset) error {
	c.haveState = true
	if cs.P1 == hg.NullNode {
		return nil
	}
	if _, ok := c.m.byHg[cs.P1]; !ok {
		return nil
	}
	prev, err := c.repo.Changeset(mustRev(c.repo, cs.P1))
	if err != nil {
		return err
	}
	mf, err := c.repo.Manifest(prev.Manifest)
	if err != nil {
		return err
	}
	// Objects of the base exist already: hash them without writing.
	saved := c.warnings
	err = c.update(prev, mf, func(kind string, data []byte, _ git.Hash) (git.Hash, error) {
		return git.HashObject(kind, data), nil
	})
	c.warnings = saved
	return err
}

func mustRev(r *hg.Repo, n hg.Node) int {
	rev, _ := r.Rev(n)
	return rev
}

// update moves the exporter state from the current manifest to mf (the
// manifest of cs): removed paths go, added and modified files get their
// blobs, and gitlinks follow .hgsub/.hgsubstate when either changed.
func (c *converter) update(cs *hg.Changeset, mf []hg.ManifestEntry, add objectSink) error {
	old := c.curManifest
	var changed, removed []hg.ManifestEntry
	var bases []hg.Node // per changed entry: the file revision it replaces, if any
	subChanged := false
	i, j := 0, 0
	for i < len(old) || j < len(mf) {
		switch {
		case j >= len(mf) || (i < len(old) && old[i].Path < mf[j].Path):
			removed = append(removed, old[i])
			i++
		case i >= len(old) || mf[j].Path < old[i].Path:
			changed = append(changed, mf[j])
			bases = append(bases, hg.NullNode)
			j++
		default:
			if old[i].Node != mf[j].Node || old[i].Flags != mf[j].Flags {
				changed = append(changed, mf[j])
				bases = append(bases, old[i].Node)
			}
			i++
			j++
		}
	}
	isSub := func(p string) bool { return p == ".hgsub" || p == ".hgsubstate" }
	for _, e := range removed {
		if isSub(e.Path) {
			subChanged = true
		}
	}
	for _, e := range changed {
		if isSub(e.Path) {
			subChanged = true
		}
	}

	var subAdded map[string]git.Hash
	var subRemoved []string
	if subChanged {
		newLinks, err := c.gitlinks(cs, mf)
		if err != nil {
			return err
		}
		for p := range c.links {
			if _, ok := newLinks[p]; !ok {
				subRemoved = append(subRemoved, p)
			}
		}
		sort.Strings(subRemoved)
		subAdded = newLinks
		c.links = newLinks
	}
	dirty := map[string]bool{}
	for _, p := range subRemoved {
		c.trees.removePath(p, dirty)
	}
	for _, e := range removed {
		if isSub(e.Path) || unsafePath(e.Path) {
			continue
		}
		c.trees.removePath(e.Path, dirty)
	}
	addPaths := make([]string, 0, len(subAdded))
	for p := range subAdded {
		addPaths = append(addPaths, p)
	}
	sort.Strings(addPaths)
	for _, p := range addPaths {
		c.trees.add(p, git.ModeGitlink, subAdded[p], dirty)
	}
	if err := c.blobsFor(changed, bases, add); err != nil {
		return err
	}
	for _, e := range changed {
		if isSub(e.Path) || unsafePath(e.Path) {
			continue
		}
		c.trees.add(e.Path, fileMode(e.Flags), c.blobs[e.Node], dirty)
	}
	h, err := c.trees.populate(dirty, add)
	if err != nil {
		return err
	}
	c.rootHash = h
	c.curManifest = mf
	c.curRev = cs.Rev
	c.haveCur = true
	return nil
}

func fileMode(flags byte) uint32 {
	switch flags {
	case 'l':
		return git.ModeSymlink
	case 'x':
		return git.ModeExecutable
	}
	return git.ModeFile
}

// blobsFor makes sure every changed file has its blob in the cache (and,
// when write is set, in the pack).
func (c *converter) blobsFor(changed []hg.ManifestEntry, bases []hg.Node, add objectSink) error {
	if len(c.blobs) > maxBlobCache {
		clear(c.blobs)
	}
	for k, e := range changed {
		if e.Path == ".hgsub" || e.Path == ".hgsubstate" || unsafePath(e.Path) {
			continue
		}
		if _, ok := c.blobs[e.Node]; ok {
			continue
		}
		data, _, err := c.repo.File(e.Path, e.Node)
		if err != nil {
			return err
		}
		h, err := add("blob", data, c.blobs[bases[k]])
		if err != nil {
			return err
		}
		c.blobs[e.Node] = h
	}
	return nil
}

// gitlinks computes the [git] subrepositories of cs, reporting every entry
// that cannot become a gitlink.
func (c *converter) gitlinks(cs *hg.Changeset, mf []hg.ManifestEntry) (map[string]git.Hash, error) {
	read := func(path string) (string, bool, error) {
		k, ok := slices.BinarySearchFunc(mf, path, func(e hg.ManifestEntry, p string) int { return strings.Compare(e.Path, p) })
		if !ok {
			return "", false, nil
		}
		data, _, err := c.repo.File(path, mf[k].Node)
		if err != nil {
			return "", false, err
		}
		return string(data), true, nil
	}
	sub, hasSub, err := read(".hgsub")
	if err != nil {
		return nil, err
	}
	state, hasState, err := read(".hgsubstate")
	if err != nil {
		return nil, err
	}
	entries, problems := subrepoState(sub, hasSub, state, hasState)
	// Report problems at the changesets that bring them: those whose
	// .hgsub/.hgsubstate differ from their first parent's (the state is
	// also re-read when conversion order jumps between branches).
	report, err := c.subFilesChanged(cs, mf)
	if err != nil {
		return nil, err
	}
	warn := func(path, kind, msg string) {
		if report {
			c.warn(cs, path, kind, msg)
		}
	}
	badLine := map[string]bool{}
	for _, p := range problems {
		warn(p.Path, p.Kind, p.Message)
		badLine[p.Path] = true
	}
	links := make(map[string]git.Hash)
	for _, e := range entries {
		switch {
		case e.Kind != "git":
			warn(e.Path, WarnSubrepoKind, fmt.Sprintf("[%s] subrepository %s (source %s) has no Git equivalent and is left out", e.Kind, e.Path, e.Source))
		case e.Rev == "" && badLine[e.Path]:
			// Already reported: its .hgsubstate line is malformed.
		case e.Rev == "":
			warn(e.Path, WarnSubrepoRevision, fmt.Sprintf("[git] subrepository %s has no revision in .hgsubstate; no gitlink written", e.Path))
		default:
			h, ok := gitlinkHash(e.Rev)
			if !ok {
				warn(e.Path, WarnSubrepoRevision, fmt.Sprintf("[git] subrepository %s: revision %q is not a Git commit id; no gitlink written", e.Path, clip(e.Rev, 80)))
				continue
			}
			if e.Path == "" || strings.HasPrefix(e.Path, "/") || strings.HasSuffix(e.Path, "/") || strings.Contains(e.Path, "//") {
				warn(e.Path, WarnHgsubSyntax, fmt.Sprintf("[git] subrepository path %q cannot be a tree entry", e.Path))
				continue
			}
			links[e.Path] = h
		}
	}
	return links, nil
}

// subFilesChanged reports whether .hgsub or .hgsubstate of mf differ from
// those of cs's first parent.
func (c *converter) subFilesChanged(cs *hg.Changeset, mf []hg.ManifestEntry) (bool, error) {
	var pmf []hg.ManifestEntry
	if cs.P1 != hg.NullNode {
		rev, ok := c.repo.Rev(cs.P1)
		if !ok {
			return true, nil
		}
		if rev == c.curRev && c.haveCur {
			pmf = c.curManifest
		} else {
			p, err := c.repo.Changeset(rev)
			if err != nil {
				return false, err
			}
			if pmf, err = c.repo.Manifest(p.Manifest); err != nil {
				return false, err
			}
		}
	}
	for _, f := range []string{".hgsub", ".hgsubstate"} {
		a, okA := lookup(mf, f)
		b, okB := lookup(pmf, f)
		if okA != okB || a.Node != b.Node {
			return true, nil
		}
	}
	return false, nil
}

func lookup(mf []hg.ManifestEntry, path string) (hg.ManifestEntry, bool) {
	k, ok := slices.BinarySearchFunc(mf, path, func(e hg.ManifestEntry, p string) int { return strings.Compare(e.Path, p) })
	if !ok {
		return hg.ManifestEntry{}, false
	}
	return mf[k], true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (c *converter) warn(cs *hg.Changeset, path, kind, msg string) {
	c.warnings = append(c.warnings, Warning{Rev: cs.Rev, Node: cs.Node.String(), Path: path, Kind: kind, Message: msg})
}

// logWarnings logs one line per kind of problem.
func (c *converter) logWarnings() {
	type agg struct {
		n     int
		first Warning
	}
	kinds := map[string]*agg{}
	var order []string
	for _, w := range c.warnings {
		a := kinds[w.Kind]
		if a == nil {
			a = &agg{first: w}
			kinds[w.Kind] = a
			order = append(order, w.Kind)
		}
		a.n++
	}
	for _, k := range order {
		a := kinds[k]
		c.log.Warn("convert: entries not carried into Git", "kind", k, "count", a.n,
			"first_rev", a.first.Rev, "first_path", a.first.Path, "first_message", a.first.Message)
	}
}

// renames returns the copies hg-git records for cs: for each file of the
// changeset still present, in changelog order, the copy source its filelog
// revision names, as Mercurial's filectx.renamed() decides (copy metadata
// counts only on a revision whose first filelog parent is null, and not
// when a changeset parent has the same file revision at that path).
func (c *converter) renames(cs *hg.Changeset, mf []hg.ManifestEntry) ([][2]string, error) {
	var out [][2]string
	var parentMfs [][]hg.ManifestEntry
	loaded := false
	for _, f := range cs.Files {
		k, ok := slices.BinarySearchFunc(mf, f, func(e hg.ManifestEntry, p string) int { return strings.Compare(e.Path, p) })
		if !ok {
			continue
		}
		node := mf[k].Node
		fl, err := c.repo.Filelog(f)
		if err != nil {
			return nil, err
		}
		frev, ok := fl.Rev(node)
		if !ok {
			return nil, fmt.Errorf("file %s: node %s not in filelog", f, node)
		}
		if p1, _ := fl.Parents(frev); p1 >= 0 {
			continue
		}
		_, meta, err := c.repo.File(f, node)
		if err != nil {
			return nil, err
		}
		src, okc := meta["copy"]
		if _, okr := meta["copyrev"]; !okc || !okr {
			continue
		}
		if !loaded {
			loaded = true
			for _, p := range []hg.Node{cs.P1, cs.P2} {
				if p == hg.NullNode {
					continue
				}
				pcs, err := c.repo.Changeset(mustRev(c.repo, p))
				if err != nil {
					return nil, err
				}
				pmf, err := c.repo.Manifest(pcs.Manifest)
				if err != nil {
					return nil, err
				}
				parentMfs = append(parentMfs, pmf)
			}
		}
		inParent := false
		for _, pmf := range parentMfs {
			if k, ok := slices.BinarySearchFunc(pmf, f, func(e hg.ManifestEntry, p string) int { return strings.Compare(e.Path, p) }); ok && pmf[k].Node == node {
				inParent = true
			}
		}
		if !inParent {
			out = append(out, [2]string{src, f})
		}
	}
	return out, nil
}
