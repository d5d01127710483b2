package hg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Obsstore formats (mercurial/obsolete.py).
const (
	obsstoreV0 = 0
	obsstoreV1 = 1

	markerFlagSHA256 = 2 // obsutil.usingsha256: nodes are 32 bytes
	fm1ParentsNone   = 3 // parent count meaning "parents not recorded"
	fm1FixedSize     = 4 + 8 + 2 + 2 + 1 + 1 + 1
	fm0FixedSize     = 1 + 4 + 1 + 20
)

// Markers reads the repository's obsolescence markers
// (.hg/store/obsstore), in the order they are stored. A repository
// without an obsstore has none.
func (r *Repo) Markers() ([]Marker, error) {
	p := filepath.Join(r.storeDir, "obsstore")
	b, err := readOptional(p)
	if err != nil {
		return nil, err
	}
	ms, err := ParseObsstore(b)
	if err != nil {
		return nil, fmt.Errorf("hg: %s: %w", p, err)
	}
	return ms, nil
}

// ParseObsstore parses the contents of an obsstore: a version byte (0 or
// 1) followed by markers in that format. Empty data holds no markers.
// Markers whose nodes are SHA-256 (flag 2) cannot name a changeset of a
// SHA-1 repository and are skipped. Truncated or inconsistent markers are
// an error naming their offset.
func ParseObsstore(data []byte) ([]Marker, error) {
	if len(data) == 0 {
		return nil, nil
	}
	switch data[0] {
	case obsstoreV0:
		return parseMarkers(data, 1, fm0FixedSize, parseFm0)
	case obsstoreV1:
		return parseMarkers(data, 1, fm1FixedSize, parseFm1)
	}
	return nil, fmt.Errorf("obsstore: unknown format version %d", data[0])
}

// parseMarkers reads the markers of data from off on, each at least fixed
// bytes long: parse decodes the one at the start of h and returns its size,
// and whether it names SHA-1 nodes (others are skipped). Errors name the
// marker's offset.
func parseMarkers(data []byte, off, fixed int, parse func(h []byte) (m Marker, size int, sha1 bool, err error)) ([]Marker, error) {
	var out []Marker
	for off < len(data) {
		if len(data)-off < fixed {
			return nil, fmt.Errorf("obsstore: marker at offset %d: truncated header", off)
		}
		m, size, sha1, err := parse(data[off:])
		if err != nil {
			return nil, fmt.Errorf("obsstore: marker at offset %d: %w", off, err)
		}
		if sha1 {
			out = append(out, m)
		}
		off += size
	}
	return out, nil
}

// parseFm1 reads a version 1 marker: u32 size (of the whole marker),
// float64 date, int16 timezone in minutes, u16 flags, u8 successor count,
// u8 parent count (3 = not recorded), u8 metadata count, the predecessor,
// the successors, the parents, (u8 key length, u8 value length) per
// metadata entry, then the keys and values.
func parseFm1(h []byte) (Marker, int, bool, error) {
	size := int(binary.BigEndian.Uint32(h[0:]))
	if size < fm1FixedSize || size > len(h) {
		return Marker{}, 0, false, fmt.Errorf("size %d does not fit", size)
	}
	h = h[:size]
	secs := math.Float64frombits(binary.BigEndian.Uint64(h[4:]))
	tz := int(int16(binary.BigEndian.Uint16(h[12:])))
	flags := binary.BigEndian.Uint16(h[14:])
	nsucc, npar, nmeta := int(h[16]), int(h[17]), int(h[18])
	nodeSize := 20
	if flags&markerFlagSHA256 != 0 {
		nodeSize = 32
	}
	nodes := 1 + nsucc
	if npar != fm1ParentsNone {
		nodes += npar
	}
	need := fm1FixedSize + nodes*nodeSize + 2*nmeta
	if need > size {
		return Marker{}, 0, false, fmt.Errorf("%d bytes of nodes and metadata sizes exceed its size %d", need-fm1FixedSize, size)
	}
	p := fm1FixedSize
	node := func() Node {
		var n Node
		copy(n[:], h[p:p+nodeSize])
		p += nodeSize
		return n
	}
	m := Marker{Flags: flags, Date: hgDate(secs, tz*60)}
	m.Prec = node()
	for i := 0; i < nsucc; i++ {
		m.Succs = append(m.Succs, node())
	}
	if npar != fm1ParentsNone {
		m.Parents = make([]Node, 0, npar)
		for i := 0; i < npar; i++ {
			m.Parents = append(m.Parents, node())
		}
	}
	lens := h[p : p+2*nmeta]
	p += 2 * nmeta
	for i := 0; i < nmeta; i++ {
		kl, vl := int(lens[2*i]), int(lens[2*i+1])
		if p+kl+vl > size {
			return Marker{}, 0, false, fmt.Errorf("metadata exceeds its size %d", size)
		}
		if m.Meta == nil {
			m.Meta = make(map[string]string, nmeta)
		}
		m.Meta[string(h[p:p+kl])] = string(h[p+kl : p+kl+vl])
		p += kl + vl
	}
	return m, size, nodeSize == 20, nil
}

