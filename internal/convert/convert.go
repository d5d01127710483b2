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
	"sort"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Options tune one conversion.
type Options struct {
	Progress func(done, total int) // called as changesets are converted; may be nil
	Logger   *slog.Logger          // nil discards
	// Exclude lists changesets never to export, nor any descendant of
	// them: those hidden or secret at the source (hg.SourceState.Excluded).
	// Bookmarks, tags, branch heads and tip are computed over the others.
	// nil means what the repository itself hides (obsolescence markers)
	// or keeps secret; an empty map excludes nothing.
	Exclude map[hg.Node]bool

	// Settings are the hg-git options to follow (settings.go).
	Settings Settings
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
	RevlogReads int64             // revision texts this run read from the store (a measure of its work)
	// RevlogChunks counts the revlog chunks (full texts and deltas) this
	// run decompressed for those texts: the delta chains it followed.
	RevlogChunks int64
	// IndexEntries counts the changelog, manifest and filelog index
	// entries this run decoded (the changelog's and manifest's are read a
	// page at a time, as revisions are used).
	IndexEntries int64
	// FullScans counts the computations over every changelog revision
	// (phases, hidden changesets, heads) this run made.
	FullScans int64
	// BookmarksParsed counts the bookmarks this run parsed from the
	// bookmarks file (none when the file is the one the last run read),
	// BookmarkLookups those whose changeset and commit it looked up (the
	// others come from the state), RefsWritten the ref files it wrote in
	// .hg/git.
	BookmarksParsed int
	BookmarkLookups int
	RefsWritten     int
	Record          Record // the settings the map's commits were made with
	// Parents are the parents of the commits this run wrote, by commit,
	// for runs of up to MaxParentsKept changesets (nil otherwise): a push
	// tells a fast-forward from them without asking git.
	Parents map[git.Hash][]git.Hash
}

// MaxParentsKept is the most changesets a run keeps Result.Parents for.
const MaxParentsKept = 1000

// Warning is one entry that could not be carried into Git. Rev and Node
// name the changeset (Rev is -1 for a bookmark or tag, named by Path).
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
	// changesets, bounding the work an interruption loses. 0 commits them
	// when the pack holds Memory/1KiB objects (262,144 at DefaultMemory):
	// the pack writer keeps an entry per object until its pack is
	// committed, and fewer, larger packs cost less to write and to index.
	CheckpointEvery int
	// Memory bounds the memory a conversion uses, in bytes (0 =
	// DefaultMemory). Its caches get about half of it (budgetsFor): the
	// pack writer's delta window, the file contents read ahead, the
	// filenode → blob id cache and the manifest texts; the rest is left
	// for what is not cached (revlog indexes, the map, one checkpoint's
	// pack index) and for the garbage collector's headroom, which a
	// process converting alone bounds with debug.SetMemoryLimit(Memory).
	// Less memory costs speed and pack size, never correctness.
	Memory int64
}

// DefaultMemory is Native.Memory's default.
const DefaultMemory = 256 << 20

// MinMemory is the smallest Memory honoured; less is raised to it.
const MinMemory = 8 << 20

// budgets splits a memory bound between the caches: an eighth for the
// delta window, a sixteenth each for read-ahead, the blob id cache, the
// manifest texts and a changelog or manifest data file read whole, a
// filelog open per 256 KiB (up to 1,024): together about a third, as the
// heap grows to twice what is live before the garbage collector runs.
// A checkpoint comes every memory/1KiB objects packed: what the pack
// writer keeps per object until then (its entry, then its line of the
// pack index), about 100 bytes, stays near a tenth of memory.
type budgets struct {
	deltaWindow int
	readAhead   int64
	blobCache   int // entries
	manifests   int64
	wholeData   int64 // changelog or manifest data file read whole, at most
	filelogs    int   // open at once
	deltaChunks int64 // decompressed revlog deltas kept
	packObjects int   // objects in a pack before a checkpoint
}

// blobCacheEntryBytes is roughly what one filenode → blob entry costs in
// the writer's map and the reader's set together.
const blobCacheEntryBytes = 128

