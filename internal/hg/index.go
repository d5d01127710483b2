package hg

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// A revlog's index entries are kept in pages of pageEntries, so that a
// large index without inline data can be read a page at a time, when a
// revision of the page is first needed (Revlog.ent): a reader of the
// newest revisions (an incremental conversion) does not decode the index
// of the whole history. Inline and small indexes are decoded whole at
// open, as before.
const (
	pageShift   = 8
	pageEntries = 1 << pageShift
	pageMask    = pageEntries - 1
	// lazyMinPages is the smallest index, in pages, read lazily.
	lazyMinPages = 4
)

// revIndex holds a revlog's decoded entries.
type revIndex struct {
	n     int                       // revisions
	pages []atomic.Pointer[[]entry] // nil until read (lazy only)
	lazy  *lazyIndex                // nil: every page was decoded at open
	// decoded counts the entries decoded, at open and later (see
	// Repo.IndexEntries); nil for none.
	decoded *atomic.Int64
	atOpen  int64 // entries decoded at open
}

// lazyIndex is the open index file of a revIndex read a page at a time.
type lazyIndex struct {
	mu   sync.Mutex
	f    *os.File
	name string
	err  error // the first page that could not be read or decoded
	// failed is set with err, for indexErr's fast path.
	failed atomic.Bool
}

// badPage stands for the entries of a page that failed; Revlog.indexErr
// reports the failure to callers that can return an error.
var badPage = func() *[]entry {
	p := make([]entry, pageEntries)
	for i := range p {
		p[i] = entry{p1: -1, p2: -1, link: -1}
	}
	return &p
}()

// setEntries makes all (decoded at open) the entries of x.
func (x *revIndex) setEntries(all []entry) {
	x.n = len(all)
	x.atOpen = int64(len(all))
	x.pages = make([]atomic.Pointer[[]entry], (len(all)+pageMask)>>pageShift)
	for i := range x.pages {
		p := all[i<<pageShift : min(len(all), (i+1)<<pageShift)]
		x.pages[i].Store(&p)
	}
}

// ent returns the entry of rev, which must be in [0, Len()). A page that
// cannot be read gives placeholder entries (no parents, empty) and sets
// the error indexErr returns.
func (rl *Revlog) ent(rev int) *entry {
	p := rl.idx.pages[rev>>pageShift].Load()
	if p == nil {
		p = rl.loadPage(rev >> pageShift)
	}
	return &(*p)[rev&pageMask]
}

// checkRev is the range check of every call that takes a revision: an
// error wrapping ErrRevisionRange unless 0 <= rev < Len.
func (rl *Revlog) checkRev(rev int) error {
	if rev < 0 || rev >= rl.idx.n {
		return rangeError(rl.name, rev, rl.idx.n)
	}
	return nil
}

// entErr is ent for callers that return an error: checkRev's, or that of
// the page of rev when it could not be read.
func (rl *Revlog) entErr(rev int) (*entry, error) {
	if err := rl.checkRev(rev); err != nil {
		return nil, err
	}
	e := rl.ent(rev)
	if rl.idx.lazy != nil && rl.idx.pages[rev>>pageShift].Load() == nil {
		return e, rl.indexErr()
	}
	return e, nil
}

// indexErr returns the error of the first index page that failed, if any.
func (rl *Revlog) indexErr() error {
	if l := rl.idx.lazy; l != nil && l.failed.Load() {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.err
	}
	return nil
}

// Err reports whether part of the index could not be read (a revlog read
// lazily decodes its index as revisions are used): results computed from
// it since it failed are not to be trusted.
func (rl *Revlog) Err() error { return rl.indexErr() }

// loadPage reads and decodes page i of a lazily read index.
func (rl *Revlog) loadPage(i int) *[]entry {
	l := rl.idx.lazy
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := rl.idx.pages[i].Load(); p != nil {
		return p
	}
	if l.err != nil {
		return badPage
	}
	first := i << pageShift
	n := min(rl.idx.n-first, pageEntries)
	buf := make([]byte, n*indexEntrySize)
	if _, err := l.f.ReadAt(buf, int64(first)*indexEntrySize); err != nil {
		l.err = fmt.Errorf("hg: read %s: %w", l.name, err)
		l.failed.Store(true)
		return badPage
	}
	page := make([]entry, 0, n)
	page, err := decodeEntries(l.name, page, first, buf)
	if err != nil {
		l.err = err
		l.failed.Store(true)
		return badPage
	}
	if rl.idx.decoded != nil {
		rl.idx.decoded.Add(int64(n))
	}
	rl.idx.pages[i].Store(&page)
	return &page
}

// closeIndex releases the index file of a lazily read index.
func (rl *Revlog) closeIndex() error {
	if l := rl.idx.lazy; l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.f != nil {
			err := l.f.Close()
			l.f = nil
			if l.err == nil {
				l.err = fmt.Errorf("hg: read %s: revlog closed", l.name)
				l.failed.Store(true)
			}
			return err
		}
	}
	return nil
}

// decodeEntries decodes the whole entries in b (without inline data), the
// first of which is revision first, appending them to dst. It checks each
// entry's fields as appendEntries does.
func decodeEntries(name string, dst []entry, first int, b []byte) ([]entry, error) {
	for pos := 0; pos+indexEntrySize <= len(b); pos += indexEntrySize {
		rev := first + pos/indexEntrySize
		ent, offFlags, err := decodeEntry(name, rev, b[pos:pos+indexEntrySize])
		if err != nil {
			return dst, err
		}
		ent.pos = int64(offFlags >> 16)
		dst = append(dst, ent)
	}
	return dst, nil
}

// decodeEntry decodes and checks the index entry e of revision rev; the
// offset and flags word is returned as stored (the header masked out of
// revision 0's).
func decodeEntry(name string, rev int, e []byte) (entry, uint64, error) {
	offFlags := binary.BigEndian.Uint64(e)
	ent := entry{
		flags:   uint16(offFlags),
		clen:    int32(binary.BigEndian.Uint32(e[8:])),
		rawsize: int32(binary.BigEndian.Uint32(e[12:])),
		base:    int32(binary.BigEndian.Uint32(e[16:])),
		link:    int32(binary.BigEndian.Uint32(e[20:])),
		p1:      int32(binary.BigEndian.Uint32(e[24:])),
		p2:      int32(binary.BigEndian.Uint32(e[28:])),
	}
	copy(ent.node[:], e[32:52])
	if rev == 0 {
		offFlags &= 0xFFFF // the first 4 bytes hold the header, offset 0
	}
	if ent.clen < 0 {
		return ent, 0, corruptf("hg: read %s: rev %d: negative chunk length", name, rev)
	}
	if ent.base < 0 || int(ent.base) > rev {
		return ent, 0, corruptf("hg: read %s: rev %d: bad delta base %d", name, rev, ent.base)
	}
	if ent.p1 < -1 || int(ent.p1) >= rev || ent.p2 < -1 || int(ent.p2) >= rev {
		return ent, 0, corruptf("hg: read %s: rev %d: bad parents %d, %d", name, rev, ent.p1, ent.p2)
	}
	return ent, offFlags, nil
}
