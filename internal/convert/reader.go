package convert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// job is everything the writer needs to convert one changeset, read from
// the Mercurial store by the reader. The reader runs one changeset ahead of
// the writer (or more, within a memory budget), so reading and
// decompressing revlogs overlaps with hashing, delta-encoding and
// compressing Git objects.
type job struct {
	cs   *hg.Changeset
	skip bool // an hg-git "octopus" part: not exported

	mf               []hg.ManifestEntry // set only with sub (the rest needs no parsed manifest)
	changed, removed []hg.ManifestEntry
	bases            []hg.Node          // per changed entry: the file revision it replaces, or NullNode
	data             map[hg.Node][]byte // contents of changed files the writer has not seen
	need             []hg.ManifestEntry // the file revisions data is to hold, until read
	// deltas are Git deltas to some of those contents from the blob of
	// another revision of the file, made from the filelog's own deltas:
	// the writer stores them without comparing texts when it has that
	// blob in its pack.
	deltas     map[hg.Node]fileDelta
	clearBlobs bool      // the writer must forget its blob cache first (bounded)
	sub        *subInput // set when .hgsub or .hgsubstate changed
	renames    [][2]string
	parents    []hg.Node
	size       int64 // bytes of data, for the memory budget
}

// fileDelta is a Git delta to a file's contents from the blob of the
// filelog revision base.
type fileDelta struct {
	base  hg.Node
	delta []byte
}

// subInput is the text of a changeset's .hgsub and .hgsubstate.
type subInput struct {
	hgsub, hgsubstate string
	hasSub, hasState  bool
	report            bool // the files differ from the first parent's: report problems here

	gitmodules    string // a tracked .gitmodules (hg-git 1.1 starts its own from it)
	hasGitmodules bool
}

// reader prepares jobs in conversion order. Only the reader touches the
// repository while a conversion runs.
type reader struct {
	repo *hg.Repo
	// The manifest of the changeset prepared last (of revision prevRv
	// when prevOK): its text, and parsed, when needed, in prev (which
	// alone may be set, by restoreExporter; the text is then encoded
	// from it).
	prevText []byte
	prev     []hg.ManifestEntry
	prevOK   bool
	prevRv   int
	// prevMf is the manifest log revision whose text prevText is (-1
	// when it is not one, or not known): a manifest stored as a delta
	// from it is compared only where the delta changes it.
	prevMf int
	spare  []byte               // a buffer for the next manifest text
	seen   map[hg.Node]struct{} // file revisions whose data was handed over
	// maxSeen bounds seen (and the writer's blob cache, cleared with it);
	// past it both start afresh (a miss only costs reading a file again).
	maxSeen int
	// heads are the revisions whose .hgtags file revision is recorded in
	// tagFnodes as their manifests go by (refs reads tags from heads).
	heads     map[int]bool
	tagFnodes map[hg.Node]hg.Node
}

func newReader(repo *hg.Repo) *reader {
	return &reader{repo: repo, seen: make(map[hg.Node]struct{}), maxSeen: 1 << 20, tagFnodes: map[hg.Node]hg.Node{}, prevMf: -1}
}

// visibleHeads returns the revisions not in excl with no child outside it.
func visibleHeads(repo *hg.Repo, excl []bool) (map[int]bool, error) {
	cl := repo.Changelog()
	hasChild := make([]bool, cl.Len())
	for rev := range hasChild {
		if isExcluded(excl, rev) {
			continue
		}
		p1, p2, err := cl.Parents(rev)
		if err != nil {
			return nil, err
		}
		for _, p := range []int{p1, p2} {
			if p >= 0 {
				hasChild[p] = true
			}
		}
	}
	heads := map[int]bool{}
	for rev, c := range hasChild {
		if !c && !isExcluded(excl, rev) {
			heads[rev] = true
		}
	}
	return heads, nil
}

// prevManifest returns the manifest of the changeset prepared last, parsed.
func (r *reader) prevManifest() ([]hg.ManifestEntry, error) {
	if r.prev == nil && len(r.prevText) > 0 {
		mf, err := hg.ParseManifest(r.prevText)
		if err != nil {
			return nil, err
		}
		r.prev = mf
	}
	return r.prev, nil
}

