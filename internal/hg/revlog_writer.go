package hg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// This file holds the write side used by the native wire transport
// (internal/hgwire): new revisions are added to a RevlogAppender, checked
// and kept in memory, and written to disk in one step by Commit, under a
// journal that hg's own "hg recover" understands.

// EncodeStorePath returns the file name, relative to the store, of a
// revlog file such as "data/foo/Bar.txt.i" in a store with the fncache
// and dotencode requirements (every store Mercurial ≥ 1.7 creates).
func EncodeStorePath(p string) string { return encodeStorePath(p, encodeDotHash) }

// EncodeDir is store.py's encodedir: the form fncache entries take.
func EncodeDir(p string) string { return encodeDir(p) }

// StoreDir returns the directory holding the repository's revlogs.
func (r *Repo) StoreDir() string { return r.storeDir }

// HasRequirement reports whether the repository requires req.
func (r *Repo) HasRequirement(req string) bool { return r.requires[req] }

// MaxInline is the data size past which an inline revlog is split into an
// index and a data file (revlog.py's _maxinline).
const MaxInline = 131072

// maxChainLen bounds delta chains written by a RevlogAppender (Mercurial's
// default maxchainlen with sparse-revlog).
const maxChainLen = 1000

// pendingRev is one revision added to a RevlogAppender but not written.
type pendingRev struct {
	node     Node
	p1, p2   int32
	link     int32
	base     int32 // delta base rev, == own rev for a full snapshot
	rawsize  int32
	chainLen int32
	chainSum int64 // bytes of stored chunks along the chain
	off, n   int   // chunk in the appender's buffer
}

// RevlogAppender adds revisions to one revlog. Revisions are verified
// (node = hash of parents and text) as they are added and written only by
// Commit (via a Journal).
type RevlogAppender struct {
	storeDir  string
	name      string // store-relative index path ("00changelog.i", "data/x.i")
	indexPath string
	dataPath  string
	old       *Revlog
	oldLen    int
	inline    bool
	general   bool
	exists    bool
	dataEnd   int64 // logical data length of the existing revlog

	pend      []pendingRev
	buf       []byte
	nodes     map[Node]int32
	texts     map[int][]byte // recent full texts, to apply deltas to
	textOrder []int
	textBytes int
	zbuf      bytes.Buffer
	zstd      bool
}

// Bounds of an appender's cache of recent texts.
const (
	maxCachedTexts     = 512
	maxCachedTextBytes = 32 << 20
)

// UseZstd makes new chunks zstd frames (for a store with the
// revlog-compression-zstd requirement) instead of zlib streams.
func (a *RevlogAppender) UseZstd() { a.zstd = true }

// DropCache forgets the cached texts (when the group of this revlog is
// done).
func (a *RevlogAppender) DropCache() {
	a.texts, a.textOrder, a.textBytes = nil, nil, 0
}

// OpenRevlogAppender opens the revlog at storeDir/name (name ends in ".i")
// for appending. A missing revlog is created inline with generaldelta.
func OpenRevlogAppender(storeDir, name string) (*RevlogAppender, error) {
	idx := filepath.Join(storeDir, filepath.FromSlash(name))
	dat := strings.TrimSuffix(idx, ".i") + ".d"
	rl, err := openRevlog(idx, dat, 4, false)
	if err != nil {
		return nil, err
	}
	a := &RevlogAppender{storeDir: storeDir, name: name, indexPath: idx, dataPath: dat, old: rl, oldLen: rl.Len(), nodes: map[Node]int32{}}
	if _, err := os.Stat(idx); err == nil {
		a.exists = true
		a.inline, a.general = rl.inline, rl.generalDelta
	} else if errors.Is(err, fs.ErrNotExist) {
		a.inline, a.general = true, true
	} else {
		rl.Close()
		return nil, fmt.Errorf("hg: stat %s: %w", idx, err)
	}
	if n := rl.Len(); n > 0 {
		if rl.inline {
			for i := range n {
				a.dataEnd += int64(rl.ent(i).clen)
			}
		} else {
			last := rl.ent(n - 1)
			a.dataEnd = last.pos + int64(last.clen)
		}
	}
	return a, nil
}

// Name returns the store-relative index path.
func (a *RevlogAppender) Name() string { return a.name }

// Len returns the number of revisions, existing and added.
func (a *RevlogAppender) Len() int { return a.oldLen + len(a.pend) }