func budgetsFor(memory int64) budgets {
	if memory <= 0 {
		memory = DefaultMemory
	}
	memory = max(memory, MinMemory)
	return budgets{
		deltaWindow: int(memory / 8),
		readAhead:   memory / 16,
		blobCache:   int(memory / 16 / blobCacheEntryBytes),
		manifests:   memory / 16,
		wholeData:   memory / 16,
		filelogs:    int(min(memory/(256<<10), 1024)),
		deltaChunks: memory / 32,
		packObjects: int(memory / 1024),
	}
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
	if err := opts.Settings.Validate(); err != nil {
		return nil, err
	}
	repo, err := hg.Open(hgRoot)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	defer repo.Close()
	b := budgetsFor(n.Memory)
	repo.SetManifestCache(b.manifests)
	repo.SetLimits(b.wholeData, b.filelogs)
	repo.SetDeltaCache(b.deltaChunks)

	gitDir := GitDir(hgRoot)
	if _, err := os.Stat(filepath.Join(gitDir, "HEAD")); err != nil {
		if err := git.Init(ctx, gitDir, true); err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
	}
	// A crashed run leaves temporary pack files; an hour is far above any
	// pause of a live writer.
	if err := git.CleanTemporary(gitDir, time.Hour); err != nil {
		log.Warn("convert: cleaning temporary pack files", "err", err)
	}
	statePath := StatePath(hgRoot)
	st := loadState(statePath)
	repo.KnowRevs(st.knownRevs(), st.checkedRevs(repo))
	m, err := openMap(MapPath(hgRoot), st)
	if err != nil {
		return nil, err
	}
	defer m.close()
	rec, err := CheckRecord(hgRoot, opts.Settings, m.size())
	if err != nil {
		return nil, err
	}
	excl, err := excludedOf(repo, opts.Exclude)
	if err != nil {
		return nil, err
	}
	every := max(n.CheckpointEvery, 0) // 0: by objects packed (budgets.packObjects)
	c := &converter{
		repo:     repo,
		gitDir:   gitDir,
		m:        m,
		log:      log,
		blobs:    make(map[hg.Node]git.Hash),
		trees:    newTreeState(),
		links:    map[string]git.Hash{},
		branchOf: map[int]branchInfo{},
		excl:     excl,
		settings: opts.Settings,
		budgets:  b,
		adopted:  rec.AdoptedFrom != "" || opts.Settings.Level() == HgGit11, // 1.1 keeps a .gitmodules the rebuilt state may lack
	}
	if st.matches(m) {
		c.prior = st
	}
	res := &Result{Total: repo.Len()}
	err = c.run(ctx, every, opts.Progress, res)
	if err == nil {
		if ierr := m.updateIndex(); ierr != nil {
			log.Warn("convert: map index not saved", "err", ierr)
		}
		err = c.refs(res)
	}
	if err == nil && m.err != nil {
		err = fmt.Errorf("convert: read map index: %w", m.err) // refs may lack a commit
	}
	if err == nil {
		err = WriteRecord(hgRoot, rec)
		res.Record = rec
	}
	if err == nil {
		if serr := c.state().save(statePath); serr != nil {
			// Only a cache: the next run rebuilds what it lacks.
			log.Warn("convert: state not saved", "err", serr)
		}
	}
	res.Warnings = c.warnings
	res.RevlogReads = repo.RevisionReads()
	res.RevlogChunks = repo.ChunkReads()
	res.IndexEntries = repo.IndexEntries()
	res.FullScans = repo.FullScans()
	if err == nil {
		if ierr := repo.Changelog().Err(); ierr != nil {
			err = fmt.Errorf("convert: %w", ierr)
		} else if ierr := repo.ManifestLog().Err(); ierr != nil {
			err = fmt.Errorf("convert: %w", ierr)
		}
	}
	c.logWarnings()
	return res, err
}