// diff returns the entries of text (the manifest of the changeset to
// prepare) that differ from the previous manifest's, compared as texts.
// It returns the text to keep as the previous manifest: text itself, or,
// when text is not sorted, the sorted text of its parsed entries.
// patch, when not nil, is the delta that turns prevText into text.
func (r *reader) diff(text, patch []byte) ([]hg.ManifestChange, []byte, []hg.ManifestEntry, error) {
	if r.prevText == nil && len(r.prev) > 0 {
		r.prevText = hg.EncodeManifest(r.prev)
	}
	var changes []hg.ManifestChange
	var sorted bool
	var err error
	if patch != nil {
		changes, sorted, err = hg.DiffManifestsPatched(r.prevText, text, patch)
	} else {
		changes, sorted, err = hg.DiffManifests(r.prevText, text)
	}
	if err != nil || sorted {
		return changes, text, nil, err
	}
	// Unsorted (Mercurial never writes it so): compare parsed entries,
	// which ParseManifest sorts.
	mf, err := hg.ParseManifest(text)
	if err != nil {
		return nil, nil, nil, err
	}
	old, err := r.prevManifest()
	if err != nil {
		return nil, nil, nil, err
	}
	i, k := 0, 0
	for i < len(old) || k < len(mf) {
		switch {
		case k >= len(mf) || (i < len(old) && old[i].Path < mf[k].Path):
			changes = append(changes, hg.ManifestChange{Old: old[i]})
			i++
		case i >= len(old) || mf[k].Path < old[i].Path:
			changes = append(changes, hg.ManifestChange{New: mf[k]})
			k++
		default:
			if old[i].Node != mf[k].Node || old[i].Flags != mf[k].Flags {
				changes = append(changes, hg.ManifestChange{Old: old[i], New: mf[k]})
			}
			i++
			k++
		}
	}
	return changes, hg.EncodeManifest(mf), mf, nil
}

// prepare returns the job of cs, with the contents of its files.
func (r *reader) prepare(cs *hg.Changeset) (*job, error) {
	j, err := r.prepareMeta(cs)
	if err != nil {
		return nil, err
	}
	return j, readFiles(r.repo, j)
}

// readFiles reads the contents of the files j needs (j.need) into j.data,
// with the Git deltas the filelogs give for them in j.deltas. It uses no
// reader state, so that it runs beside the preparation of later jobs.
func readFiles(repo *hg.Repo, j *job) error {
	for _, e := range j.need {
		data, _, fd, ok, err := repo.FileWithDelta(e.Path, e.Node)
		if err != nil {
			return err
		}
		if j.data == nil {
			j.data = make(map[hg.Node][]byte, len(j.need))
		}
		j.data[e.Node] = data
		j.size += int64(len(data))
		// The filelog's delta is from an earlier revision of the file
		// (most often the one this one replaces in the tree): when the
		// writer has its blob it can store the delta as Git's.
		if ok && fd.Base != hg.NullNode {
			if d := git.AppendPatchDelta(nil, fd.Patch, fd.BaseSize, len(data)); d != nil {
				if j.deltas == nil {
					j.deltas = make(map[hg.Node]fileDelta)
				}
				j.deltas[e.Node] = fileDelta{fd.Base, d}
				j.size += int64(len(d))
			}
		}
	}
	j.need = nil
	return nil
}

