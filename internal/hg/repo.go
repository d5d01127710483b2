package hg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// maxOpenFilelogs bounds the filelogs a Repo keeps open (and so the file
// descriptors of non-inline ones, the memory of inline ones and the texts
// each caches).
const maxOpenFilelogs = 1024

// filelogCacheTexts and filelogCacheBytes bound each filelog's cache of
// texts (the newest is always kept).
const (
	filelogCacheTexts = 2
	filelogCacheBytes = 256 << 10
)

// maxWholeData is the largest changelog or manifest data file read into
// memory at once; larger ones are read a delta chain at a time.
const maxWholeData = 64 << 20

// Repo is a Mercurial repository opened for reading. Its methods are safe
// for concurrent use. It reads the store as it was when opened: revisions
// appended later (by a concurrent hg pull) are not seen.
type Repo struct {
	root     string // directory holding .hg
	hgDir    string // root/.hg
	storeDir string // where 00changelog.i lives
	bookDir  string // where bookmarks live without bookmarksinstore
	requires map[string]bool
	enc      storeEncoding

	changelog *Revlog
	manifests *Revlog

	mu          sync.Mutex
	maxFilelogs int // 0 = maxOpenFilelogs
	filelogs    map[string]*openFilelog
	uses        uint64 // Filelog calls, for least-recently-used eviction

	internMu  sync.Mutex
	paths     map[string]string // interned manifest paths
	prevPaths []string          // paths of the last parsed manifest, sorted
	nextPaths []string
	prevAt    int

	reads  atomic.Int64 // revision texts read from any of its revlogs
	chunks atomic.Int64 // chunks decompressed for them
	// indexEntries counts the revlog index entries decoded, at open and
	// as lazily read pages are used.
	indexEntries atomic.Int64
	// fullScans counts the computations over every changelog revision
	// (phases, hidden changesets, heads): see FullScans.
	fullScans atomic.Int64
	deltas    *deltaCache // shared by its manifest log and filelogs (nil: none)
}

// Open opens the repository whose working directory (or bare root) is
// root, i.e. the directory holding .hg. It refuses store formats it cannot
// read with an *UnsupportedError naming the requirement.
func Open(root string) (*Repo, error) {
	hgDir := filepath.Join(root, ".hg")
	st, err := os.Stat(hgDir)
	if err != nil {
		return nil, fmt.Errorf("hg: open %s: not a Mercurial repository: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("hg: open %s: .hg is not a directory", root)
	}
	reqPath := filepath.Join(hgDir, "requires")
	req, err := readRequires(reqPath)
	if err != nil {
		return nil, err
	}
	if err := checkRequires(req, reqPath); err != nil && !req["share-safe"] {
		return nil, err
	}
	srcHg := hgDir
	if req["shared"] || req["relshared"] {
		p := filepath.Join(hgDir, "sharedpath")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("hg: read %s: %w", p, err)
		}
		sp := strings.TrimRight(string(b), "\r\n")
		if req["relshared"] || !filepath.IsAbs(sp) {
			sp = filepath.Join(hgDir, sp)
		}
		srcHg = sp
	}
	storeDir := srcHg
	if req["store"] || req["share-safe"] || req["exp-sharesafe"] {
		// share-safe implies a store; its requires file lists the rest.
		storeDir = filepath.Join(srcHg, "store")
	}
	all := req
	if req["share-safe"] || req["exp-sharesafe"] {
		sreqPath := filepath.Join(storeDir, "requires")
		sreq, err := readRequires(sreqPath)
		if err != nil {
			return nil, err
		}
		all = make(map[string]bool, len(req)+len(sreq))
		for k := range req {
			all[k] = true
		}
		for k := range sreq {
			all[k] = true
		}
		if err := checkRequires(all, sreqPath); err != nil {
			return nil, err
		}
	}
	r := &Repo{
		root:     root,
		hgDir:    hgDir,
		storeDir: storeDir,
		bookDir:  hgDir,
		requires: all,
		filelogs: map[string]*openFilelog{},
		paths:    map[string]string{},
	}
	// A share made with --bookmarks (.hg/shared lists "bookmarks") uses
	// the source's bookmarks.
	if srcHg != hgDir {
		if b, err := os.ReadFile(filepath.Join(hgDir, "shared")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(line) == "bookmarks" {
					r.bookDir = srcHg
				}
			}
		}
	}
	switch {
	case !all["store"]:
		r.enc = encodePlain
	case !all["fncache"]:
		r.enc = encodeBasic
	case !all["dotencode"]:
		r.enc = encodeHybrid
	default:
		r.enc = encodeDotHash
	}
	r.changelog, err = openRevlog(filepath.Join(storeDir, "00changelog.i"), filepath.Join(storeDir, "00changelog.d"), 4, true)
	if err != nil {
		return nil, err
	}
	r.manifests, err = openRevlog(filepath.Join(storeDir, "00manifest.i"), filepath.Join(storeDir, "00manifest.d"), 8, true)
	if err != nil {
		r.changelog.Close()
		return nil, err
	}
	r.manifests.cacheMax, r.manifests.cacheBytes = maxManifestTexts, DefaultManifestCache
	r.changelog.recycle, r.manifests.recycle = true, true
	for _, rl := range []*Revlog{r.changelog, r.manifests} {
		rl.idx.decoded = &r.indexEntries
		r.indexEntries.Add(rl.idx.atOpen)
	}
	r.changelog.reads, r.manifests.reads = &r.reads, &r.reads
	r.changelog.chunkReads, r.manifests.chunkReads = &r.chunks, &r.chunks
	r.changelog.wholeMax, r.manifests.wholeMax = maxWholeData, maxWholeData
	return r, nil
}

