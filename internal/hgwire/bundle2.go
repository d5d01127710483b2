// Package hgwire speaks Mercurial's wire protocol (version 1, over HTTP(S)
// and ssh) natively: it parses bundle2 streams, changegroups 02 and 03 and
// the phase-heads, bookmarks, listkeys and obsmarkers parts, discovers what
// a cache and a source have in common, and applies what the source sends
// to the cache's store (hg.RevlogAppender, hg.Journal) so that hg and
// hg-git keep working on it.
//
// Pull is the entry point: it returns the same hg.SourceState the hg
// transport produces. It never advertises a capability it cannot parse
// (bundle2 with changegroup 02/03, bookmarks, listkeys, phases=heads,
// obsmarkers=V1, error parts; wire compression zstd, zlib, none). An
// *UnsupportedError (IsUnsupported) means the source needs what is not
// implemented — tree manifests, narrow, LFS or censored revisions (revision
// flags), sidedata, an unknown mandatory part or parameter, a server
// without bundle2 — and the caller should use hg for that sync. Stream
// clones are not requested.
//
// What it writes: revlog v1 entries (inline, split past 128 KiB, with or
// without generaldelta; zstd chunks in stores that require it, else zlib),
// fncache entries, phaseroots, .hg/bookmarks and obsstore (markers v1),
// under hg's wlock and store lock and a journal in hg's format (so "hg
// recover" understands an interrupted write). Everything is read and
// checked (node hashes, parents, delta bases, linkrevs, manifests of new
// changesets) before the first byte is written: a failed transfer leaves
// the cache as it was. When the source stripped changesets the cache holds,
// the cache's store is made again from the source, the changesets the
// source hides (obsolete, not stripped) carried over from the old one as
// hg strip would keep them, and swapped in.
package hgwire

import (
	"bufio"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Limits on what a stream may declare; anything larger is refused before
// memory is allocated for it.
const (
	maxParamsSize     = 1 << 20  // bundle2 stream parameters
	maxPartHeaderSize = 1 << 20  // one part header
	maxPayloadChunk   = 64 << 20 // one payload chunk of a part
	maxInterrupts     = 1000     // out-of-band parts within one part
)

// ErrTruncated is wrapped by errors for a stream that ends early.
var ErrTruncated = errors.New("stream truncated")

// RemoteError is an error the server reported: an error:* bundle2 part or
// an application/hg-error answer.
type RemoteError struct {
	Kind    string // "abort", "unsupportedcontent", "pushraced", "pushkey", "http"
	Message string
	Hint    string
	Params  map[string]string
}

func (e *RemoteError) Error() string {
	msg := "hgwire: remote error: " + e.Message
	if e.Kind != "abort" && e.Kind != "" {
		msg = "hgwire: remote error (" + e.Kind + "): " + e.Message
	}
	if e.Message == "" {
		msg += fmt.Sprint(e.Params)
	}
	if e.Hint != "" {
		msg += " (hint: " + e.Hint + ")"
	}
	return msg
}

// UnsupportedError is content the native transport does not handle (an
// unknown mandatory part or parameter, a changegroup version, revision
// flags): the caller may fall back to hg.
type UnsupportedError struct{ What string }

func (e *UnsupportedError) Error() string { return "hgwire: unsupported: " + e.What }

// Bundle2Reader reads a bundle2 (HG20) stream part by part.
type Bundle2Reader struct {
	r      *bufio.Reader
	Params map[string]string // stream parameters (keys as sent)
	cur    *Part
	done   bool
	closer io.Closer
}

// NewBundle2Reader reads the magic and the stream parameters of a bundle2
// and applies its Compression parameter. Unknown mandatory parameters
// (starting with an upper-case letter) are refused.
func NewBundle2Reader(r io.Reader) (*Bundle2Reader, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, truncErr("bundle2 magic", err)
	}
	if string(magic[:]) != "HG20" {
		return nil, fmt.Errorf("hgwire: not a bundle2 stream (magic %q)", magic[:])
	}
	var n int32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, truncErr("bundle2 parameters", err)
	}
	if n < 0 || n > maxParamsSize {
		return nil, fmt.Errorf("hgwire: bundle2 parameters of %d bytes", n)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, truncErr("bundle2 parameters", err)
	}
	b := &Bundle2Reader{Params: map[string]string{}}
	for _, p := range strings.Fields(string(raw)) {
		k, v, _ := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("hgwire: bundle2 parameter %q: %v", p, err)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("hgwire: bundle2 parameter %q: %v", p, err)
		}
		if key == "" {
			return nil, fmt.Errorf("hgwire: empty bundle2 parameter name")
		}
		b.Params[key] = val
		if key == "Compression" {
			continue
		}
		if c := key[0]; 'A' <= c && c <= 'Z' {
			return nil, &UnsupportedError{What: "mandatory bundle2 stream parameter " + key}
		}
	}
	switch comp := b.Params["Compression"]; comp {
	case "", "UN":
	case "GZ":
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, truncErr("bundle2 zlib stream", err)
		}
		r, b.closer = zr, zr
	case "BZ":
		r = bzip2.NewReader(r)
	case "ZS":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, err
		}
		r, b.closer = zr, closerFunc(func() error { zr.Close(); return nil })
	default:
		return nil, &UnsupportedError{What: "bundle2 compression " + comp}
	}
	b.r = bufio.NewReaderSize(r, 64<<10)
	return b, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// Close releases the decompressor, if any.