// prepareMeta returns the job of cs without the contents of its files:
// j.need lists the file revisions to read (each once per run, within the
// bound of seen).
func (r *reader) prepareMeta(cs *hg.Changeset) (*job, error) {
	j := &job{cs: cs}
	if cs.Extra["hg-git"] == "octopus" {
		j.skip = true
		return j, nil
	}
	raw, mfRev, d, ok, err := r.repo.ManifestTextDelta(cs.Manifest, r.spare)
	if err != nil {
		return nil, err
	}
	var patch []byte
	if ok && r.prevMf >= 0 && d.Base == r.prevMf {
		patch = d.Patch
	}
	changes, text, mf, err := r.diff(raw, patch)
	if err != nil {
		return nil, fmt.Errorf("hg: manifest %s: %w", cs.Manifest, err)
	}
	subChanged := false
	isSub := func(p string) bool { return p == ".hgsub" || p == ".hgsubstate" }
	for _, ch := range changes {
		if ch.New.Path == "" {
			j.removed = append(j.removed, ch.Old)
			subChanged = subChanged || isSub(ch.Old.Path)
			continue
		}
		j.changed = append(j.changed, ch.New)
		base := hg.NullNode
		if ch.Old.Path != "" {
			base = ch.Old.Node
		}
		j.bases = append(j.bases, base)
		subChanged = subChanged || isSub(ch.New.Path)
	}
	if len(r.seen) > r.maxSeen {
		clear(r.seen)
		j.clearBlobs = true
	}
	for _, e := range j.changed {
		if isSub(e.Path) || unsafePath(e.Path) {
			continue
		}
		if _, ok := r.seen[e.Node]; ok {
			continue
		}
		r.seen[e.Node] = struct{}{}
		j.need = append(j.need, e)
	}
	if subChanged {
		if mf == nil {
			if mf, err = hg.ParseManifest(text); err != nil {
				return nil, err
			}
		}
		j.mf = mf
		if j.sub, err = r.subInput(cs, mf); err != nil {
			return nil, err
		}
	}
	if j.renames, err = r.renames(cs, text); err != nil {
		return nil, err
	}
	j.parents = r.gitParents(cs)
	if r.heads[cs.Rev] {
		e, _, err := hg.FindManifestEntry(text, ".hgtags")
		if err != nil {
			return nil, err
		}
		r.tagFnodes[cs.Node] = e.Node
	}
	// The previous text is free now (or raw, when it was replaced).
	if len(raw) > 0 && len(text) > 0 && &raw[0] != &text[0] {
		r.spare = raw[:0]
	} else {
		r.spare = r.prevText[:0]
	}
	r.prevText, r.prev, r.prevOK, r.prevRv = text, mf, true, cs.Rev
	r.prevMf = -1
	if len(raw) > 0 && len(text) > 0 && &raw[0] == &text[0] {
		r.prevMf = mfRev
	}
	return j, nil
}

// markSeen records file revisions whose blobs the writer has already (the
// starting state of an incremental run).
func (r *reader) markSeen(mf []hg.ManifestEntry) {
	for _, e := range mf {
		r.seen[e.Node] = struct{}{}
	}
}

func (r *reader) subInput(cs *hg.Changeset, mf []hg.ManifestEntry) (*subInput, error) {
	s := &subInput{}
	read := func(path string) (string, bool, error) {
		e, ok := lookup(mf, path)
		if !ok {
			return "", false, nil
		}
		data, _, err := r.repo.File(path, e.Node)
		if err != nil {
			return "", false, err
		}
		return string(data), true, nil
	}
	var err error
	if s.hgsub, s.hasSub, err = read(".hgsub"); err != nil {
		return nil, err
	}
	if s.hgsubstate, s.hasState, err = read(".hgsubstate"); err != nil {
		return nil, err
	}
	if s.gitmodules, s.hasGitmodules, err = read(".gitmodules"); err != nil {
		return nil, err
	}
	// Report problems at the changesets that bring them: those whose
	// .hgsub/.hgsubstate differ from their first parent's (the state is
	// also re-read when conversion order jumps between branches).
	pmf, err := r.manifestOf(cs.P1)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{".hgsub", ".hgsubstate"} {
		a, okA := lookup(mf, f)
		b, okB := lookup(pmf, f)
		if okA != okB || a.Node != b.Node {
			s.report = true
		}
	}
	return s, nil
}

// manifestOf returns the manifest of changeset n (empty for the null node).
func (r *reader) manifestOf(n hg.Node) ([]hg.ManifestEntry, error) {
	if n == hg.NullNode {
		return nil, nil
	}
	rev, ok := r.repo.Rev(n)
	if !ok {
		return nil, fmt.Errorf("changeset %s not found", n)
	}
	if r.prevOK && rev == r.prevRv {
		return r.prevManifest()
	}
	cs, err := r.repo.Changeset(rev)
	if err != nil {
		return nil, err
	}
	return r.repo.Manifest(cs.Manifest)
}