// DefaultManifestCache is the bytes of manifest texts a Repo keeps by
// default (see SetManifestCache).
const DefaultManifestCache = 16 << 20

// maxManifestTexts bounds the manifest texts cached, whatever their size.
const maxManifestTexts = 1024

// SetManifestCache bounds the manifest texts r keeps to about bytes (the
// newest is always kept). A reader that returns to earlier branch points,
// as a conversion of many branches in revision order does, finds their
// manifests there instead of applying long delta chains again.
func (r *Repo) SetManifestCache(bytes int64) {
	r.manifests.mu.Lock()
	r.manifests.cacheBytes = int(max(bytes, 1))
	r.manifests.mu.Unlock()
}

// SetLimits bounds what r keeps besides manifest texts: the changelog's
// and manifest's data files are read whole only when at most wholeData
// bytes each (otherwise a delta chain at a time), and at most filelogs
// filelogs are kept open. Call it before reading.
func (r *Repo) SetLimits(wholeData int64, filelogs int) {
	r.changelog.wholeMax, r.manifests.wholeMax = wholeData, wholeData
	r.mu.Lock()
	r.maxFilelogs = max(filelogs, 4)
	r.mu.Unlock()
}

// SetDeltaCache lets r keep up to about bytes of decompressed deltas of
// its manifest log and filelogs (0, the default, keeps none), for delta
// chains read again. Call it before reading.
func (r *Repo) SetDeltaCache(bytes int64) {
	c := newDeltaCache(int(min(bytes, 1<<30)))
	r.manifests.mu.Lock()
	r.manifests.deltas = c
	r.manifests.mu.Unlock()
	r.mu.Lock()
	r.deltas = c
	for _, of := range r.filelogs {
		of.rl.mu.Lock()
		of.rl.deltas = c
		of.rl.mu.Unlock()
	}
	r.mu.Unlock()
}

// RevisionReads returns how many revision texts (changesets, manifests,
// file revisions, cached or not) have been read through r since it was
// opened: a measure of the work done, independent of timing.
func (r *Repo) RevisionReads() int64 { return r.reads.Load() }

// IndexEntries returns how many revlog index entries r has decoded since
// it was opened: the changelog's and manifest log's are decoded a page at
// a time as revisions are used, so a reader of the newest revisions
// decodes a number independent of the history's length.
func (r *Repo) IndexEntries() int64 { return r.indexEntries.Load() }

// FullScans returns how many computations over every changelog revision
// (PhaseRevs, HiddenRevs, Heads, State, VisibleTags with exclusions,
// Excluded) r has made: work that grows with the history.
func (r *Repo) FullScans() int64 { return r.fullScans.Load() }

// ChunkReads returns how many revlog chunks (full texts and deltas) were
// decompressed for the revisions RevisionReads counts: a text found in a
// cache costs none, one at the end of a delta chain of n costs n.
func (r *Repo) ChunkReads() int64 { return r.chunks.Load() }

