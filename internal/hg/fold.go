package hg

import (
	"encoding/binary"
	"sync"
)

// segment is a piece of a text built from a base text by deltas: n bytes
// from off, of the base or (lit) of the deltas' bytes (folder.arena).
type segment struct {
	off, n uint32
	lit    bool
}

// appendSegments appends the segments of the text delta d makes from a
// base of baseLen bytes; d must be valid for it (see patchedSize), and
// is at offset at of the deltas' bytes. Its copies of the base come in
// order, without overlapping.
func appendSegments(dst []segment, baseLen int, d []byte, at int) []segment {
	last := 0
	for p := 0; p < len(d); {
		start := int(binary.BigEndian.Uint32(d[p:]))
		end := int(binary.BigEndian.Uint32(d[p+4:]))
		n := int(binary.BigEndian.Uint32(d[p+8:]))
		p += 12
		if start > last {
			dst = append(dst, segment{off: uint32(last), n: uint32(start - last)})
		}
		if n > 0 {
			dst = append(dst, segment{off: uint32(at + p), n: uint32(n), lit: true})
		}
		p += n
		last = end
	}
	if baseLen > last {
		dst = append(dst, segment{off: uint32(last), n: uint32(baseLen - last)})
	}
	return dst
}

// appendCompose appends the segments of b, a text built from the text of
// a's segments, as segments of a's base. b's copies come in order (as
// appendSegments and appendCompose make them), so one pass over a
// suffices.
func appendCompose(out, a, b []segment) []segment {
	i, pos := 0, uint32(0) // a[i] starts at pos in a's text
	for _, s := range b {
		if s.lit {
			out = append(out, s)
			continue
		}
		off, n := s.off, s.n
		for pos+a[i].n <= off {
			pos += a[i].n
			i++
		}
		for n > 0 {
			sa := a[i]
			skip := off - pos
			take := min(sa.n-skip, n)
			out = append(out, segment{off: sa.off + skip, n: take, lit: sa.lit})
			off += take
			n -= take
			if skip+take == sa.n {
				pos += sa.n
				i++
			}
		}
	}
	return out
}

// folder holds the buffers of a fold: the deltas' bytes, and segment
// lists (all lists of a level in one slice, ends[k] ending list k).
type folder struct {
	arena []byte
	segs  [3][]segment
	ends  [3][]int
}

var folderPool = sync.Pool{New: func() any { return new(folder) }}

// folderKept bounds the buffers a folder returned to the pool keeps.
const folderKept = 1 << 20

func (f *folder) release() {
	if cap(f.arena) > folderKept || cap(f.segs[0])+cap(f.segs[1])+cap(f.segs[2]) > folderKept/8 {
		return
	}
	folderPool.Put(f)
}

// fold folds the segment lists in f.segs[0] (f.ends[0] ending each) of
// deltas applied one after the other, the first first, into the segments
// of the last text over the first base: pairwise, level by level, as
// Mercurial's mpatch folds a chain, so that each level costs the segments
// of its lists, not the size of the texts.
func (f *folder) fold() []segment {
	cur, ends := 0, f.ends[0]
	for len(ends) > 1 {
		next := 1 + cur%2 // levels alternate between slots 1 and 2
		out, oe := f.segs[next][:0], f.ends[next][:0]
		in := f.segs[cur]
		start := 0
		for k := 0; k < len(ends); k += 2 {
			a := in[start:ends[k]]
			if k+1 == len(ends) {
				out = append(out, a...)
			} else {
				out = appendCompose(out, a, in[ends[k]:ends[k+1]])
				start = ends[k+1]
			}
			oe = append(oe, len(out))
		}
		f.segs[next], f.ends[next] = out, oe
		cur, ends = next, oe
	}
	if len(ends) == 0 {
		return nil
	}
	return f.segs[cur][:ends[0]]
}

// applySegments writes the text of segs over base (and the deltas' bytes
// lits) into dst, which must have their length.
func applySegments(dst, base, lits []byte, segs []segment) {
	w := 0
	for _, s := range segs {
		if s.lit {
			w += copy(dst[w:], lits[s.off:s.off+s.n])
		} else {
			w += copy(dst[w:], base[s.off:s.off+s.n])
		}
	}
}