// Added returns the number of revisions added and not yet written.
func (a *RevlogAppender) Added() int { return len(a.pend) }

// Rev returns the revision of n (existing or added); NullNode is -1.
func (a *RevlogAppender) Rev(n Node) (int, bool) {
	if r, ok := a.old.Rev(n); ok {
		return r, true
	}
	r, ok := a.nodes[n]
	return int(r), ok
}

// Node returns the node of rev (NullNode for -1 or a revision out of
// range).
func (a *RevlogAppender) Node(rev int) Node {
	if rev < a.oldLen {
		return a.old.node(rev)
	}
	if rev-a.oldLen >= len(a.pend) {
		return NullNode
	}
	return a.pend[rev-a.oldLen].node
}

// Parents returns the parent revisions of rev (-1 for none); rev must be
// in [0, Len()).
func (a *RevlogAppender) Parents(rev int) (int, int) {
	if rev < a.oldLen {
		e := a.old.ent(rev)
		return int(e.p1), int(e.p2)
	}
	p := &a.pend[rev-a.oldLen]
	return int(p.p1), int(p.p2)
}

// LinkRev returns the changelog revision rev was introduced by; rev must
// be in [0, Len()).
func (a *RevlogAppender) LinkRev(rev int) int {
	if rev < a.oldLen {
		return int(a.old.ent(rev).link)
	}
	return int(a.pend[rev-a.oldLen].link)
}

// Close releases the existing revlog's files.
func (a *RevlogAppender) Close() error { return a.old.Close() }

func (a *RevlogAppender) rememberText(rev int, text []byte) {
	if a.texts == nil {
		a.texts = map[int][]byte{}
	}
	if _, ok := a.texts[rev]; ok || len(text) > maxCachedTextBytes/4 {
		return
	}
	a.texts[rev] = text
	a.textOrder = append(a.textOrder, rev)
	a.textBytes += len(text)
	for len(a.textOrder) > maxCachedTexts || a.textBytes > maxCachedTextBytes {
		old := a.textOrder[0]
		a.textOrder = a.textOrder[1:]
		a.textBytes -= len(a.texts[old])
		delete(a.texts, old)
	}
}