// KnowRevs gives the changelog revisions of nodes a caller already knows
// (from an earlier run): Rev returns them, once the index confirms each,
// without building the node map of the whole changelog. A wrong or stale
// entry is ignored. Entries below checked are not confirmed (nor their
// index page read): the caller checked that revisions [0, checked) are
// those it knew, e.g. by the node of revision checked-1, as the changelog
// only grows at its end and a strip truncates it.
func (r *Repo) KnowRevs(revs map[Node]int, checked int) {
	r.changelog.mu.Lock()
	defer r.changelog.mu.Unlock()
	r.changelog.hints = revs
	r.changelog.trustHints = checked
}

// SeedManifest puts the text of manifest n, rebuilt from entries (as
// Manifest returned them), in the manifest log's cache, so that reading a
// manifest stored as a delta against n does not read n's delta chain. The
// rebuilt text is hashed against n first and nothing is seeded when it
// differs (a manifest hg did not write sorted, say); it reports whether
// it seeded.
func (r *Repo) SeedManifest(n Node, entries []ManifestEntry) bool {
	rl := r.manifests
	rev, ok := rl.Rev(n)
	if !ok || rev < 0 {
		return false
	}
	text := EncodeManifest(entries)
	rl.mu.Lock()
	defer rl.mu.Unlock()
	e := rl.ent(rev)
	if HashRevision(rl.node(int(e.p1)), rl.node(int(e.p2)), text) != n {
		return false
	}
	if rl.cached(rev) == nil {
		rl.remember(rev, text, true)
	}
	return true
}

// Root returns the directory holding .hg.
func (r *Repo) Root() string { return r.root }

