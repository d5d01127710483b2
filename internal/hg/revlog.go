package hg

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Revlog index header flags (the first 4 bytes of entry 0).
const (
	revlogV1          = 1
	flagInlineData    = 1 << 16
	flagGeneralDelta  = 1 << 17
	knownHeaderFlags  = flagInlineData | flagGeneralDelta
	indexEntrySize    = 64
	defaultCacheTexts = 4
)

// Per-revision flags stored in the index.
const (
	revFlagCensored  = 1 << 15
	revFlagEllipsis  = 1 << 14
	revFlagExtStored = 1 << 13
	knownRevFlags    = revFlagCensored | revFlagEllipsis | revFlagExtStored
)

// entry is one decoded revlog v1 index entry.
type entry struct {
	pos     int64 // where the chunk starts: in the .d file, or in the .i file when inline
	clen    int32 // compressed (stored) length of the chunk
	rawsize int32 // length of the full text, -1 if unknown
	base    int32 // delta base (generaldelta) or chain base
	link    int32 // changelog revision that introduced this revision
	p1, p2  int32 // parents, -1 for none
	flags   uint16
	node    Node
}

// Revlog is one revision log (changelog, manifest or filelog) in revlog
// format v1. Its methods are safe for concurrent use. Texts it returns are
// shared with its cache and must not be modified.
type Revlog struct {
	name         string // index path, for errors
	idx          revIndex
	inline       bool
	generalDelta bool
	index        []byte // the whole .i file when inline (holds the data)

	mu          sync.Mutex
	data        io.ReaderAt // the .d file (nil when inline or absent)
	dataName    string
	closer      io.Closer
	dataSize    int64
	nodemap     map[Node]int32
	cache       []cachedText
	cacheMax    int
	cacheAt     int
	cacheBytes  int         // bound on the cached texts' bytes (0: none)
	cachedBytes int         // their bytes now
	cacheIdx    map[int]int // rev → slot, for a large cache
	span        []byte      // reusable read buffer for chains read from the .d file
	delta       []byte      // reusable buffer for decompressed deltas
	scratch     [2][]byte
	zlib        zlibReader
	// recycle lets evicted cache texts be reused as output buffers. Only
	// the Repo sets it, for revlogs whose texts it never hands out;
	// Revision then returns copies.
	recycle bool
	free    [][]byte
	// wholeMax, when positive, lets the data file be read into memory at
	// once (when no larger) instead of one read per delta chain.
	wholeMax   int64
	whole      []byte
	chainReads int // chains read from the data file, up to wholeAfterChains
	// reads, when set, counts the revision texts requested (cached or
	// not): a Repo shares one counter among its revlogs.
	reads *atomic.Int64
	// chunkReads, when set, counts the chunks (full texts and deltas)
	// decompressed to build those texts: what a long delta chain costs.
	chunkReads *atomic.Int64
	// deltas, when set, keeps decompressed deltas for chains read again.
	deltas *deltaCache
	// hints are revisions callers already know by node (see Repo.KnowRevs),
	// checked against the index before Rev builds the node map, except
	// those below trustHints, which the caller checked.
	hints      map[Node]int
	trustHints int
}

// wholeAfterChains is how many chains a revlog reads from its data file,
// one read each, before it reads the whole file at once (see wholeMax).
const wholeAfterChains = 64

// stableChunks reports whether chunks are views of memory that is never
// overwritten (the inline index, or the whole data file).
func (rl *Revlog) stableChunks() bool { return rl.inline || rl.whole != nil }

type cachedText struct {
	rev   int
	text  []byte
	owned bool // allocated by this revlog (not a view of the index)
	used  bool // read since the clock hand last passed
}

// OpenRevlog opens the revlog whose index file is indexPath (ending in
// ".i"); the data file, if any, is the same path ending in ".d". A missing
// index is an empty revlog.
func OpenRevlog(indexPath string) (*Revlog, error) {
	return openRevlog(indexPath, strings.TrimSuffix(indexPath, ".i")+".d", defaultCacheTexts, false)
}