// renames returns the copies hg-git records for cs: for each file of the
// changeset still present, in changelog order, the copy source its filelog
// revision names, as Mercurial's filectx.renamed() decides (copy metadata
// counts only on a revision whose first filelog parent is null, and not
// when a changeset parent has the same file revision at that path).
func (r *reader) renames(cs *hg.Changeset, text []byte) ([][2]string, error) {
	var out [][2]string
	var parentMfs [][]hg.ManifestEntry
	loaded := false
	for _, f := range cs.Files {
		e, ok, err := hg.FindManifestEntry(text, f)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		fl, err := r.repo.Filelog(f)
		if err != nil {
			return nil, err
		}
		frev, ok := fl.Rev(e.Node)
		if !ok {
			return nil, fmt.Errorf("file %s: node %s not in filelog", f, e.Node)
		}
		p1, _, err := fl.Parents(frev)
		if err != nil {
			return nil, err
		}
		if p1 >= 0 {
			continue
		}
		_, meta, err := r.repo.File(f, e.Node)
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
				pmf, err := r.manifestOf(p)
				if err != nil {
					return nil, err
				}
				parentMfs = append(parentMfs, pmf)
			}
		}
		inParent := false
		for _, pmf := range parentMfs {
			if pe, ok := lookup(pmf, f); ok && pe.Node == e.Node {
				inParent = true
			}
		}
		if !inParent {
			out = append(out, [2]string{src, f})
		}
	}
	return out, nil
}

// gitParents lists the Mercurial parents of cs as hg-git exports them: an
// "octopus-done" changeset (from a Git octopus merge) gathers the first
// parents of its chain of "octopus" changesets.
func (r *reader) gitParents(cs *hg.Changeset) []hg.Node {
	isPart := func(c *hg.Changeset) bool {
		return c.Extra["hg-git"] == "octopus" || c.Extra["hg-git"] == "octopus-done"
	}
	if cs.Extra["hg-git"] != "octopus-done" {
		if cs.P2 == hg.NullNode {
			return []hg.Node{cs.P1}
		}
		return []hg.Node{cs.P1, cs.P2}
	}
	var parents []hg.Node
	part := cs
	for {
		parents = append(parents, part.P1)
		rev, ok := r.repo.Rev(part.P2)
		if !ok || part.P2 == hg.NullNode {
			return append(parents, part.P2)
		}
		next, err := r.repo.Changeset(rev)
		if err != nil || !isPart(next) {
			return append(parents, part.P2)
		}
		part = next
	}
}

func lookup(mf []hg.ManifestEntry, path string) (hg.ManifestEntry, bool) {
	k, ok := slices.BinarySearchFunc(mf, path, func(e hg.ManifestEntry, p string) int { return strings.Compare(e.Path, p) })
	if !ok {
		return hg.ManifestEntry{}, false
	}
	return mf[k], true
}

// budget bounds the file data read ahead of the writer.
type budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	used  int64
	limit int64
	done  bool
}

func newBudget(limit int64) *budget {
	b := &budget{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes fit (a job larger than the whole budget
// waits for an empty pipeline); it reports false once closed.
func (b *budget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.done && b.used > 0 && b.used+n > b.limit {
		b.cond.Wait()
	}
	if b.done {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *budget) close() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

// readAhead prepares the jobs of revs on its own goroutine. The returned
// stop function ends it and waits for it; call it before using the
// repository elsewhere.
func (r *reader) readAhead(ctx context.Context, revs []int, limit int64) (<-chan *job, <-chan error, *budget, func()) {
	jobs := make(chan *job, 64)
	errc := make(chan error, 2)
	b := newBudget(limit)
	ctx, cancel := context.WithCancel(ctx)
	// Two stages, each on its own goroutine, in order: changesets,
	// manifests and the files' metadata, then the files' contents (most
	// of the reading), so that both can keep a core busy.
	metas := make(chan *job, 64)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(metas)
		for _, rev := range revs {
			if ctx.Err() != nil {
				return
			}
			cs, err := r.repo.Changeset(rev)
			if err == nil {
				var j *job
				j, err = r.prepareMeta(cs)
				if err == nil {
					select {
					case metas <- j:
						continue
					case <-ctx.Done():
						return
					}
				}
			}
			errc <- fmt.Errorf("convert: changeset %d: %w", rev, err)
			return
		}
	}()
	go func() {
		defer wg.Done()
		defer close(jobs)
		for j := range metas {
			if err := readFiles(r.repo, j); err != nil {
				errc <- fmt.Errorf("convert: changeset %d: %w", j.cs.Rev, err)
				cancel()
				return
			}
			if !b.acquire(j.size) {
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	stop := func() {
		cancel()
		b.close()
		wg.Wait()
	}
	go func() { <-ctx.Done(); b.close() }()
	return jobs, errc, b, stop
}
