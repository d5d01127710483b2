package hgwire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// DefaultMaxChunk bounds one changegroup chunk (a delta with its header)
// unless ChangegroupReader.MaxChunk says otherwise.
const DefaultMaxChunk = 1 << 30

// Revision flags a changegroup 03 delta may carry.
const (
	FlagCensored     = 1 << 15
	FlagEllipsis     = 1 << 14
	FlagExtStored    = 1 << 13
	FlagHasCopyInfo  = 1 << 12
	knownDeltaFlags  = FlagCensored | FlagEllipsis | FlagExtStored | FlagHasCopyInfo
	deltaHeaderV2Len = 100
	deltaHeaderV3Len = 102
)

// Delta is one revision in a changegroup.
type Delta struct {
	Node, P1, P2, Base, Link hg.Node
	Flags                    uint16 // changegroup 03 only
	Data                     []byte // the delta against Base (null: the empty text)
}

// ChangegroupReader reads a changegroup of version "02" or "03".
type ChangegroupReader struct {
	r        io.Reader
	Version  string
	MaxChunk int // 0: DefaultMaxChunk
	hdrLen   int
	buf      bytes.Buffer
}

// NewChangegroupReader reads a changegroup of the given version from r.
func NewChangegroupReader(r io.Reader, version string) (*ChangegroupReader, error) {
	c := &ChangegroupReader{r: r, Version: version}
	switch version {
	case "02":
		c.hdrLen = deltaHeaderV2Len
	case "03":
		c.hdrLen = deltaHeaderV3Len
	default:
		return nil, &UnsupportedError{What: fmt.Sprintf("changegroup version %q", version)}
	}
	return c, nil
}

// chunk reads one chunk; nil (and no error) for the empty chunk ending a
// group. The result is valid until the next call.
func (c *ChangegroupReader) chunk() ([]byte, error) {
	n, err := readInt32(c.r, "changegroup chunk")
	if err != nil || n == 0 {
		return nil, err
	}
	limit := c.MaxChunk
	if limit <= 0 {
		limit = DefaultMaxChunk
	}
	if n <= 4 || int(n) > limit {
		return nil, fmt.Errorf("hgwire: changegroup chunk of declared length %d (limit %d)", n, limit)
	}
	c.buf.Reset()
	// Copy rather than allocate the declared size: a stream that lies
	// about its length ends before memory is committed to it.
	if m, err := io.CopyN(&c.buf, c.r, int64(n-4)); err != nil {
		return nil, truncErr(fmt.Sprintf("changegroup chunk (%d of %d bytes)", m, n-4), err)
	}
	return c.buf.Bytes(), nil
}

// NextDelta returns the next delta of the current group, or nil at the
// group's end. Data is valid until the next call.
func (c *ChangegroupReader) NextDelta() (*Delta, error) {
	b, err := c.chunk()
	if err != nil || b == nil {
		return nil, err
	}
	if len(b) < c.hdrLen {
		return nil, fmt.Errorf("hgwire: changegroup delta of %d bytes, shorter than its %d-byte header", len(b), c.hdrLen)
	}
	d := &Delta{}
	copy(d.Node[:], b[0:20])
	copy(d.P1[:], b[20:40])
	copy(d.P2[:], b[40:60])
	copy(d.Base[:], b[60:80])
	copy(d.Link[:], b[80:100])
	if c.hdrLen == deltaHeaderV3Len {
		d.Flags = binary.BigEndian.Uint16(b[100:102])
		if d.Flags&^knownDeltaFlags != 0 {
			return nil, fmt.Errorf("hgwire: delta %s: unknown revision flags %#x", d.Node, d.Flags)
		}
	}
	d.Data = b[c.hdrLen:]
	return d, nil
}

// NextFile returns the name of the next file group, or "" after the last.
func (c *ChangegroupReader) NextFile() (string, error) {
	b, err := c.chunk()
	if err != nil || b == nil {
		return "", err
	}
	name := string(b)
	if err := checkFileName(name); err != nil {
		return "", err
	}
	return name, nil
}

// checkFileName refuses a file name no tracked file can have.
func checkFileName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\x00\n\r") {
		return fmt.Errorf("hgwire: changegroup file name %q is invalid", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || part == ".hg" {
			return fmt.Errorf("hgwire: changegroup file name %q is invalid", name)
		}
	}
	return nil
}

// ChangegroupHandler receives a changegroup's contents in stream order.
type ChangegroupHandler struct {
	Changeset func(d *Delta) error
	Manifest  func(d *Delta) error
	File      func(path string, d *Delta) error
}

// Walk reads the whole changegroup: changelog group, manifest group, (for
// 03, the tree manifest groups, which must be empty) and file groups.
func (c *ChangegroupReader) Walk(h ChangegroupHandler) error {
	group := func(fn func(*Delta) error) error {
		for {
			d, err := c.NextDelta()
			if err != nil {
				return err
			}
			if d == nil {
				return nil
			}
			if fn != nil {
				if err := fn(d); err != nil {
					return err
				}
			}
		}
	}
	if err := group(h.Changeset); err != nil {
		return err
	}
	if err := group(h.Manifest); err != nil {
		return err
	}
	if c.Version == "03" {
		// Tree manifests: a directory chunk per group, ended by an empty
		// chunk. Only flat manifests are supported.
		name, err := c.chunk()
		if err != nil {
			return err
		}
		if name != nil {
			return &UnsupportedError{What: fmt.Sprintf("tree manifest group %q", name)}
		}
	}
	for {
		name, err := c.NextFile()
		if err != nil {
			return err
		}
		if name == "" {
			return nil
		}
		if err := group(func(d *Delta) error {
			if h.File == nil {
				return nil
			}
			return h.File(name, d)
		}); err != nil {
			return err
		}
	}
}