// Revision returns the full text of rev, existing or added. The result
// must not be modified.
func (a *RevlogAppender) Revision(rev int) ([]byte, error) {
	if rev < a.oldLen {
		return a.old.Revision(rev)
	}
	if t, ok := a.texts[rev]; ok {
		return t, nil
	}
	// Walk the chain of added revisions back to a snapshot or to an
	// existing revision.
	var chain []int
	r := rev
	var text []byte
	for {
		if r < a.oldLen {
			t, err := a.old.Revision(r)
			if err != nil {
				return nil, err
			}
			text = t
			break
		}
		p := &a.pend[r-a.oldLen]
		chain = append(chain, r)
		if int(p.base) == r {
			break
		}
		if a.general {
			r = int(p.base)
		} else {
			r--
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		p := &a.pend[chain[i]-a.oldLen]
		c := a.buf[p.off : p.off+p.n]
		var rl Revlog
		d, err := rl.decompress(c, nil, p.rawsize, int(p.base) == chain[i])
		if err != nil {
			return nil, fmt.Errorf("hg: %s: rev %d: %w", a.name, chain[i], err)
		}
		if int(p.base) == chain[i] {
			text = bytes.Clone(d)
			continue
		}
		if text, err = Patch(text, d); err != nil {
			return nil, fmt.Errorf("hg: %s: rev %d: %w", a.name, chain[i], err)
		}
	}
	a.rememberText(rev, text)
	return text, nil
}

// UnknownNodeError is a parent or delta base that the revlog does not hold.
type UnknownNodeError struct {
	Revlog string
	Node   Node
	What   string // "parent" or "delta base"
	Of     Node
}

func (e *UnknownNodeError) Error() string {
	return fmt.Sprintf("hg: %s: %s %s of %s is unknown", e.Revlog, e.What, e.Node, e.Of)
}

// HashMismatchError is a revision whose text and parents do not hash to
// its node.
type HashMismatchError struct {
	Revlog     string
	Node, Hash Node
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("hg: %s: revision %s does not match its content (hash %s)", e.Revlog, e.Node, e.Hash)
}

// AddDelta adds the revision node with parents p1, p2, whose text is delta
// applied to the text of deltaBase (NullNode: the empty text), introduced
// by changelog revision link. A node already present is skipped (added
// reports false). The text is checked against node before anything is
// kept.
func (a *RevlogAppender) AddDelta(node, p1, p2, deltaBase Node, link int, delta []byte) (added bool, err error) {
	if _, ok := a.Rev(node); ok {
		return false, nil
	}
	if node == NullNode {
		return false, fmt.Errorf("hg: %s: revision with the null node", a.name)
	}
	p1r, ok := a.Rev(p1)
	if !ok {
		return false, &UnknownNodeError{Revlog: a.name, Node: p1, What: "parent", Of: node}
	}
	p2r, ok := a.Rev(p2)
	if !ok {
		return false, &UnknownNodeError{Revlog: a.name, Node: p2, What: "parent", Of: node}
	}
	br, ok := a.Rev(deltaBase)
	if !ok {
		return false, &UnknownNodeError{Revlog: a.name, Node: deltaBase, What: "delta base", Of: node}
	}
	var base []byte
	if br >= 0 {
		if base, err = a.Revision(br); err != nil {
			return false, err
		}
	}
	size, err := patchedSize(len(base), delta)
	if err != nil {
		return false, fmt.Errorf("hg: %s: delta for %s: %w", a.name, node, err)
	}
	if size > maxChunkSize {
		return false, fmt.Errorf("hg: %s: revision %s of %d bytes is too large", a.name, node, size)
	}
	text := make([]byte, size)
	applyDelta(text, base, delta)
	if h := HashRevision(p1, p2, text); h != node {
		return false, &HashMismatchError{Revlog: a.name, Node: node, Hash: h}
	}
	rev := a.Len()
	p := pendingRev{node: node, p1: int32(p1r), p2: int32(p2r), link: int32(link), rawsize: int32(size), base: int32(rev)}
	stored := text
	// Keep the delta when its chain stays short and cheap to read.
	if br >= 0 {
		cl, cs := a.chainInfo(br)
		useDelta := cl+1 <= maxChainLen && cs+int64(len(delta)) <= 4*int64(size)+4096
		if !a.general {
			useDelta = useDelta && br == rev-1
		}
		if useDelta && len(delta) < size {
			stored = delta
			p.base = int32(br)
			if !a.general {
				p.base = a.chainBase(br)
			}
			p.chainLen = int32(cl + 1)
		}
	}
	chunk := a.compress(stored)
	p.off, p.n = len(a.buf), len(chunk)
	a.buf = append(a.buf, chunk...)
	if p.chainLen > 0 {
		_, cs := a.chainInfo(br)
		p.chainSum = cs + int64(len(chunk))
	} else {
		p.chainSum = int64(len(chunk))
	}
	if !a.general && p.chainLen > 0 {
		// Without generaldelta the base field holds the chain's start and
		// the delta is against the previous revision.
		p.base = a.chainBase(br)
	}
	a.pend = append(a.pend, p)
	a.nodes[node] = int32(rev)
	a.rememberText(rev, text)
	return true, nil
}

// chainBase returns the start of rev's chain in a revlog without
// generaldelta (the base field of the index).
func (a *RevlogAppender) chainBase(rev int) int32 {
	if rev < a.oldLen {
		return a.old.ent(rev).base
	}
	return a.pend[rev-a.oldLen].base
}

// chainInfo returns the number of deltas in rev's chain and the bytes of
// stored chunks along it.
func (a *RevlogAppender) chainInfo(rev int) (int, int64) {
	if rev >= a.oldLen {
		p := &a.pend[rev-a.oldLen]
		return int(p.chainLen), p.chainSum
	}
	n, sum := 0, int64(0)
	for r := rev; ; n++ {
		e := a.old.ent(r)
		sum += int64(e.clen)
		if int(e.base) == r || n > maxChainLen {
			break
		}
		if a.old.generalDelta {
			r = int(e.base)
		} else {
			r--
		}
	}
	return n, sum
}

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true))
})

var zlibPool = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, 6); return w }}

// minCompressed is the size from which a RevlogAppender compresses a
// chunk (hg's engines start at 44 and 50 bytes). Most chunks of a clone
// are small deltas, for which a zstd frame's set-up costs more than the
// bytes it saves: flask's native clone used 0.54 user CPU seconds with
// it against 0.70 from 50 bytes, for a store 7% larger (12.4 MB, 11.6).
const minCompressed = 1024