func (b *Bundle2Reader) Close() error {
	if b.closer != nil {
		return b.closer.Close()
	}
	return nil
}

func truncErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("hgwire: %s: %w", what, ErrTruncated)
	}
	return fmt.Errorf("hgwire: %s: %w", what, err)
}

// Part is one bundle2 part. Its payload is read through Read.
type Part struct {
	Type          string // as sent
	ID            uint32
	Mandatory     bool // the type had an upper-case letter
	Params        map[string]string
	MandatoryKeys []string // the parameters the receiver must understand

	b       *Bundle2Reader
	left    int32 // bytes left in the current payload chunk
	eof     bool
	err     error
	nested  bool // an out-of-band part: no further interrupts
	interns int
}

// Name returns the part type in lower case (how it is matched).
func (p *Part) Name() string { return strings.ToLower(p.Type) }

// NextPart returns the next part, io.EOF at the end of the bundle. The
// unread payload of the previous part is skipped. An error part
// (error:abort and the like) is returned as a *RemoteError.
func (b *Bundle2Reader) NextPart() (*Part, error) {
	if b.done {
		return nil, io.EOF
	}
	if b.cur != nil {
		if _, err := io.Copy(io.Discard, b.cur); err != nil {
			return nil, err
		}
		b.cur = nil
	}
	p, err := b.readPart(false)
	if err != nil {
		return nil, err
	}
	if p == nil {
		b.done = true
		return nil, io.EOF
	}
	if strings.HasPrefix(p.Name(), "error:") {
		return nil, p.remoteError()
	}
	b.cur = p
	return p, nil
}

func (p *Part) remoteError() error {
	e := &RemoteError{Kind: strings.TrimPrefix(p.Name(), "error:"), Params: p.Params}
	e.Message = p.Params["message"]
	e.Hint = p.Params["hint"]
	switch e.Kind {
	case "unsupportedcontent":
		e.Message = "server does not support " + p.Params["parttype"] + " " + p.Params["params"]
	case "pushkey":
		e.Message = "pushkey failed: " + p.Params["namespace"] + " " + p.Params["key"]
	}
	return e
}

// readInt32 reads a big-endian signed 32-bit length; what names it in
// errors.
func readInt32(r io.Reader, what string) (int32, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, truncErr(what, err)
	}
	return int32(binary.BigEndian.Uint32(hdr[:])), nil
}

