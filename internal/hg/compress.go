package hg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// maxChunkSize bounds any decompressed chunk (revlog v1 sizes are int32).
const maxChunkSize = 1<<31 - 1

var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(maxChunkSize))
})

// zlibReader keeps one zlib reader for reuse between chunks.
type zlibReader struct {
	r  io.ReadCloser
	br bytes.Reader
}

func (z *zlibReader) reset(chunk []byte) (io.Reader, error) {
	z.br.Reset(chunk)
	if z.r == nil {
		r, err := zlib.NewReader(&z.br)
		if err != nil {
			return nil, err
		}
		z.r = r
		return r, nil
	}
	if err := z.r.(zlib.Resetter).Reset(&z.br, nil); err != nil {
		return nil, err
	}
	return z.r, nil
}

// decompress decodes one stored chunk: 'x' zlib, '(' zstd frame, 'u' raw
// with a marker byte, '\0' raw, empty = empty. A delta (exact false) is
// appended to dst (which may be nil), up to deltaLimit(rawsize) bytes. A
// full text (exact) may not exceed rawsize bytes; with a nil dst it gets a
// buffer of its own, and a raw chunk living in a reused buffer is copied
// (the text outlives the chunk); with a non-nil dst (a scratch buffer for
// a chain's base, used before the chunk's buffer is reused) it is decoded
// into dst, grown by an eighth more than needed when too small, and a raw
// chunk is returned in place.
func (rl *Revlog) decompress(chunk, dst []byte, rawsize int32, exact bool) ([]byte, error) {
	limit := maxChunkSize
	if exact && rawsize >= 0 {
		limit = int(rawsize)
	} else if !exact {
		limit = deltaLimit(rawsize)
	}
	if len(chunk) == 0 {
		return chunk, nil
	}
	var out []byte
	switch chunk[0] {
	case 'u':
		out = chunk[1:]
	case 0:
		out = chunk
	case 'x':
		if exact && rawsize >= 0 {
			// Deflate expands at most 1032:1; never trust rawsize beyond that.
			dst = fullBuffer(dst, min(int(rawsize), len(chunk)*1032+64))
		}
		r, err := rl.zlib.reset(chunk)
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		d, err := readAllLimit(r, dst[:0], limit)
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		return d, nil
	case '(':
		d, err := decodeZstd(chunk, dst, limit, exact)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return d, nil
	default:
		return nil, fmt.Errorf("unknown chunk compression %q", chunk[0])
	}
	if len(out) > limit {
		return nil, fmt.Errorf("chunk of %d bytes exceeds limit %d", len(out), limit)
	}
	if exact && dst == nil && !rl.stableChunks() {
		return bytes.Clone(out), nil
	}
	return out, nil
}

// decodesFresh reports whether chunk is compressed (zlib or zstd), so that
// decompress returns new bytes rather than a view of the chunk, which
// lives in the revlog's read buffer.
func decodesFresh(chunk []byte) bool {
	return len(chunk) > 0 && (chunk[0] == 'x' || chunk[0] == '(')
}

// fullBuffer returns an empty buffer for a full text of up to n bytes:
// dst when it has room, a new one of n bytes when dst is nil (the text's
// own), else a new one with an eighth of headroom (a scratch buffer kept
// for texts growing a little each revision).
func fullBuffer(dst []byte, n int) []byte {
	switch {
	case dst == nil:
		return make([]byte, 0, n)
	case cap(dst) < n:
		return make([]byte, 0, n+n/8)
	}
	return dst[:0]
}

func decodeZstd(chunk, dst []byte, limit int, exact bool) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(chunk); err != nil {
		return nil, err
	}
	if h.HasFCS {
		if h.FrameContentSize > uint64(limit) {
			return nil, fmt.Errorf("frame of %d bytes exceeds limit %d", h.FrameContentSize, limit)
		}
		// An RLE block of 4 bytes yields at most 128 KiB: a larger claimed
		// size is corrupt, and must not be allocated.
		if h.FrameContentSize > uint64(len(chunk)/4+1)*(128<<10) {
			return nil, fmt.Errorf("frame claims %d bytes from a %d-byte chunk", h.FrameContentSize, len(chunk))
		}
		n := int(h.FrameContentSize)
		if exact {
			dst = fullBuffer(dst, n)
		} else if cap(dst) < n {
			dst = make([]byte, 0, n)
		}
		dec, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		return dec.DecodeAll(chunk, dst[:0])
	}
	// No content size in the frame: stream it, bounded by limit.
	dec, err := zstd.NewReader(bytes.NewReader(chunk), zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(min(max(limit, 8<<20), 128<<20))), zstd.WithDecoderMaxWindow(uint64(min(max(limit, 8<<20), 128<<20))))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return readAllLimit(dec, dst[:0], limit)
}

var errTooLarge = errors.New("decompressed data exceeds limit")

// readAllLimit reads r to EOF, appending to dst, failing once more than
// limit bytes arrive. Memory grows only with the data actually decoded.
func readAllLimit(r io.Reader, dst []byte, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			if len(dst) >= limit {
				// Full: only EOF is acceptable now.
				var probe [1]byte
				for range 100 {
					n, err := r.Read(probe[:])
					if n > 0 {
						return nil, errTooLarge
					}
					if err == io.EOF {
						return dst, nil
					}
					if err != nil {
						return nil, err
					}
				}
				return nil, io.ErrNoProgress
			}
			dst = append(dst, 0)[:len(dst)]
			if cap(dst) > limit {
				dst = dst[:len(dst):limit]
			}
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