// openRevlog is OpenRevlog with a cache of cacheTexts texts; lazy lets a
// large index without inline data be read a page at a time (revIndex).
func openRevlog(indexPath, dataPath string, cacheTexts int, lazy bool) (*Revlog, error) {
	rl, err := readIndex(indexPath, lazy)
	if err != nil {
		return nil, err
	}
	rl.cacheMax = max(cacheTexts, 1)
	if !rl.inline && rl.idx.n > 0 {
		f, err := os.Open(dataPath)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				rl.closeIndex()
				return nil, fmt.Errorf("hg: open %s: %w", dataPath, err)
			}
		} else {
			st, err := f.Stat()
			if err != nil {
				f.Close()
				rl.closeIndex()
				return nil, fmt.Errorf("hg: stat %s: %w", dataPath, err)
			}
			rl.data, rl.closer, rl.dataName, rl.dataSize = f, f, dataPath, st.Size()
		}
	}
	return rl, nil
}

// indexChunk is how much of an index without inline data readIndex reads
// at a time (a multiple of indexEntrySize).
const indexChunk = 1024 * indexEntrySize

// readIndex reads and decodes the index at path (a missing one is empty).
// An index with inline data is read whole; another is read a chunk at a
// time, as only its decoded entries are kept, or, when lazy and large, a
// page at a time as its revisions are used (revIndex).
func readIndex(path string, lazy bool) (*Revlog, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return parseRevlog(path, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("hg: read %s: %w", path, err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hg: read %s: %w", path, err)
	}
	byPage := lazy && fi.Size() >= lazyMinPages*pageEntries*indexEntrySize
	chunk := make([]byte, min(fi.Size(), indexChunk))
	if byPage {
		chunk = chunk[:indexEntrySize:indexEntrySize] // the header: the rest is read by page
	}
	n, err := io.ReadFull(f, chunk)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("hg: read %s: %w", path, err)
	}
	chunk = chunk[:n]
	if n < indexEntrySize || binary.BigEndian.Uint32(chunk)&flagInlineData != 0 || fi.Size()%indexEntrySize != 0 {
		rest, err := io.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("hg: read %s: %w", path, err)
		}
		return parseRevlog(path, append(chunk, rest...))
	}
	rl, err := parseHeader(path, chunk)
	if err != nil {
		return nil, err
	}
	total := int(fi.Size() / indexEntrySize) // entries appended meanwhile are not seen
	if byPage {
		rl.idx.n = total
		rl.idx.pages = make([]atomic.Pointer[[]entry], (total+pageMask)>>pageShift)
		rl.idx.lazy = &lazyIndex{f: f, name: path}
		keep = true
		return rl, nil
	}
	all := make([]entry, 0, total)
	rest := io.LimitReader(f, fi.Size()-int64(n))
	for len(chunk) > 0 {
		if all, err = appendEntries(path, false, all, chunk); err != nil {
			return nil, err
		}
		n, err := io.ReadFull(rest, chunk[:cap(chunk)])
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("hg: read %s: %w", path, err)
		}
		chunk = chunk[:n]
	}
	rl.idx.setEntries(all)
	return rl, nil
}

// parseRevlog decodes a revlog index (with its data when inline). It checks
// every entry's fields so that later reads cannot loop or go out of range.
func parseRevlog(name string, b []byte) (*Revlog, error) {
	if len(b) == 0 {
		return &Revlog{name: name, cacheMax: defaultCacheTexts, generalDelta: true}, nil
	}
	rl, err := parseHeader(name, b)
	if err != nil {
		return nil, err
	}
	if !rl.inline && len(b)%indexEntrySize != 0 {
		return nil, corruptf("hg: read %s: index size %d is not a multiple of %d", name, len(b), indexEntrySize)
	}
	if rl.inline {
		rl.index = b
	}
	all, err := appendEntries(name, rl.inline, make([]entry, 0, len(b)/indexEntrySize), b) // bounds the count in both layouts
	if err != nil {
		return nil, err
	}
	rl.idx.setEntries(all)
	return rl, nil
}

// parseHeader checks the version and flags in the first 4 bytes of b and
// returns an empty revlog.
func parseHeader(name string, b []byte) (*Revlog, error) {
	rl := &Revlog{name: name, cacheMax: defaultCacheTexts}
	if len(b) < 4 {
		return nil, corruptf("hg: read %s: index truncated (%d bytes)", name, len(b))
	}
	header := binary.BigEndian.Uint32(b)
	if v := header & 0xFFFF; v != revlogV1 {
		return nil, &UnsupportedError{Requirement: fmt.Sprintf("revlog version %d", v), Path: name}
	}
	if f := header &^ 0xFFFF; f&^knownHeaderFlags != 0 {
		return nil, corruptf("hg: read %s: unknown revlog flags %#x", name, f)
	}
	rl.inline = header&flagInlineData != 0
	rl.generalDelta = header&flagGeneralDelta != 0
	return rl, nil
}