// Requirements returns the repository's requirements (.hg/requires and,
// with share-safe, .hg/store/requires), sorted.
func (r *Repo) Requirements() []string {
	out := make([]string, 0, len(r.requires))
	for k := range r.requires {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Len returns the number of changesets (revisions 0..Len()-1).
func (r *Repo) Len() int { return r.changelog.Len() }

// Changelog returns the changelog revlog.
func (r *Repo) Changelog() *Revlog { return r.changelog }

// ManifestLog returns the manifest revlog.
func (r *Repo) ManifestLog() *Revlog { return r.manifests }

// Rev returns the changelog revision of node n.
func (r *Repo) Rev(n Node) (int, bool) { return r.changelog.Rev(n) }

// Changeset reads and parses changelog revision rev.
func (r *Repo) Changeset(rev int) (*Changeset, error) {
	var c *Changeset
	err := r.changelog.withRevision(rev, func(text []byte) error {
		var err error
		c, err = ParseChangeset(text)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("hg: changeset %d: %w", rev, err)
	}
	e := r.changelog.ent(rev)
	c.Rev = rev
	c.Node = e.node
	c.P1 = r.changelog.node(int(e.p1))
	c.P2 = r.changelog.node(int(e.p2))
	return c, nil
}

// VerifyChangeset checks that changelog revision rev hashes to its node.
func (r *Repo) VerifyChangeset(rev int) error { return r.changelog.Verify(rev) }

// Heads returns the changelog revisions that have no children, ascending.
// Obsolete (hidden) changesets are not filtered.
func (r *Repo) Heads() []int {
	r.fullScans.Add(1)
	n := r.changelog.Len()
	hasChild := make([]bool, n)
	for i := range n {
		e := r.changelog.ent(i)
		if e.p1 >= 0 {
			hasChild[e.p1] = true
		}
		if e.p2 >= 0 {
			hasChild[e.p2] = true
		}
	}
	var heads []int
	for i, c := range hasChild {
		if !c {
			heads = append(heads, i)
		}
	}
	return heads
}

// Manifest reads the manifest with node n (a Changeset's Manifest),
// sorted by Path. NullNode is the empty manifest.
func (r *Repo) Manifest(n Node) ([]ManifestEntry, error) {
	if n == NullNode {
		return nil, nil
	}
	rev, ok := r.manifests.Rev(n)
	if !ok {
		return nil, corruptf("hg: manifest %s not found", n)
	}
	var entries []ManifestEntry
	err := r.manifests.withRevision(rev, func(text []byte) error {
		r.internMu.Lock()
		defer r.internMu.Unlock()
		r.prevAt = 0
		r.nextPaths = make([]string, 0, len(r.prevPaths)+16)
		var err error
		entries, err = parseManifest(text, r.intern)
		if err == nil {
			r.prevPaths = r.nextPaths
		}
		r.nextPaths = nil
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("hg: manifest rev %d (%s): %w", rev, n, err)
	}
	return entries, nil
}

// ManifestText returns the text of the manifest with node n, appended to
// dst[:0] (which may be nil). NullNode is the empty manifest.
func (r *Repo) ManifestText(n Node, dst []byte) ([]byte, error) {
	dst = dst[:0]
	if n == NullNode {
		return dst, nil
	}
	rev, ok := r.manifests.Rev(n)
	if !ok {
		return nil, corruptf("hg: manifest %s not found", n)
	}
	err := r.manifests.withRevision(rev, func(text []byte) error {
		dst = append(dst, text...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hg: manifest rev %d (%s): %w", rev, n, err)
	}
	return dst, nil
}

// ManifestTextDelta is ManifestText, also returning the manifest's
// revision in the manifest log and, when reading it applied the delta it
// is stored as, that delta (ok false otherwise).
func (r *Repo) ManifestTextDelta(n Node, dst []byte) (text []byte, rev int, d Delta, ok bool, err error) {
	dst = dst[:0]
	if n == NullNode {
		return dst, -1, Delta{}, false, nil
	}
	rev, found := r.manifests.Rev(n)
	if !found {
		return nil, -1, Delta{}, false, corruptf("hg: manifest %s not found", n)
	}
	ml := r.manifests
	ml.mu.Lock()
	d.Base = -1
	t, err := ml.revision(rev, &d)
	if err == nil {
		dst = append(dst, t...)
	}
	ml.mu.Unlock()
	if err != nil {
		return nil, -1, Delta{}, false, fmt.Errorf("hg: manifest rev %d (%s): %w", rev, n, err)
	}
	return dst, rev, d, d.Base >= 0, nil
}

// intern returns the shared string for a path; r.internMu must be held.
// Consecutive manifests share most paths, so it first walks the previous
// manifest's sorted paths (no hashing), then falls back to a map.
func (r *Repo) intern(b []byte) string {
	prev := r.prevPaths
	for r.prevAt < len(prev) && prev[r.prevAt] < string(b) {
		r.prevAt++
	}
	var s string
	if r.prevAt < len(prev) && prev[r.prevAt] == string(b) {
		s = prev[r.prevAt]
	} else {
		var ok bool
		if s, ok = r.paths[string(b)]; !ok {
			s = string(b)
			r.paths[s] = s
		}
	}
	r.nextPaths = append(r.nextPaths, s)
	return s
}

// ManifestFind looks path up in the manifest with node n by bisecting the
// sorted manifest text, without parsing the whole manifest.
func (r *Repo) ManifestFind(n Node, path string) (ManifestEntry, bool, error) {
	if n == NullNode {
		return ManifestEntry{}, false, nil
	}
	rev, ok := r.manifests.Rev(n)
	if !ok {
		return ManifestEntry{}, false, corruptf("hg: manifest %s not found", n)
	}
	var e ManifestEntry
	var found bool
	err := r.manifests.withRevision(rev, func(text []byte) error {
		var err error
		e, found, err = findManifestEntry(text, path)
		return err
	})
	if err != nil {
		return ManifestEntry{}, false, fmt.Errorf("hg: manifest rev %d (%s): %w", rev, n, err)
	}
	return e, found, nil
}

// Filelog returns the filelog of a tracked path. A path with no filelog is
// an empty revlog.
func (r *Repo) Filelog(path string) (*Revlog, error) {
	r.mu.Lock()
	r.uses++
	of := r.filelogs[path]
	if of != nil {
		of.used = r.uses
	}
	r.mu.Unlock()
	if of != nil {
		return of.rl, nil
	}
	if path == "" || strings.HasPrefix(path, "/") || strings.Contains(path, "\x00") || strings.Contains(path, "\n") {
		return nil, fmt.Errorf("hg: invalid file path %q", path)
	}
	for _, part := range strings.Split(path, "/") {
		if part == "" || part == "." || part == ".." {
			return nil, fmt.Errorf("hg: invalid file path %q", path)
		}
	}
	idx := filepath.Join(r.storeDir, filepath.FromSlash(encodeStorePath("data/"+path+".i", r.enc)))
	dat := filepath.Join(r.storeDir, filepath.FromSlash(encodeStorePath("data/"+path+".d", r.enc)))
	rl, err := openRevlog(idx, dat, filelogCacheTexts, false)
	if err != nil {
		return nil, err
	}
	rl.cacheBytes = filelogCacheBytes
	rl.reads, rl.chunkReads = &r.reads, &r.chunks
	r.indexEntries.Add(rl.idx.atOpen)
	r.mu.Lock()
	defer r.mu.Unlock()
	rl.deltas = r.deltas
	if old := r.filelogs[path]; old != nil {
		rl.Close()
		return old.rl, nil
	}
	limit := maxOpenFilelogs
	if r.maxFilelogs > 0 {
		limit = min(limit, r.maxFilelogs)
	}
	if len(r.filelogs) >= limit {
		// Forget the least recently used, down to three quarters of the
		// limit. An evicted revlog in use elsewhere stays valid; its file
		// is closed when it is garbage collected.
		all := make([]*openFilelog, 0, len(r.filelogs))
		for _, of := range r.filelogs {
			all = append(all, of)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].used < all[j].used })
		for _, of := range all[:len(all)-limit*3/4] {
			delete(r.filelogs, of.path)
		}
	}
	r.filelogs[path] = &openFilelog{path: path, rl: rl, used: r.uses}
	return rl, nil
}

// openFilelog is a filelog a Repo keeps open, with its last use.
type openFilelog struct {
	path string
	rl   *Revlog
	used uint64
}

// File returns the contents of path at filelog node n, without the "\1\n"
// metadata header, and that metadata ("copy", "copyrev"; nil when none).
// The data must not be modified.
func (r *Repo) File(path string, n Node) (data []byte, meta map[string]string, err error) {
	rl, err := r.Filelog(path)
	if err != nil {
		return nil, nil, err
	}
	rev, ok := rl.Rev(n)
	if !ok || rev < 0 {
		return nil, nil, corruptf("hg: file %s: node %s not found", path, n)
	}
	text, err := rl.Revision(rev)
	if err != nil {
		return nil, nil, err
	}
	data, meta, err = ParseFileMeta(text)
	if err != nil {
		return nil, nil, fmt.Errorf("hg: file %s rev %d: %w", path, rev, err)
	}
	return data, meta, nil
}

// FileDelta is a file revision's stored delta, as FileWithDelta returns
// it: Patch (a Mercurial binary patch) turns the text of file revision
// Base, of BaseSize bytes, into the revision's contents.
type FileDelta struct {
	Base     Node
	BaseSize int
	Patch    []byte
}

// FileWithDelta is File, also returning the delta the revision is stored
// as when reading it applied one and its text has no metadata header (so
// that the patch turns the base's text into data itself); ok is false
// otherwise. A base whose own text has a header has a text longer than
// its contents: BaseSize tells.
func (r *Repo) FileWithDelta(path string, n Node) (data []byte, meta map[string]string, d FileDelta, ok bool, err error) {
	rl, err := r.Filelog(path)
	if err != nil {
		return nil, nil, FileDelta{}, false, err
	}
	rev, found := rl.Rev(n)
	if !found || rev < 0 {
		return nil, nil, FileDelta{}, false, corruptf("hg: file %s: node %s not found", path, n)
	}
	text, rd, ok, err := rl.RevisionDelta(rev)
	if err != nil {
		return nil, nil, FileDelta{}, false, err
	}
	data, meta, err = ParseFileMeta(text)
	if err != nil {
		return nil, nil, FileDelta{}, false, fmt.Errorf("hg: file %s rev %d: %w", path, rev, err)
	}
	if !ok || len(data) != len(text) {
		return data, meta, FileDelta{}, false, nil
	}
	return data, meta, FileDelta{Base: rl.node(rd.Base), BaseSize: rd.BaseSize, Patch: rd.Patch}, true, nil
}

// HasObsstore reports whether the repository has obsolescence markers
// (a non-empty .hg/store/obsstore): some changesets may then be hidden
// (see HiddenRevs).
func (r *Repo) HasObsstore() bool {
	st, err := os.Stat(filepath.Join(r.storeDir, "obsstore"))
	return err == nil && st.Size() > 0
}

// Close releases the repository's open files.
func (r *Repo) Close() error {
	err := errors.Join(r.changelog.Close(), r.manifests.Close())
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, of := range r.filelogs {
		err = errors.Join(err, of.rl.Close())
	}
	clear(r.filelogs)
	return err
}