// compress returns the stored form of data: a zstd frame (zlib stream
// without the zstd requirement) when data is at least minCompressed bytes
// and it is smaller, otherwise the raw bytes (with a 'u' marker unless
// they start with NUL).
func (a *RevlogAppender) compress(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	if len(data) >= minCompressed && a.zstd {
		enc, err := zstdEncoder()
		if err == nil {
			c := enc.EncodeAll(data, make([]byte, 0, len(data)/2+64))
			if len(c) < len(data) {
				return c
			}
		}
	} else if len(data) >= minCompressed {
		a.zbuf.Reset()
		w := zlibPool.Get().(*zlib.Writer)
		w.Reset(&a.zbuf)
		w.Write(data)
		w.Close()
		zlibPool.Put(w)
		if a.zbuf.Len() < len(data) {
			return a.zbuf.Bytes()
		}
	}
	if data[0] == 0 {
		return data
	}
	out := make([]byte, 0, len(data)+1)
	return append(append(out, 'u'), data...)
}

func (a *RevlogAppender) entryBytes(rev int, p *pendingRev, off int64, inline bool) []byte {
	var e [indexEntrySize]byte
	binary.BigEndian.PutUint64(e[0:], uint64(off)<<16)
	binary.BigEndian.PutUint32(e[8:], uint32(p.n))
	binary.BigEndian.PutUint32(e[12:], uint32(p.rawsize))
	binary.BigEndian.PutUint32(e[16:], uint32(p.base))
	binary.BigEndian.PutUint32(e[20:], uint32(p.link))
	binary.BigEndian.PutUint32(e[24:], uint32(p.p1))
	binary.BigEndian.PutUint32(e[28:], uint32(p.p2))
	copy(e[32:52], p.node[:])
	if rev == 0 {
		h := uint32(revlogV1)
		if inline {
			h |= flagInlineData
		}
		if a.general {
			h |= flagGeneralDelta
		}
		binary.BigEndian.PutUint32(e[0:], h)
	}
	return e[:]
}

// Commit writes the added revisions through j. A revlog whose data
// reaches MaxInline is split into an index and a data file, as hg does.
func (a *RevlogAppender) Commit(j *Journal) error {
	if len(a.pend) == 0 {
		return nil
	}
	dataName := strings.TrimSuffix(a.name, ".i") + ".d"
	total := a.dataEnd + int64(len(a.buf))
	off := a.dataEnd
	if !a.inline || total < MaxInline {
		var idx, dat []byte
		for i := range a.pend {
			p := &a.pend[i]
			idx = append(idx, a.entryBytes(a.oldLen+i, p, off, a.inline)...)
			if a.inline {
				idx = append(idx, a.buf[p.off:p.off+p.n]...)
			}
			off += int64(p.n)
		}
		if !a.inline {
			dat = a.buf
			if err := j.Append(dataName, dat); err != nil {
				return err
			}
		}
		return j.Append(a.name, idx)
	}
	// Split: every chunk goes to a new data file, the index is rewritten.
	var idx []byte
	var dat []byte
	if a.oldLen > 0 {
		dat = make([]byte, 0, total)
		for r := range a.old.Len() {
			e := a.old.ent(r)
			dat = append(dat, a.old.index[e.pos:e.pos+int64(e.clen)]...)
			b := bytes.Clone(a.old.index[e.pos-indexEntrySize : e.pos])
			if r == 0 {
				binary.BigEndian.PutUint32(b, binary.BigEndian.Uint32(b)&^flagInlineData)
			}
			idx = append(idx, b...)
		}
	}
	dat = append(dat, a.buf...)
	for i := range a.pend {
		p := &a.pend[i]
		idx = append(idx, a.entryBytes(a.oldLen+i, p, off, false)...)
		off += int64(p.n)
	}
	if err := j.Append(dataName, dat); err != nil {
		return err
	}
	return j.Replace(a.name, idx)
}

// CommitAlone is Commit under a journal of its own, for a writer whose
// change is this one revlog; a failed write is rolled back.
func (a *RevlogAppender) CommitAlone() error {
	j, err := OpenJournal(a.storeDir)
	if err != nil {
		return err
	}
	if err := a.Commit(j); err != nil {
		return errors.Join(err, j.Rollback())
	}
	return j.Close()
}