// appendEntries decodes the entries in b, which follow those of all: the
// whole index when inline, otherwise a whole number of entries.
func appendEntries(name string, inline bool, all []entry, b []byte) ([]entry, error) {
	pos := 0
	for pos < len(b) {
		rev := len(all)
		if len(b)-pos < indexEntrySize {
			return nil, corruptf("hg: read %s: entry %d truncated at offset %d", name, rev, pos)
		}
		ent, offFlags, err := decodeEntry(name, rev, b[pos:pos+indexEntrySize])
		if err != nil {
			return nil, err
		}
		if inline {
			ent.pos = int64(pos + indexEntrySize)
			if int64(len(b))-ent.pos < int64(ent.clen) {
				return nil, corruptf("hg: read %s: rev %d: inline data truncated", name, rev)
			}
			pos += indexEntrySize + int(ent.clen)
		} else {
			ent.pos = int64(offFlags >> 16)
			pos += indexEntrySize
		}
		all = append(all, ent)
	}
	return all, nil
}

// Len returns the number of revisions.
func (rl *Revlog) Len() int { return rl.idx.n }

// Inline reports whether the revision data is stored in the index file.
func (rl *Revlog) Inline() bool { return rl.inline }

// GeneralDelta reports whether deltas may be against any earlier revision.
func (rl *Revlog) GeneralDelta() bool { return rl.generalDelta }

// Node returns the node of rev: NullNode for -1 (the null revision), an
// error wrapping ErrRevisionRange for a revision the revlog lacks.
func (rl *Revlog) Node(rev int) (Node, error) {
	if rev == -1 {
		return NullNode, nil
	}
	e, err := rl.entErr(rev)
	if err != nil {
		return NullNode, err
	}
	return e.node, nil
}

// node is Node for a revision known to be in [-1, Len()), such as a parent
// the index was checked to hold.
func (rl *Revlog) node(rev int) Node {
	if rev < 0 {
		return NullNode
	}
	return rl.ent(rev).node
}

// Parents returns the parent revisions of rev (-1 for none).
func (rl *Revlog) Parents(rev int) (p1, p2 int, err error) {
	e, err := rl.entErr(rev)
	if err != nil {
		return -1, -1, err
	}
	return int(e.p1), int(e.p2), nil
}

// LinkRev returns the changelog revision that introduced rev.
func (rl *Revlog) LinkRev(rev int) (int, error) {
	e, err := rl.entErr(rev)
	if err != nil {
		return -1, err
	}
	return int(e.link), nil
}

// RawSize returns the length of rev's full text, -1 when the index does not
// record it.
func (rl *Revlog) RawSize(rev int) (int, error) {
	e, err := rl.entErr(rev)
	if err != nil {
		return -1, err
	}
	return int(e.rawsize), nil
}