// readPart reads a part header; nil at the end-of-bundle marker.
func (b *Bundle2Reader) readPart(nested bool) (*Part, error) {
	n, err := readInt32(b.r, "bundle2 part header")
	if err != nil || n == 0 {
		return nil, err
	}
	if n < 0 || n > maxPartHeaderSize {
		return nil, fmt.Errorf("hgwire: bundle2 part header of %d bytes", n)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(b.r, h); err != nil {
		return nil, truncErr("bundle2 part header", err)
	}
	p, err := parsePartHeader(h)
	if err != nil {
		return nil, err
	}
	p.b, p.nested = b, nested
	return p, nil
}

func parsePartHeader(h []byte) (*Part, error) {
	bad := func(what string) error { return fmt.Errorf("hgwire: bundle2 part header: %s", what) }
	if len(h) < 1 {
		return nil, bad("empty")
	}
	tl := int(h[0])
	h = h[1:]
	if tl == 0 || len(h) < tl+4+2 {
		return nil, bad("truncated")
	}
	p := &Part{Type: string(h[:tl]), Params: map[string]string{}}
	for _, c := range []byte(p.Type) {
		if c <= ' ' || c >= 0x7f {
			return nil, bad(fmt.Sprintf("part type %q", p.Type))
		}
	}
	p.Mandatory = p.Type != strings.ToLower(p.Type)
	h = h[tl:]
	p.ID = binary.BigEndian.Uint32(h)
	nm, na := int(h[4]), int(h[5])
	h = h[6:]
	if len(h) < 2*(nm+na) {
		return nil, bad("truncated parameter sizes")
	}
	sizes := h[:2*(nm+na)]
	h = h[2*(nm+na):]
	for i := 0; i < nm+na; i++ {
		kl, vl := int(sizes[2*i]), int(sizes[2*i+1])
		if len(h) < kl+vl {
			return nil, bad("truncated parameters")
		}
		k, v := string(h[:kl]), string(h[kl:kl+vl])
		h = h[kl+vl:]
		p.Params[k] = v
		if i < nm {
			p.MandatoryKeys = append(p.MandatoryKeys, k)
		}
	}
	if len(h) != 0 {
		return nil, bad(fmt.Sprintf("%d trailing bytes", len(h)))
	}
	return p, nil
}

// Read reads the part's payload.
func (p *Part) Read(buf []byte) (int, error) {
	for {
		if p.err != nil {
			return 0, p.err
		}
		if p.eof {
			return 0, io.EOF
		}
		if p.left > 0 {
			if len(buf) > int(p.left) {
				buf = buf[:p.left]
			}
			n, err := p.b.r.Read(buf)
			p.left -= int32(n)
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				p.err = truncErr("bundle2 part "+p.Type+" payload", err)
				if n > 0 {
					return n, nil
				}
				return 0, p.err
			}
			return n, nil
		}
		n, err := readInt32(p.b.r, "bundle2 part "+p.Type+" payload")
		if err != nil {
			p.err = err
			return 0, p.err
		}
		switch {
		case n == 0:
			p.eof = true
		case n == -1:
			if err := p.interrupt(); err != nil {
				p.err = err
			}
		case n < 0 || n > maxPayloadChunk:
			p.err = fmt.Errorf("hgwire: bundle2 part %s: payload chunk of %d bytes", p.Type, n)
		default:
			p.left = n
		}
	}
}

// interrupt handles an out-of-band part sent in the middle of a payload:
// an error part ends the read with its error; any other is skipped unless
// mandatory.
func (p *Part) interrupt() error {
	if p.nested {
		return fmt.Errorf("hgwire: bundle2 part %s: nested interrupt", p.Type)
	}
	p.interns++
	if p.interns > maxInterrupts {
		return fmt.Errorf("hgwire: bundle2 part %s: more than %d interrupts", p.Type, maxInterrupts)
	}
	op, err := p.b.readPart(true)
	if err != nil {
		return err
	}
	if op == nil {
		return nil
	}
	if _, err := io.Copy(io.Discard, op); err != nil {
		return err
	}
	if strings.HasPrefix(op.Name(), "error:") {
		return op.remoteError()
	}
	if op.Mandatory {
		return &UnsupportedError{What: "mandatory out-of-band bundle2 part " + op.Type}
	}
	return nil
}

// CheckKnown returns an *UnsupportedError for a mandatory part whose type,
// or a mandatory parameter, is not among those the caller handles.
func (p *Part) CheckKnown(known map[string][]string) error {
	params, ok := known[p.Name()]
	if !ok {
		if p.Mandatory {
			return &UnsupportedError{What: "mandatory bundle2 part " + p.Type}
		}
		return nil
	}
	for _, k := range p.MandatoryKeys {
		found := false
		for _, q := range params {
			if q == k {
				found = true
			}
		}
		if !found {
			return &UnsupportedError{What: fmt.Sprintf("mandatory parameter %q of bundle2 part %s", k, p.Type)}
		}
	}
	return nil
}