// parseFm0 reads a version 0 marker: u8 successor count, u32 metadata size,
// u8 flags, the predecessor, the successors, then metadata as
// NUL-separated "key:value" entries, where "date" holds the date and p0,
// p1, p2 the recorded parents.
func parseFm0(h []byte) (Marker, int, bool, error) {
	nsucc := int(h[0])
	mdsize := int(binary.BigEndian.Uint32(h[1:]))
	flags := uint16(h[5])
	size := fm0FixedSize + 20*nsucc
	if mdsize > len(h)-size {
		return Marker{}, 0, false, fmt.Errorf("truncated (%d bytes of metadata expected)", mdsize)
	}
	size += mdsize
	var m Marker
	m.Flags = flags
	copy(m.Prec[:], h[6:26])
	for i := 0; i < nsucc; i++ {
		var n Node
		copy(n[:], h[26+20*i:])
		m.Succs = append(m.Succs, n)
	}
	meta := map[string]string{}
	for _, kv := range bytes.Split(h[26+20*nsucc:size], []byte{0}) {
		if len(kv) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(kv, []byte(":"))
		if !ok {
			return Marker{}, 0, false, fmt.Errorf("metadata entry %q has no ':'", limitio.Clip(string(kv), 64))
		}
		meta[string(k)] = string(v)
	}
	m.Date = fm0Date(meta["date"])
	delete(meta, "date")
	m.Parents = fm0Parents(meta)
	if len(meta) > 0 {
		m.Meta = meta
	}
	return m, size, true, nil
}

// fm0Date parses "seconds offset" as obsolete.py does; anything else is
// the epoch.
func fm0Date(s string) time.Time {
	when, offset, ok := strings.Cut(s, " ")
	if !ok {
		return hgDate(0, 0)
	}
	secs, err1 := strconv.ParseFloat(when, 64)
	tz, err2 := strconv.Atoi(offset)
	if err1 != nil || err2 != nil {
		return hgDate(0, 0)
	}
	return hgDate(secs, tz)
}

// fm0Parents takes the recorded parents out of meta: p1 and p2, or p0
// (recorded, none); nil when not recorded or not nodes, as obsolete.py.
func fm0Parents(meta map[string]string) []Node {
	var keys []string
	switch {
	case hasKey(meta, "p2"):
		keys = []string{"p1", "p2"}
	case hasKey(meta, "p1"):
		keys = []string{"p1"}
	case hasKey(meta, "p0"):
		keys = nil
	default:
		return nil
	}
	parents := []Node{}
	valid := true
	for _, k := range keys {
		n, err := ParseNode(meta[k])
		if err != nil {
			valid = false
		}
		parents = append(parents, n)
	}
	delete(meta, "p0")
	delete(meta, "p1")
	delete(meta, "p2")
	if !valid {
		return nil
	}
	return parents
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// hgDate converts a Mercurial date (seconds since the epoch, offset in
// seconds west of UTC) to a time; values out of range give the epoch.
func hgDate(secs float64, offset int) time.Time {
	if math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > 1<<62 {
		secs = 0
	}
	whole, frac := math.Modf(secs)
	loc := time.FixedZone("", -offset)
	return time.Unix(int64(whole), int64(frac*1e9)).In(loc)
}