// Rev returns the revision holding node n. NullNode is revision -1.
func (rl *Revlog) Rev(n Node) (int, bool) {
	if n == NullNode {
		return -1, true
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if r, ok := rl.hints[n]; ok && r >= 0 && r < rl.idx.n && (r < rl.trustHints || rl.ent(r).node == n) {
		return r, true
	}
	if rl.nodemap == nil {
		// The newest revisions, which an increment reads, are found
		// without building the node map of the whole revlog.
		for rev := rl.idx.n - 1; rev >= 0 && rev >= rl.idx.n-tailSearch; rev-- {
			if rl.ent(rev).node == n {
				return rev, true
			}
		}
		rl.nodemap = make(map[Node]int32, rl.idx.n)
		for i := range rl.idx.n {
			rl.nodemap[rl.ent(i).node] = int32(i)
		}
	}
	r, ok := rl.nodemap[n]
	return int(r), ok
}

// tailSearch is how many of the last revisions Rev compares one by one
// before it builds the node map.
const tailSearch = 16

// Close releases the data file.
func (rl *Revlog) Close() error {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.cache, rl.cacheIdx, rl.cachedBytes = nil, nil, 0
	err := rl.closeIndex()
	if rl.closer != nil {
		err = errors.Join(err, rl.closer.Close())
		rl.data, rl.closer = nil, nil
	}
	return err
}

// Revision returns the full text of rev. The result is shared with the
// revlog's cache (callers must not modify it), except for a Repo's
// changelog and manifest log, which return a copy.
func (rl *Revlog) Revision(rev int) ([]byte, error) {
	if err := rl.checkRev(rev); err != nil {
		return nil, err
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	text, err := rl.revision(rev, nil)
	if err == nil && rl.recycle {
		text = bytes.Clone(text)
	}
	return text, err
}

// Verify reconstructs rev and checks that its node is the hash of its
// parents and text.
func (rl *Revlog) Verify(rev int) error {
	text, err := rl.Revision(rev)
	if err != nil {
		return err
	}
	e := rl.ent(rev)
	if got := HashRevision(rl.node(int(e.p1)), rl.node(int(e.p2)), text); got != e.node {
		return corruptf("hg: verify %s: rev %d: node %s does not match content hash %s", rl.name, rev, e.node, got)
	}
	return nil
}

// HashRevision returns a revision's node: sha1(min(p1,p2) + max(p1,p2) + text).
func HashRevision(p1, p2 Node, text []byte) Node {
	a, b := p1, p2
	if string(b[:]) < string(a[:]) {
		a, b = b, a
	}
	h := sha1.New()
	h.Write(a[:])
	h.Write(b[:])
	h.Write(text)
	var n Node
	h.Sum(n[:0])
	return n
}

func (rl *Revlog) cached(rev int) []byte {
	if rl.cacheIdx != nil {
		if i, ok := rl.cacheIdx[rev]; ok {
			rl.cache[i].used = true
			return rl.cache[i].text
		}
		return nil
	}
	for i := range rl.cache {
		if rl.cache[i].rev == rev && rl.cache[i].text != nil {
			rl.cache[i].used = true
			return rl.cache[i].text
		}
	}
	return nil
}

// remember caches text as rev's. The cache holds up to cacheMax texts and,
// when cacheBytes is set, about that many bytes (always the newest text);
// it evicts by the clock algorithm (a text used since the hand last passed
// is kept one more round), as a conversion returns to recent branch points.
func (rl *Revlog) remember(rev int, text []byte, owned bool) {
	if text == nil {
		text = []byte{}
	}
	if rl.cacheMax > 8 && rl.cacheIdx == nil {
		rl.cacheIdx = make(map[int]int, rl.cacheMax)
	}
	fits := rl.cacheBytes <= 0 || rl.cachedBytes+len(text) <= rl.cacheBytes
	if len(rl.cache) == 0 || len(rl.cache) < rl.cacheMax && fits {
		rl.place(len(rl.cache), rev, text, owned)
		return
	}
	for n := 0; n < 2*len(rl.cache); n++ {
		if c := &rl.cache[rl.cacheAt]; !c.used || c.text == nil {
			break
		}
		rl.cache[rl.cacheAt].used = false
		rl.cacheAt = (rl.cacheAt + 1) % len(rl.cache)
	}
	at := rl.cacheAt
	rl.evict(at)
	rl.place(at, rev, text, owned)
	rl.cacheAt = (at + 1) % len(rl.cache)
	for i := rl.cacheAt; rl.cacheBytes > 0 && rl.cachedBytes > rl.cacheBytes && i != at; i = (i + 1) % len(rl.cache) {
		rl.evict(i)
	}
}

// place puts a text in cache slot i (appending when i is the length).
func (rl *Revlog) place(i, rev int, text []byte, owned bool) {
	c := cachedText{rev: rev, text: text, owned: owned}
	if i == len(rl.cache) {
		rl.cache = append(rl.cache, c)
	} else {
		rl.cache[i] = c
	}
	rl.cachedBytes += len(text)
	if rl.cacheIdx != nil {
		rl.cacheIdx[rev] = i
	}
}

// evict empties cache slot i, recycling its text when it may.
func (rl *Revlog) evict(i int) {
	old := rl.cache[i]
	if old.text == nil {
		return
	}
	if rl.recycle && old.owned && cap(old.text) > 0 {
		if len(rl.free) >= 2 {
			rl.free = rl.free[1:]
		}
		rl.free = append(rl.free, old.text[:0])
	}
	rl.cachedBytes -= len(old.text)
	if rl.cacheIdx != nil && rl.cacheIdx[old.rev] == i {
		delete(rl.cacheIdx, old.rev)
	}
	rl.cache[i] = cachedText{}
}

// outputBuffer returns a buffer of size bytes for a reconstructed text,
// reusing a recycled one when possible. Its contents are not zeroed.
func (rl *Revlog) outputBuffer(size int) []byte {
	for i, b := range rl.free {
		if cap(b) >= size {
			rl.free = append(rl.free[:i], rl.free[i+1:]...)
			return b[:size]
		}
	}
	return make([]byte, size)
}

// withRevision calls fn with rev's text while holding the revlog's lock,
// so that the text cannot be recycled meanwhile.
func (rl *Revlog) withRevision(rev int, fn func(text []byte) error) error {
	if err := rl.checkRev(rev); err != nil {
		return err
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	text, err := rl.revision(rev, nil)
	if err != nil {
		return err
	}
	return fn(text)
}

// Delta is a revision's stored delta: the Mercurial binary patch (hunks
// of start, end, length and data over the base's text) that turns the full
// text of revision Base, of BaseSize bytes, into the revision's text.
type Delta struct {
	Base     int
	BaseSize int
	Patch    []byte
}

// RevisionDelta is Revision, also returning the delta rev is stored as
// when reading rev applied it (ok false when rev is stored whole, or its
// text was cached). The patch is the caller's.
func (rl *Revlog) RevisionDelta(rev int) (text []byte, d Delta, ok bool, err error) {
	if err := rl.checkRev(rev); err != nil {
		return nil, Delta{}, false, err
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	d.Base = -1
	text, err = rl.revision(rev, &d)
	if err == nil && rl.recycle {
		text = bytes.Clone(text)
	}
	return text, d, err == nil && d.Base >= 0, err
}

// deltaParent returns the revision rev's stored delta applies to (rev
// itself when it is stored whole).
func (rl *Revlog) deltaParent(rev int) int {
	b := int(rl.ent(rev).base)
	if b == rev || rl.generalDelta {
		return b
	}
	return rev - 1
}

// revision reconstructs rev's text; when last is set and rev's own delta
// is applied, it is copied there.
func (rl *Revlog) revision(rev int, last *Delta) ([]byte, error) {
	if rl.reads != nil {
		rl.reads.Add(1)
	}
	if t := rl.cached(rev); t != nil {
		return t, nil
	}
	e := rl.ent(rev)
	if e.flags&^knownRevFlags != 0 {
		return nil, corruptf("hg: read %s: rev %d: unknown revision flags %#x", rl.name, rev, e.flags)
	}
	if e.flags&revFlagCensored != 0 {
		return nil, corruptf("hg: read %s: rev %d is censored", rl.name, rev)
	}
	if e.flags&revFlagExtStored != 0 {
		return nil, &UnsupportedError{Requirement: "externally stored revision (lfs)", Path: rl.name}
	}

	// Walk the delta chain back to a full text or a cached text.
	var chainBuf [32]int
	chain := chainBuf[:0]
	var text []byte
	full := false
	for r := rev; ; {
		if t := rl.cached(r); t != nil {
			text = t
			break
		}
		chain = append(chain, r)
		b := int(rl.ent(r).base)
		if b == r {
			full = true
			break
		}
		if rl.generalDelta {
			r = b
		} else {
			r--
		}
	}
	if err := rl.indexErr(); err != nil {
		return nil, err
	}

	if rl.chunkReads != nil {
		rl.chunkReads.Add(int64(len(chain)))
	}
	chunks, err := rl.chunks(chain)
	if err != nil {
		return nil, err
	}
	i := len(chain) - 1
	// Intermediate texts of the chain go to two scratch buffers, used in
	// turn (the chain's base is in slot i&1, its first patched text in the
	// other): a chain rebuilds texts of about the same size every time.
	var scratch *[2][]byte
	getScratch := func() *[2][]byte {
		if scratch == nil {
			scratch = &rl.scratch
			if !rl.recycle {
				// A filelog is read a few times: its buffers come
				// from a pool shared by all of them.
				scratch = scratchPool.Get().(*[2][]byte)
			}
		}
		return scratch
	}
	defer func() {
		if scratch != nil && scratch != &rl.scratch {
			scratchPool.Put(scratch)
		}
	}()
	if full {
		base := chain[i]
		var dst []byte // the base's own buffer: it is rev's text
		if i > 0 {
			// An intermediate text, patched by the deltas above it.
			s := &getScratch()[i&1]
			if *s == nil {
				*s = []byte{}
			}
			dst = *s
		}
		t, err := rl.decompress(chunks[i], dst, rl.ent(base).rawsize, true)
		if i > 0 && err == nil && cap(t) > cap(dst) && decodesFresh(chunks[i]) {
			getScratch()[i&1] = t[:0] // grown (a raw chunk is a view of the read buffer)
		}
		if err != nil {
			return nil, corruptf("hg: read %s: rev %d: %w", rl.name, base, err)
		}
		if rs := rl.ent(base).rawsize; rs >= 0 && int(rs) != len(t) {
			return nil, corruptf("hg: read %s: rev %d: text is %d bytes, index says %d", rl.name, base, len(t), rs)
		}
		text = t
		if i == 0 {
			rl.remember(rev, text, !rl.stableChunks() || decodesFresh(chunks[i]))
			return text, nil
		}
		i--
	}
	if i >= 1 && rl.foldPays(chain[:i+1], len(text)) {
		return rl.foldChain(rev, chain[:i+1], chunks[:i+1], text, last)
	}
	for ; i >= 0; i-- {
		r := chain[i]
		rs := rl.ent(r).rawsize
		d, err := rl.deltaAt(r, chunks[i])
		if err != nil {
			return nil, err
		}
		size, err := patchedSize(len(text), d)
		if err != nil {
			return nil, corruptf("hg: read %s: rev %d: %w", rl.name, r, err)
		}
		if rs >= 0 && int(rs) != size {
			return nil, corruptf("hg: read %s: rev %d: text would be %d bytes, index says %d", rl.name, r, size, rs)
		}
		var dst []byte
		if i == 0 {
			dst = rl.outputBuffer(size)
		} else {
			s := &getScratch()[i&1]
			if cap(*s) < size {
				*s = make([]byte, size, size+size/8)
			}
			dst = (*s)[:size]
		}
		if i == 0 && last != nil {
			// text is the delta parent's (the chain's next link).
			*last = Delta{Base: rl.deltaParent(r), BaseSize: len(text), Patch: bytes.Clone(d)}
		}
		applyDelta(dst, text, d)
		text = dst
	}
	rl.remember(rev, text, true)
	return text, nil
}

// deltaAt returns the delta rev r is stored as, from its chunk or the
// delta cache; it is valid until the next call.
func (rl *Revlog) deltaAt(r int, chunk []byte) ([]byte, error) {
	if d, hit := rl.deltas.get(rl.name, r); hit {
		return d, nil
	}
	d, err := rl.decompress(chunk, rl.delta[:0], rl.ent(r).rawsize, false)
	if err != nil {
		return nil, corruptf("hg: read %s: rev %d: %w", rl.name, r, err)
	}
	if decodesFresh(chunk) {
		rl.deltas.put(rl.name, r, d)
		if cap(d) > cap(rl.delta) {
			// Keep a larger decompression buffer (never a raw chunk,
			// which lives in the read buffer).
			rl.delta = d[:0]
		}
	}
	return d, nil
}

// foldPays reports whether folding the deltas of chain (see foldChain)
// over a base of baseLen bytes costs less than applying them one at a
// time: when the text is not small and the deltas are smaller (a
// manifest's edits), as folding costs about a segment per hunk and level
// where applying copies the whole text per delta.
func (rl *Revlog) foldPays(chain []int, baseLen int) bool {
	size := max(baseLen, int(rl.ent(chain[0]).rawsize))
	if size < foldMinText {
		return false
	}
	stored := 0
	for _, r := range chain {
		stored += int(rl.ent(r).clen)
	}
	return stored*foldRatio < len(chain)*size
}

// foldMinText is the smallest text whose chain foldPays folds; foldRatio
// is how much smaller than the texts the chain's stored deltas must be.
const foldMinText, foldRatio = 4 << 10, 4

// foldChain is the end of revision for a chain of deltas (chain and
// chunks, the first applied last) over base: it folds the deltas into
// one (see foldSegments) and applies that, copying the text once instead
// of once per delta: a manifest's chain is hundreds of deltas of a few
// hundred bytes each over a text of a hundred kilobytes.
func (rl *Revlog) foldChain(rev int, chain []int, chunks [][]byte, base []byte, last *Delta) ([]byte, error) {
	n := len(chain)
	f := folderPool.Get().(*folder)
	defer f.release()
	// All the deltas at once, in the order applied.
	arena, ends := f.arena[:0], f.ends[1][:0]
	for k := range n {
		d, err := rl.deltaAt(chain[n-1-k], chunks[n-1-k])
		if err != nil {
			return nil, err
		}
		arena = append(arena, d...)
		ends = append(ends, len(arena))
	}
	f.arena, f.ends[1] = arena, ends
	if len(arena) > maxChunkSize {
		return nil, fmt.Errorf("hg: read %s: rev %d: the deltas of its chain exceed %d bytes", rl.name, rev, maxChunkSize)
	}
	segs, segEnds := f.segs[0][:0], f.ends[0][:0]
	size, at := len(base), 0
	for k := range n {
		r := chain[n-1-k]
		d := arena[at:ends[k]]
		next, err := patchedSize(size, d)
		if err != nil {
			return nil, corruptf("hg: read %s: rev %d: %w", rl.name, r, err)
		}
		if rs := rl.ent(r).rawsize; rs >= 0 && int(rs) != next {
			return nil, corruptf("hg: read %s: rev %d: text would be %d bytes, index says %d", rl.name, r, next, rs)
		}
		if k == n-1 && last != nil {
			*last = Delta{Base: rl.deltaParent(r), BaseSize: size, Patch: bytes.Clone(d)}
		}
		segs = appendSegments(segs, size, d, at)
		segEnds = append(segEnds, len(segs))
		size, at = next, ends[k]
	}
	f.segs[0], f.ends[0] = segs, segEnds
	dst := rl.outputBuffer(size)
	applySegments(dst, base, arena, f.fold())
	rl.remember(rev, dst, true)
	return dst, nil
}

// deltaCache keeps decompressed delta chunks of a Repo's revlogs, by
// revlog name and revision, up to a budget in bytes, evicting the oldest
// first. A delta chain of a sparse revlog is a hundred deltas long or more
// and a conversion follows much of one again each time it needs a text its
// revlog no longer caches (a filelog closed and opened again, a branch
// revisited): decompressing a small zstd frame costs far more than keeping
// it. The nil cache keeps nothing.
type deltaCache struct {
	mu    sync.Mutex
	m     map[deltaKey][]byte
	fifo  []deltaKey
	head  int
	bytes int
	max   int
}

type deltaKey struct {
	name string
	rev  int
}

// deltaCacheMaxChunk is the largest delta kept: a larger one is rarely
// part of a long chain, and would push many small ones out.
const deltaCacheMaxChunk = 64 << 10

func newDeltaCache(bytes int) *deltaCache {
	if bytes <= 0 {
		return nil
	}
	return &deltaCache{m: map[deltaKey][]byte{}, max: bytes}
}

func (c *deltaCache) get(name string, rev int) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	d, ok := c.m[deltaKey{name, rev}]
	c.mu.Unlock()
	return d, ok
}

// put keeps a copy of d as the delta of rev.
func (c *deltaCache) put(name string, rev int, d []byte) {
	if c == nil || len(d) > deltaCacheMaxChunk || len(d) > c.max/4 {
		return
	}
	k := deltaKey{name, rev}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	c.m[k] = bytes.Clone(d)
	c.fifo = append(c.fifo, k)
	c.bytes += len(d) + deltaEntryOverhead
	for c.bytes > c.max && c.head < len(c.fifo) {
		old := c.fifo[c.head]
		c.fifo[c.head] = deltaKey{}
		c.head++
		c.bytes -= len(c.m[old]) + deltaEntryOverhead
		delete(c.m, old)
	}
	if c.head > len(c.fifo)/2 && c.head > 1024 {
		c.fifo = append(c.fifo[:0], c.fifo[c.head:]...)
		c.head = 0
	}
}

// deltaEntryOverhead is roughly what one kept delta costs besides its
// bytes (map entry, key, slice header, queue slot).
const deltaEntryOverhead = 96

// scratchPool holds the intermediate text buffers of filelogs' delta chains.
var scratchPool = sync.Pool{New: func() any { return new([2][]byte) }}

// deltaLimit bounds the decompressed size of a delta producing a text of
// rawsize bytes.
func deltaLimit(rawsize int32) int {
	if rawsize < 0 {
		return maxChunkSize
	}
	return min(maxChunkSize, 1<<20+16*int(rawsize))
}

// chunks returns the stored chunks of the revisions in chain. Chunks of a
// separate data file are read with as few reads as practical into a buffer
// reused by the next call.
func (rl *Revlog) chunks(chain []int) ([][]byte, error) {
	out := make([][]byte, len(chain))
	if rl.inline {
		for i, r := range chain {
			e := rl.ent(r)
			out[i] = rl.index[e.pos : e.pos+int64(e.clen)]
		}
		return out, nil
	}
	// The whole file is read only once this revlog has served many
	// chains: a reader of a few revisions (an incremental conversion)
	// must not pay for the whole history.
	if rl.whole == nil && rl.data != nil && rl.wholeMax > 0 && rl.chainReads < wholeAfterChains {
		rl.chainReads++
	}
	if rl.whole == nil && rl.data != nil && rl.dataSize > 0 && rl.dataSize <= rl.wholeMax && rl.chainReads >= wholeAfterChains {
		buf := make([]byte, rl.dataSize)
		if _, err := rl.data.ReadAt(buf, 0); err != nil {
			return nil, fmt.Errorf("hg: read %s: %w", rl.dataName, err)
		}
		rl.whole = buf
	}
	if rl.whole != nil {
		for i, r := range chain {
			e := rl.ent(r)
			end := e.pos + int64(e.clen)
			if end > int64(len(rl.whole)) {
				return nil, corruptf("hg: read %s: rev %d: data [%d,%d) beyond end of data file (%d bytes)", rl.name, r, e.pos, end, len(rl.whole))
			}
			out[i] = rl.whole[e.pos:end]
		}
		return out, nil
	}
	lo, hi, sum := int64(-1), int64(0), int64(0)
	for _, r := range chain {
		e := rl.ent(r)
		end := e.pos + int64(e.clen)
		if e.clen > 0 && (end > rl.dataSize || rl.data == nil) {
			return nil, corruptf("hg: read %s: rev %d: data [%d,%d) beyond end of data file (%d bytes)", rl.name, r, e.pos, end, rl.dataSize)
		}
		if e.clen == 0 {
			continue
		}
		if lo < 0 || e.pos < lo {
			lo = e.pos
		}
		hi = max(hi, end)
		sum += int64(e.clen)
	}
	if sum == 0 {
		for i := range out {
			out[i] = []byte{}
		}
		return out, nil
	}
	if span := hi - lo; span <= 2*sum+64<<10 {
		if int64(cap(rl.span)) < span {
			rl.span = make([]byte, span)
		}
		buf := rl.span[:span]
		if _, err := rl.data.ReadAt(buf, lo); err != nil {
			return nil, fmt.Errorf("hg: read %s: %w", rl.dataName, err)
		}
		for i, r := range chain {
			e := rl.ent(r)
			if e.clen == 0 {
				out[i] = []byte{}
				continue
			}
			out[i] = buf[e.pos-lo : e.pos-lo+int64(e.clen)]
		}
		return out, nil
	}
	if int64(cap(rl.span)) < sum {
		rl.span = make([]byte, sum)
	}
	buf := rl.span[:sum]
	at := int64(0)
	for i, r := range chain {
		e := rl.ent(r)
		c := buf[at : at+int64(e.clen)]
		if _, err := rl.data.ReadAt(c, e.pos); err != nil {
			return nil, fmt.Errorf("hg: read %s: %w", rl.dataName, err)
		}
		out[i] = c
		at += int64(e.clen)
	}
	return out, nil
}

// patchedSize validates a delta against a base text of baseLen bytes and
// returns the length of the text it produces.
func patchedSize(baseLen int, delta []byte) (int, error) {
	size, last := baseLen, 0
	for p := 0; p < len(delta); {
		if len(delta)-p < 12 {
			return 0, fmt.Errorf("delta truncated at offset %d", p)
		}
		start := int(binary.BigEndian.Uint32(delta[p:]))
		end := int(binary.BigEndian.Uint32(delta[p+4:]))
		n := int(binary.BigEndian.Uint32(delta[p+8:]))
		p += 12
		if start < last || end < start || end > baseLen {
			return 0, fmt.Errorf("delta hunk at offset %d: bad range [%d,%d) (base %d bytes, previous hunk ended at %d)", p-12, start, end, baseLen, last)
		}
		if n > len(delta)-p {
			return 0, fmt.Errorf("delta hunk at offset %d: %d bytes of data, %d available", p-12, n, len(delta)-p)
		}
		p += n
		size += n - (end - start)
		last = end
	}
	return size, nil
}

// applyDelta writes base patched by delta into dst, which must have the
// length patchedSize returned for them.
func applyDelta(dst, base, delta []byte) {
	w, last := 0, 0
	for p := 0; p < len(delta); {
		start := int(binary.BigEndian.Uint32(delta[p:]))
		end := int(binary.BigEndian.Uint32(delta[p+4:]))
		n := int(binary.BigEndian.Uint32(delta[p+8:]))
		p += 12
		w += copy(dst[w:], base[last:start])
		w += copy(dst[w:], delta[p:p+n])
		p += n
		last = end
	}
	copy(dst[w:], base[last:])
}

// Patch applies a Mercurial binary delta to base and returns the new text.
func Patch(base, delta []byte) ([]byte, error) {
	size, err := patchedSize(len(base), delta)
	if err != nil {
		return nil, corruptf("hg: patch: %w", err)
	}
	dst := make([]byte, size)
	applyDelta(dst, base, delta)
	return dst, nil
}
