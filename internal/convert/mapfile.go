package convert

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/synchroniser/synchroniser/internal/atomicfile"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// MapFile is hg-git's git-mapfile name inside .hg.
const MapFile = "git-mapfile"

// mapLineSize is the length of a map line: 40 hex digits, a space, 40 hex
// digits, a newline.
const mapLineSize = 82

// gitMap is the Mercurial → Git commit map, kept in hg-git's format:
// "<git sha> <hg node>\n" a line, in the order lines were added.
//
// Read whole (loadMap), byHg and lines hold every line. Opened from an
// earlier run's state and index (openMap), only what a run needs is read:
// byHg holds the lines after those the index covers, what the state
// remembers and what this run found or added, lines only this run's
// lines, and a node not in byHg is looked up in the index.
type gitMap struct {
	path  string
	byHg  map[hg.Node]git.Hash
	lines []mapLine // in file order, new ones appended

	index  *mapIndex // nil: read whole
	inFile int       // with index: lines in the file before this run
	saved  int       // with index: lines of lines already in the file
	last   hg.Node   // with index: the node of the file's last line
	err    error     // the first index read that failed

	// hits, when not nil, records the entries found (for the state).
	hits map[hg.Node]git.Hash
}

type mapLine struct {
	git git.Hash
	hg  hg.Node
}

// parseMapLine decodes one map line (with its newline); n numbers it for
// errors. It rejects what hg-git's load_map rejects (a line that is not 82
// bytes).
func parseMapLine(path string, n int, line []byte) (mapLine, error) {
	if len(line) != mapLineSize || line[40] != ' ' || line[81] != '\n' {
		return mapLine{}, fmt.Errorf("convert: %s:%d: corrupt mapfile line (length %d)", path, n, len(line))
	}
	gh, err1 := git.ParseHash(string(line[:40]))
	hn, err2 := hg.ParseNode(string(line[41:81]))
	if err1 != nil || err2 != nil {
		return mapLine{}, fmt.Errorf("convert: %s:%d: corrupt mapfile line %q", path, n, bytes.TrimSpace(line))
	}
	return mapLine{gh, hn}, nil
}

// loadMap reads path whole; a missing file is an empty map.
func loadMap(path string) (*gitMap, error) {
	m := &gitMap{path: path, byHg: make(map[hg.Node]git.Hash)}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("convert: read map: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		n := int(st.Size() / mapLineSize)
		m.byHg = make(map[hg.Node]git.Hash, n)
		m.lines = make([]mapLine, 0, n)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		if len(line) == 0 && err != nil {
			break
		}
		l, perr := parseMapLine(path, n, line)
		if perr != nil {
			return nil, perr
		}
		if _, dup := m.byHg[l.hg]; !dup {
			m.lines = append(m.lines, l)
		} else {
			for i := range m.lines {
				if m.lines[i].hg == l.hg {
					m.lines[i].git = l.git
				}
			}
		}
		m.byHg[l.hg] = l.git
		if err != nil {
			break
		}
	}
	return m, nil
}

// openMap opens the map at path for a run that continues the one that
// left st: when st goes with the map and the index covers most of it, the
// map is not read whole (see gitMap). Otherwise it is read whole.
func openMap(path string, st *runState) (*gitMap, error) {
	repairTornLine(path)
	if m := openIndexed(path, st); m != nil {
		return m, nil
	}
	return loadMap(path)
}

// repairTornLine drops a partial last line, which only an append cut short
// by a crash leaves (hg-git and loadMap's callers write whole files): the
// changesets of the lines lost are converted again.
func repairTornLine(path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return
	}
	torn := st.Size() % mapLineSize
	if torn == 0 {
		return
	}
	buf := make([]byte, torn)
	if _, err := f.ReadAt(buf, st.Size()-torn); err != nil || bytes.IndexByte(buf, '\n') >= 0 {
		return // not a torn append: loadMap reports the line
	}
	f.Truncate(st.Size() - torn)
}

// openIndexed opens the map with its index, or returns nil when it cannot:
// no state or one that does not go with the map, no usable index, an index
// too far behind the map.
func openIndexed(path string, st *runState) *gitMap {
	if st == nil || st.MapLines == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != int64(st.MapLines)*mapLineSize {
		return nil
	}
	x := openMapIndex(mapIndexPath(path), f, st.MapLines)
	if x == nil {
		return nil
	}
	tail := st.MapLines - x.n
	if tail > maxTail(x.n) {
		x.close()
		return nil
	}
	buf := make([]byte, tail*mapLineSize+mapLineSize)
	if _, err := f.ReadAt(buf, int64(x.n-1)*mapLineSize); err != nil {
		x.close()
		return nil
	}
	m := &gitMap{path: path, byHg: make(map[hg.Node]git.Hash, tail+len(st.Mapped)/40+16), index: x, inFile: st.MapLines}
	for i := 0; i <= tail; i++ {
		l, err := parseMapLine(path, x.n+i, buf[i*mapLineSize:(i+1)*mapLineSize])
		if err != nil {
			x.close()
			return nil
		}
		if i > 0 {
			m.byHg[l.hg] = l.git
		}
		m.last = l.hg
	}
	if m.last != st.MapLast {
		x.close()
		return nil
	}
	for b := st.Mapped; len(b) >= 40; b = b[40:] {
		m.byHg[hg.Node(b[:20])] = git.Hash(b[20:40])
	}
	return m
}

