package convert

import (
	"encoding/binary"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// stateCodec encodes or decodes a runState (walk) in one pass over its
// fields: varints for numbers, a length before strings, byte strings and
// lists, raw bytes for nodes and hashes. Decoding checks every length
// against what is left, so damaged input fails (bad) instead of
// allocating or reading out of range.
type stateCodec struct {
	dec bool
	buf []byte // encoding: the output; decoding: the input not read yet
	bad bool
	// Decoding, strings are cut from one copy of the input (all, of which
	// buf is the tail) rather than allocated one by one.
	all string
}

func (c *stateCodec) fail() { c.bad, c.buf = true, nil }

func (c *stateCodec) varint(v *int64) {
	if c.bad {
		return
	}
	if !c.dec {
		c.buf = binary.AppendVarint(c.buf, *v)
		return
	}
	x, n := binary.Varint(c.buf)
	if n <= 0 {
		c.fail()
		return
	}
	*v, c.buf = x, c.buf[n:]
}

func (c *stateCodec) int(v *int) {
	x := int64(*v)
	c.varint(&x)
	*v = int(x)
}

func (c *stateCodec) uint32(v *uint32) {
	x := int64(*v)
	c.varint(&x)
	*v = uint32(x)
}

func (c *stateCodec) bool(v *bool) {
	var x int64
	if *v {
		x = 1
	}
	c.varint(&x)
	*v = x != 0
}

// count codes the length n of what follows, elements of size bytes or
// more each; decoding, it returns the length read, of which the elements
// fit in what is left: a damaged count fails rather than allocates more
// than a small multiple of the input.
func (c *stateCodec) count(n, size int) int {
	x := int64(n)
	c.varint(&x)
	if c.dec && (x < 0 || x > int64(len(c.buf)/size)) {
		c.fail()
	}
	if c.bad {
		return 0
	}
	return int(x)
}

// fixed codes len(p) raw bytes (a node or a hash).
func (c *stateCodec) fixed(p []byte) {
	if c.bad {
		return
	}
	if !c.dec {
		c.buf = append(c.buf, p...)
		return
	}
	if len(c.buf) < len(p) {
		c.fail()
		return
	}
	copy(p, c.buf)
	c.buf = c.buf[len(p):]
}

func (c *stateCodec) bytes(v *[]byte) {
	n := c.count(len(*v), 1)
	if !c.dec {
		c.buf = append(c.buf, *v...)
	} else if !c.bad {
		*v = append([]byte(nil), c.buf[:n]...)
		c.buf = c.buf[n:]
	}
}

func (c *stateCodec) str(v *string) {
	n := c.count(len(*v), 1)
	if !c.dec {
		c.buf = append(c.buf, *v...)
	} else if !c.bad {
		if c.all != "" {
			at := len(c.all) - len(c.buf)
			*v = c.all[at : at+n]
		} else {
			*v = string(c.buf[:n])
		}
		c.buf = c.buf[n:]
	}
}

// list codes a slice, each element (of size encoded bytes or more) with
// each (a nil slice when empty).
func list[T any](c *stateCodec, s *[]T, size int, each func(*T)) {
	n := c.count(len(*s), size)
	if c.dec {
		*s = nil
		if n > 0 {
			*s = make([]T, n)
		}
	}
	for i := range *s {
		each(&(*s)[i])
	}
}

// walk codes every field of st, in a fixed order.
func (st *runState) walk(c *stateCodec) {
	c.int(&st.Version)
	c.int(&st.MapLines)
	c.fixed(st.MapLast[:])
	c.int(&st.Scanned)
	c.fixed(st.ScannedTip[:])
	list(c, &st.Heads, 3, func(h *headState) { c.int(&h.Rev); c.str(&h.Branch); c.bool(&h.Closed) })
	list(c, &st.Excluded, 1, c.int)
	list(c, &st.TopoHeads, 21, func(k *nodeRev) { c.fixed(k.Node[:]); c.int(&k.Rev) })
	list(c, &st.TagFnodes, 40, func(f *tagFnode) { c.fixed(f.Changeset[:]); c.fixed(f.File[:]) })
	list(c, &st.Known, 21, func(k *nodeRev) { c.fixed(k.Node[:]); c.int(&k.Rev) })
	c.bool(&st.BookmarksRead)
	c.fixed(st.BookmarksSum[:])
	c.str(&st.BookmarksSuffix)
	list(c, &st.Bookmarks, 43, func(b *bookmarkState) {
		c.str(&b.Name)
		c.fixed(b.Node[:])
		c.int(&b.Rev)
		c.fixed(b.Commit[:])
		c.bool(&b.Valid)
	})
	c.bytes(&st.Mapped)
	list(c, &st.RefNames, 1, c.str)
	c.bytes(&st.RefCommits)
	list(c, &st.HeadsFailed, 1, c.str)
	list(c, &st.RefDirs, 1, c.str)
	list(c, &st.RefDirTimes, 1, c.varint)
	list(c, &st.Skipped, 20, func(n *hg.Node) { c.fixed(n[:]) })
	c.fixed(st.Last[:])
	c.fixed(st.LastManifest[:])
	c.fixed(st.Root[:])
	list(c, &st.Dirs, 23, func(d *dirState) {
		c.str(&d.Path)
		c.fixed(d.Hash[:])
		c.bool(&d.Valid)
		list(c, &d.Entries, 22, func(e *entryState) { c.str(&e.Name); c.uint32(&e.Mode); c.fixed(e.Hash[:]) })
	})
	list(c, &st.Links, 21, func(l *linkState) { c.str(&l.Path); c.fixed(l.Hash[:]) })
	list(c, &st.Manifest, 22, func(e *hg.ManifestEntry) {
		c.str(&e.Path)
		c.fixed(e.Node[:])
		flags := uint32(e.Flags)
		c.uint32(&flags)
		e.Flags = byte(flags)
	})
	list(c, &st.Blobs, 40, func(b *blobState) { c.fixed(b.Node[:]); c.fixed(b.Hash[:]) })
}