// converter holds the state of one run.
type converter struct {
	repo   *hg.Repo
	gitDir string
	m      *gitMap
	log    *slog.Logger
	pw     *git.PackWriter

	// The trees of the changeset converted last (hg-git's exporter state).
	trees    *treeState
	rootHash git.Hash
	links    map[string]git.Hash // current gitlinks

	blobs    map[hg.Node]git.Hash // filenode → blob, for blobs already stored
	warnings []Warning
	branchOf map[int]branchInfo // of the changesets converted, for branch heads
	budgets  budgets

	prior   *runState        // what an earlier run left (nil: none usable)
	from    int              // revisions below it were scanned by prior's run (scannedBefore)
	skipped map[hg.Node]bool // octopus parts (never exported), of this run and earlier ones
	derived *derived         // what refs computed that the next run reuses
	last    hg.Node          // the changeset converted last by this run (zero: none)
	lastMf  hg.Node          // its manifest
	excl    []bool           // revisions never exported (see Options.Exclude); nil = none
	// The .hgtags file revisions of the heads this run converted, by
	// changeset (see reader.tagFnodes).
	tagFnodes map[hg.Node]hg.Node

	settings Settings
	adopted  bool // the map was adopted (adopted.go)
}

// state returns what this run leaves for the next one.
func (c *converter) state() *runState {
	st := &runState{Version: stateVersion, MapLines: c.m.size(), MapLast: c.m.lastNode()}
	if c.prior != nil {
		st.encodedSize = c.prior.encodedSize
	}
	if c.derived != nil {
		st.Heads, st.Excluded, st.TagFnodes, st.Known = c.derived.heads, c.derived.excluded, c.derived.tagFnodes, c.derived.known
		st.TopoHeads = c.derived.topo
		st.setRefs(c.gitDir, c.derived, c.prior)
		if b := c.derived.bookmarks; b != nil {
			st.BookmarksRead, st.BookmarksSum, st.BookmarksSuffix, st.Bookmarks = true, b.sum, c.settings.BranchBookmarkSuffix, b.marks
		}
	}
	st.Mapped = make([]byte, 0, 40*len(c.m.hits))
	for n, h := range c.m.hits {
		st.Mapped = append(append(st.Mapped, n[:]...), h[:]...)
	}
	if n := c.repo.Len(); n > 0 {
		st.Scanned = n
		st.ScannedTip, _ = c.repo.Changelog().Node(n - 1)
	}
	if c.skipped != nil {
		for n := range c.skipped {
			st.Skipped = append(st.Skipped, n)
		}
	} else if c.prior != nil {
		st.Skipped = c.prior.Skipped
	}
	switch {
	case c.last != hg.NullNode:
		// Read again: jobs carry only what changed.
		if mf, err := c.repo.Manifest(c.lastMf); err == nil {
			c.exporterState(st, c.last, c.lastMf, mf)
		}
	case c.prior != nil:
		st.Last, st.LastManifest, st.Root = c.prior.Last, c.prior.LastManifest, c.prior.Root
		st.Dirs, st.Links = c.prior.Dirs, c.prior.Links
		st.Manifest, st.Blobs = c.prior.Manifest, c.prior.Blobs
	}
	return st
}