// maxTail is how many lines a map may have past the n its index covers
// before the index is written again: the lines past it are read at each
// run, a new index costs the whole map.
func maxTail(n int) int { return 1024 + n/16 }

// get returns the git commit of hg node n.
func (m *gitMap) get(n hg.Node) (git.Hash, bool) {
	h, ok := m.byHg[n]
	if !ok && m.index != nil {
		var err error
		h, ok, err = m.index.find(n)
		if err != nil && m.err == nil {
			m.err = err
		}
		if ok {
			m.byHg[n] = h
		}
	}
	if ok && m.hits != nil {
		m.hits[n] = h
	}
	return h, ok
}

func (m *gitMap) has(n hg.Node) bool {
	_, ok := m.get(n)
	return ok
}

func (m *gitMap) set(n hg.Node, h git.Hash) {
	if !m.has(n) {
		m.lines = append(m.lines, mapLine{h, n})
	}
	m.byHg[n] = h
}

// size returns the number of lines of the map.
func (m *gitMap) size() int {
	if m.index != nil {
		return m.inFile + len(m.lines)
	}
	return len(m.lines)
}

// lastNode returns the hg node of the map's last line (zero when empty).
func (m *gitMap) lastNode() hg.Node {
	switch {
	case len(m.lines) > 0:
		return m.lines[len(m.lines)-1].hg
	case m.index != nil:
		return m.last
	}
	return hg.NullNode
}

// readWhole reads the whole map into m, which then no longer uses its
// index; the lines added so far are kept (and saved by save as before).
func (m *gitMap) readWhole() error {
	if m.index == nil {
		return nil
	}
	whole, err := loadMap(m.path)
	if err != nil {
		return err
	}
	if len(whole.lines) != m.inFile+m.saved {
		return fmt.Errorf("convert: read map: %s changed during the conversion", m.path)
	}
	for _, l := range m.lines[m.saved:] {
		whole.set(l.hg, l.git)
	}
	whole.hits = m.hits
	m.close()
	*m = *whole
	return nil
}

// save writes the lines added since the last save. A map read whole is
// replaced atomically: a temporary file in the same directory is written,
// synced and renamed over it, so a reader (or a crash) sees either the old
// map or the new one, never a torn line. A map opened with its index has
// its new lines appended in one write, then synced (repairTornLine drops
// a line a crash tore).
func (m *gitMap) save() error {
	if m.err != nil {
		return fmt.Errorf("convert: read map index: %w", m.err)
	}
	if m.index != nil {
		return m.appendNew()
	}
	err := atomicfile.Write(m.path, MapFile+".tmp*", true, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 64<<10)
		w.Write(encodeMapLines(m.lines))
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("convert: save map: %w", err)
	}
	return nil
}

func (m *gitMap) appendNew() error {
	add := m.lines[m.saved:]
	if len(add) == 0 {
		return nil
	}
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("convert: save map: %w", err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != int64(m.inFile+m.saved)*mapLineSize {
		f.Close()
		return fmt.Errorf("convert: save map: %s changed during the conversion", m.path)
	}
	_, err = f.Write(encodeMapLines(add))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("convert: save map: %w", err)
	}
	m.saved = len(m.lines)
	return nil
}

func encodeMapLines(lines []mapLine) []byte {
	out := make([]byte, len(lines)*mapLineSize)
	for i, l := range lines {
		buf := out[i*mapLineSize : (i+1)*mapLineSize]
		hexEncode(buf[:40], l.git[:])
		buf[40] = ' '
		hexEncode(buf[41:81], l.hg[:])
		buf[81] = '\n'
	}
	return out
}

// updateIndex writes the index again when the map was read whole or has
// grown too far past it. Only a cache: a failure leaves the next run to
// read the map whole.
func (m *gitMap) updateIndex() error {
	if m.index != nil && m.size()-m.index.n <= maxTail(m.index.n) {
		return nil
	}
	if err := m.readWhole(); err != nil {
		return err
	}
	return writeMapIndex(mapIndexPath(m.path), m.lines)
}

