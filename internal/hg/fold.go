package hg

import "encoding/binary"

// segment is a piece of a text built from a base text by deltas: n bytes
// of the base from off, or (lit not nil) bytes of a delta.
type segment struct {
	lit    []byte
	off, n int
}

func (s segment) len() int {
	if s.lit != nil {
		return len(s.lit)
	}
	return s.n
}

// appendSegments appends the segments of the text delta d makes from a
// base of baseLen bytes; d must be valid for it (see patchedSize). Its
// copies of the base come in order, without overlapping.
func appendSegments(dst []segment, baseLen int, d []byte) []segment {
	last := 0
	for p := 0; p < len(d); {
		start := int(binary.BigEndian.Uint32(d[p:]))
		end := int(binary.BigEndian.Uint32(d[p+4:]))
		n := int(binary.BigEndian.Uint32(d[p+8:]))
		p += 12
		if start > last {
			dst = append(dst, segment{off: last, n: start - last})
		}
		if n > 0 {
			dst = append(dst, segment{lit: d[p : p+n : p+n]})
		}
		p += n
		last = end
	}
	if baseLen > last {
		dst = append(dst, segment{off: last, n: baseLen - last})
	}
	return dst
}

// compose returns the segments of b, a text built from the text of a's
// segments, as segments of a's base. b's copies come in order (as
// appendSegments and compose make them), so one pass over a suffices.
func compose(a, b []segment) []segment {
	out := make([]segment, 0, len(a)+len(b))
	i, pos := 0, 0 // a[i] starts at pos in a's text
	for _, s := range b {
		if s.lit != nil {
			out = append(out, s)
			continue
		}
		off, n := s.off, s.n
		for pos+a[i].len() <= off {
			pos += a[i].len()
			i++
		}
		for n > 0 {
			sa := a[i]
			l := sa.len()
			skip := off - pos
			take := min(l-skip, n)
			if sa.lit != nil {
				out = append(out, segment{lit: sa.lit[skip : skip+take : skip+take]})
			} else {
				out = append(out, segment{off: sa.off + skip, n: take})
			}
			off += take
			n -= take
			if skip+take == l {
				pos += l
				i++
			}
		}
	}
	return out
}

// foldSegments folds the segment lists of deltas applied one after the
// other (lists[0] first) into the segments of the last text over the
// first base, pairwise, as Mercurial's mpatch folds a chain: each level
// costs the segments of its lists, not the size of the texts.
func foldSegments(lists [][]segment) []segment {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	mid := len(lists) / 2
	return compose(foldSegments(lists[:mid]), foldSegments(lists[mid:]))
}

// applySegments writes the text of segs over base into dst, which must
// have their length.
func applySegments(dst, base []byte, segs []segment) {
	w := 0
	for _, s := range segs {
		if s.lit != nil {
			w += copy(dst[w:], s.lit)
		} else {
			w += copy(dst[w:], base[s.off:s.off+s.n])
		}
	}
}