// run converts the changesets not in the map, checkpointing after every
// changesets, or when the pack holds budgets.packObjects objects when every
// is 0.
func (c *converter) run(ctx context.Context, every int, progress func(int, int), res *Result) error {
	total := c.repo.Len()
	var todo []int
	c.skipped = map[hg.Node]bool{}
	if c.prior != nil {
		for _, n := range c.prior.Skipped {
			c.skipped[n] = true
		}
	}
	// Below what an earlier run scanned, every revision not excluded is in
	// the map or skipped.
	from := scannedBefore(c.repo, c.excl, c.prior)
	c.from = from
	if from == 0 {
		if err := c.m.readWhole(); err != nil {
			return err
		}
	}
	for rev := from; rev < total; rev++ {
		node, err := c.repo.Changelog().Node(rev)
		if err != nil {
			return err
		}
		// Octopus parts an earlier run skipped are never in the map.
		if !isExcluded(c.excl, rev) && !c.skipped[node] && !c.m.has(node) {
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
	rd := newReader(c.repo)
	rd.maxSeen = c.budgets.blobCache
	// A long run notes the .hgtags of heads as it goes (refs would read
	// each head's manifest again); a short one leaves refs to the state.
	if len(todo) > MaxParentsKept {
		heads, err := visibleHeads(c.repo, c.excl)
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		rd.heads = heads
		c.tagFnodes = rd.tagFnodes // read once the reader has stopped
	}
	if err := c.startFrom(ctx, rd, todo[0]); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	jobs, errc, b, stop := rd.readAhead(ctx, todo, c.budgets.readAhead)
	defer stop()
	sinceCheckpoint := 0
	for i := range todo {
		if err := ctx.Err(); err != nil {
			stop()
			if cerr := c.checkpoint(false); cerr != nil {
				return errors.Join(err, cerr)
			}
			return fmt.Errorf("convert: interrupted after %d of %d changesets: %w", res.Converted, len(todo), err)
		}
		j, ok := <-jobs
		if !ok {
			select {
			case err := <-errc:
				return err
			default:
			}
			if err := ctx.Err(); err != nil {
				continue // reported at the top of the loop
			}
			return fmt.Errorf("convert: reader stopped early")
		}
		c.branchOf[j.cs.Rev] = branchInfo{branch: j.cs.Branch(), closed: j.cs.Closed()}
		if j.skip {
			c.skipped[j.cs.Node] = true
			continue
		}
		h, parents, err := c.convertOne(j)
		b.release(j.size)
		if err != nil {
			return fmt.Errorf("convert: changeset %d (%s): %w", j.cs.Rev, j.cs.Node, err)
		}
		if len(todo) <= MaxParentsKept {
			if res.Parents == nil {
				res.Parents = make(map[git.Hash][]git.Hash, len(todo))
			}
			res.Parents[h] = parents
		}
		c.m.set(j.cs.Node, h)
		c.last, c.lastMf = j.cs.Node, j.cs.Manifest
		res.Converted++
		sinceCheckpoint++
		if progress != nil {
			progress(i+1, len(todo))
		}
		if c.checkpointDue(every, sinceCheckpoint) && i+1 < len(todo) {
			if err := c.checkpoint(true); err != nil {
				return err
			}
			sinceCheckpoint = 0
		}
	}
	stop()
	return c.checkpoint(false)
}

// checkpointDue reports whether run checkpoints now, after since
// changesets converted into the current pack.
func (c *converter) checkpointDue(every, since int) bool {
	if every > 0 {
		return since >= every
	}
	return c.pw.Len() >= c.budgets.packObjects
}

func (c *converter) openPack() error {
	pw, err := git.NewPackWriter(c.gitDir)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	pw.SetDeltaWindow(c.budgets.deltaWindow)
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
// The pack writer compresses and writes it on its own goroutine: data (a
// new encoding, or file contents the reader never reuses) is not modified
// afterwards.
func (c *converter) add(t git.ObjectType, data []byte, base git.Hash) (git.Hash, error) {
	return c.pw.Submit(t, data, base)
}

// convertOne writes the tree and commit of a prepared changeset, and
// returns the commit and its parents.
func (c *converter) convertOne(j *job) (git.Hash, []git.Hash, error) {
	if err := c.update(j, c.add, c.pw.SubmitDelta); err != nil {
		return git.Hash{}, nil, err
	}
	var parents []git.Hash
	for _, p := range j.parents {
		if h, ok := c.m.get(p); ok {
			parents = append(parents, h)
		}
	}
	cs := j.cs
	commit := gitCommit(&changeset{
		User: cs.User, Time: cs.Time, TZ: int64(cs.TZ), Extra: cs.Extra, Description: cs.Description,
		Authors: c.settings.Authors,
	}, parents, c.rootHash, j.renames)
	h, err := c.pw.Submit(git.CommitObject, git.EncodeCommit(commit), git.Hash{})
	return h, parents, err
}

// startFrom sets the exporter state for a run starting at firstRev: the
// one an earlier run left when it ended at firstRev's first parent,
// otherwise one loadBase computes.
func (c *converter) startFrom(ctx context.Context, rd *reader, firstRev int) error {
	// An adopted map or hg-git 1.1's level starts from the parent commit's
	// own tree (loadBase); the state is not used for it.
	if st := c.prior; st != nil && st.Last != hg.NullNode && !c.adopted {
		p1, _, err := c.repo.Changelog().Parents(firstRev)
		if err != nil {
			return err
		}
		if n, _ := c.repo.Changelog().Node(p1); p1 >= 0 && n == st.Last {
			if c.m.has(n) && st.seedManifest(c.repo) {
				c.restoreExporter(st, rd, p1)
				return nil
			}
		}
	}
	return c.loadBase(ctx, rd, firstRev)
}

// loadBase sets the exporter state to the first parent of the first
// changeset to convert when an earlier run converted it (its objects are in
// .hg/git already, so they are hashed, not written); otherwise the state
// stays empty, as hg-git's exporter starts from the null revision.
func (c *converter) loadBase(ctx context.Context, rd *reader, firstRev int) error {
	cs, err := c.repo.Changeset(firstRev)
	if err != nil {
		return err
	}
	if cs.P1 == hg.NullNode {
		return nil
	}
	if !c.m.has(cs.P1) {
		return nil
	}
	prev, err := c.repo.Changeset(mustRev(c.repo, cs.P1))
	if err != nil {
		return err
	}
	j, err := rd.prepare(prev)
	if err != nil {
		return err
	}
	saved := c.warnings
	err = c.update(j, func(t git.ObjectType, data []byte, _ git.Hash) (git.Hash, error) {
		return git.HashObject(t, data), nil
	}, nil)
	c.warnings = saved
	if err != nil {
		return err
	}
	return c.adoptedBase(ctx, cs.P1)
}

func mustRev(r *hg.Repo, n hg.Node) int {
	rev, _ := r.Rev(n)
	return rev
}

// update moves the exporter state to the changeset of j, in hg-git's order:
// gitlinks that went away, removed files, gitlinks (when .hgsub or
// .hgsubstate changed), added and modified files; then the dirty trees.
// addDelta, when set, stores the blobs the reader has a delta for.
func (c *converter) update(j *job, add objectSink, addDelta deltaSink) error {
	isSub := func(p string) bool { return p == ".hgsub" || p == ".hgsubstate" }
	if j.clearBlobs {
		clear(c.blobs)
	}
	var subAdded map[string]git.Hash
	var subRemoved []string
	if j.sub != nil {
		newLinks := c.gitlinks(j.cs, j.sub)
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
	level11 := c.settings.Level() == HgGit11
	for _, e := range j.removed {
		if isSub(e.Path) || unsafePath(e.Path) || level11 && e.Path == ".gitmodules" {
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
	if level11 && j.sub != nil {
		if err := c.gitmodules11(j, add, dirty); err != nil {
			return err
		}
	}
	for k, e := range j.changed {
		if isSub(e.Path) || unsafePath(e.Path) || level11 && e.Path == ".gitmodules" {
			continue
		}
		h, ok := c.blobs[e.Node]
		if !ok {
			data, ok := j.data[e.Node]
			if !ok {
				return fmt.Errorf("file %s revision %s: contents not read", e.Path, e.Node)
			}
			var err error
			if d, ok := j.deltas[e.Node]; ok && addDelta != nil && !c.blobs[d.base].IsZero() {
				h, err = addDelta(git.BlobObject, data, c.blobs[d.base], d.delta)
			} else {
				h, err = add(git.BlobObject, data, c.blobs[j.bases[k]])
			}
			if err != nil {
				return err
			}
			c.blobs[e.Node] = h
		}
		c.trees.add(e.Path, fileMode(e.Flags), h, dirty)
	}
	h, err := c.trees.populate(dirty, add)
	if err != nil {
		return err
	}
	c.rootHash = h
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

// gitlinks computes the [git] subrepositories of a changeset from its
// .hgsub and .hgsubstate, reporting every entry that cannot become a
// gitlink (at changesets where the files differ from the first parent's).
func (c *converter) gitlinks(cs *hg.Changeset, in *subInput) map[string]git.Hash {
	entries, problems := subrepoState(in.hgsub, in.hasSub, in.hgsubstate, in.hasState)
	warn := func(path, kind, msg string) {
		if in.report {
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
				warn(e.Path, WarnSubrepoRevision, fmt.Sprintf("[git] subrepository %s: revision %q is not a Git commit id; no gitlink written", e.Path, limitio.Clip(e.Rev, 80)))
				continue
			}
			if e.Path == "" || strings.HasPrefix(e.Path, "/") || strings.HasSuffix(e.Path, "/") || strings.Contains(e.Path, "//") {
				warn(e.Path, WarnHgsubSyntax, fmt.Sprintf("[git] subrepository path %q cannot be a tree entry", e.Path))
				continue
			}
			links[e.Path] = h
		}
	}
	return links
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