func (m *gitMap) close() {
	if m.index != nil {
		m.index.close()
	}
}

func hexEncode(dst, src []byte) {
	const digits = "0123456789abcdef"
	for i, c := range src {
		dst[2*i] = digits[c>>4]
		dst[2*i+1] = digits[c&15]
	}
}

// MapIndexFile is the converter's index of the map, beside it in .hg: the
// map's first lines, by hg node, so that a run can look a changeset up
// without reading the whole map. Like StateFile, it is a cache: it names
// the last map line it covers, and is not used when the map differs there.
// hg-git neither reads nor writes it.
const MapIndexFile = "git-synchroniser-mapindex"

// The index: mapIndexMagic, the number of map lines n it covers (8 bytes,
// big-endian), the map's line n-1, then n records of hg node and git sha
// (20 bytes each), sorted by hg node.
const (
	mapIndexMagic  = "synchroniser map index 1\n"
	mapIndexHeader = len(mapIndexMagic) + 8 + mapLineSize
	mapIndexRecord = 40
)

func mapIndexPath(mapPath string) string { return filepath.Join(filepath.Dir(mapPath), MapIndexFile) }

// mapIndex is an open MapIndexFile.
type mapIndex struct {
	f *os.File
	n int // map lines covered
}

// openMapIndex opens the index at path of the map file mf (of lines
// lines), or returns nil when it is absent or does not go with mf.
func openMapIndex(path string, mf *os.File, lines int) *mapIndex {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	hdr := make([]byte, mapIndexHeader+mapLineSize)
	fi, err := f.Stat()
	if err == nil {
		_, err = io.ReadFull(f, hdr[:mapIndexHeader])
	}
	if err != nil || !bytes.HasPrefix(hdr, []byte(mapIndexMagic)) {
		f.Close()
		return nil
	}
	n := binary.BigEndian.Uint64(hdr[len(mapIndexMagic):])
	covered := hdr[len(mapIndexMagic)+8 : mapIndexHeader]
	line := hdr[mapIndexHeader:]
	if n == 0 || n > uint64(lines) || fi.Size() != int64(mapIndexHeader)+int64(n)*mapIndexRecord {
		f.Close()
		return nil
	}
	if _, err := mf.ReadAt(line, int64(n-1)*mapLineSize); err != nil || !bytes.Equal(line, covered) {
		f.Close()
		return nil
	}
	return &mapIndex{f: f, n: int(n)}
}

// find looks n up by binary search, one read a step.
func (x *mapIndex) find(n hg.Node) (git.Hash, bool, error) {
	var rec [mapIndexRecord]byte
	lo, hi := 0, x.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if _, err := x.f.ReadAt(rec[:], int64(mapIndexHeader)+int64(mid)*mapIndexRecord); err != nil {
			return git.Hash{}, false, err
		}
		switch c := bytes.Compare(rec[:20], n[:]); {
		case c == 0:
			return git.Hash(rec[20:]), true, nil
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return git.Hash{}, false, nil
}

func (x *mapIndex) close() { x.f.Close() }

// writeMapIndex writes the index of a map of lines (no node twice).
func writeMapIndex(path string, lines []mapLine) error {
	if len(lines) == 0 {
		return nil
	}
	recs := make([]byte, len(lines)*mapIndexRecord)
	for i, l := range lines {
		copy(recs[i*mapIndexRecord:], l.hg[:])
		copy(recs[i*mapIndexRecord+20:], l.git[:])
	}
	sort.Sort(byNode(recs))
	out := make([]byte, 0, mapIndexHeader+len(recs))
	out = append(out, mapIndexMagic...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(lines)))
	out = append(out, encodeMapLines(lines[len(lines)-1:])...)
	out = append(out, recs...)
	if err := atomicfile.WriteFile(path, MapIndexFile+".tmp*", false, out); err != nil {
		return fmt.Errorf("convert: write map index: %w", err)
	}
	return nil
}

// byNode sorts index records by hg node.
type byNode []byte

func (b byNode) Len() int { return len(b) / mapIndexRecord }
func (b byNode) Less(i, j int) bool {
	return bytes.Compare(b[i*mapIndexRecord:i*mapIndexRecord+20], b[j*mapIndexRecord:j*mapIndexRecord+20]) < 0
}
func (b byNode) Swap(i, j int) {
	var t [mapIndexRecord]byte
	copy(t[:], b[i*mapIndexRecord:])
	copy(b[i*mapIndexRecord:(i+1)*mapIndexRecord], b[j*mapIndexRecord:(j+1)*mapIndexRecord])
	copy(b[j*mapIndexRecord:(j+1)*mapIndexRecord], t[:])
}
