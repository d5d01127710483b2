package convert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

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

	mf               []hg.ManifestEntry
	changed, removed []hg.ManifestEntry
	bases            []hg.Node          // per changed entry: the file revision it replaces, or NullNode
	data             map[hg.Node][]byte // contents of changed files the writer has not seen
	clearBlobs       bool               // the writer must forget its blob cache first (bounded)
	sub              *subInput          // set when .hgsub or .hgsubstate changed
	renames          [][2]string
	parents          []hg.Node
	size             int64 // bytes of data, for the memory budget
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
	repo   *hg.Repo
	prev   []hg.ManifestEntry // manifest of the changeset prepared last
	prevOK bool
	prevRv int
	seen   map[hg.Node]struct{} // file revisions whose data was handed over
	// maxSeen bounds seen (and the writer's blob cache, cleared with it);
	// past it both start afresh (a miss only costs reading a file again).
	maxSeen int
}

func newReader(repo *hg.Repo) *reader {
	return &reader{repo: repo, seen: make(map[hg.Node]struct{}), maxSeen: 1 << 20}
}

func (r *reader) prepare(cs *hg.Changeset) (*job, error) {
	j := &job{cs: cs}
	if cs.Extra["hg-git"] == "octopus" {
		j.skip = true
		return j, nil
	}
	mf, err := r.repo.Manifest(cs.Manifest)
	if err != nil {
		return nil, err
	}
	j.mf = mf
	old := r.prev
	subChanged := false
	isSub := func(p string) bool { return p == ".hgsub" || p == ".hgsubstate" }
	i, k := 0, 0
	for i < len(old) || k < len(mf) {
		switch {
		case k >= len(mf) || (i < len(old) && old[i].Path < mf[k].Path):
			j.removed = append(j.removed, old[i])
			subChanged = subChanged || isSub(old[i].Path)
			i++
		case i >= len(old) || mf[k].Path < old[i].Path:
			j.changed = append(j.changed, mf[k])
			j.bases = append(j.bases, hg.NullNode)
			subChanged = subChanged || isSub(mf[k].Path)
			k++
		default:
			if old[i].Node != mf[k].Node || old[i].Flags != mf[k].Flags {
				j.changed = append(j.changed, mf[k])
				j.bases = append(j.bases, old[i].Node)
				subChanged = subChanged || isSub(mf[k].Path)
			}
			i++
			k++
		}
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
		if _, ok := j.data[e.Node]; ok {
			continue
		}
		data, _, err := r.repo.File(e.Path, e.Node)
		if err != nil {
			return nil, err
		}
		if j.data == nil {
			j.data = make(map[hg.Node][]byte)
		}
		j.data[e.Node] = data
		j.size += int64(len(data))
	}
	for n := range j.data {
		r.seen[n] = struct{}{}
	}
	if subChanged {
		if j.sub, err = r.subInput(cs, mf); err != nil {
			return nil, err
		}
	}
	if j.renames, err = r.renames(cs, mf); err != nil {
		return nil, err
	}
	j.parents = r.gitParents(cs)
	r.prev, r.prevOK, r.prevRv = mf, true, cs.Rev
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
		return r.prev, nil
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
func (r *reader) renames(cs *hg.Changeset, mf []hg.ManifestEntry) ([][2]string, error) {
	var out [][2]string
	var parentMfs [][]hg.ManifestEntry
	loaded := false
	for _, f := range cs.Files {
		e, ok := lookup(mf, f)
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
	errc := make(chan error, 1)
	b := newBudget(limit)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		for _, rev := range revs {
			if ctx.Err() != nil {
				return
			}
			cs, err := r.repo.Changeset(rev)
			if err == nil {
				var j *job
				j, err = r.prepare(cs)
				if err == nil {
					if !b.acquire(j.size) {
						return
					}
					select {
					case jobs <- j:
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
	stop := func() {
		cancel()
		b.close()
		wg.Wait()
	}
	go func() { <-ctx.Done(); b.close() }()
	return jobs, errc, b, stop
}
