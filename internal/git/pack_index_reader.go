package git

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Errors of the pack index reader, matched with errors.Is.
var (
	// ErrMalformedIdx: the data is not a well-formed pack index (truncated,
	// unsorted, a bad fan-out table, a checksum that does not match).
	ErrMalformedIdx = errors.New("git: malformed pack index")
	// ErrUnsupportedVersion: a pack index version other than 1 and 2.
	ErrUnsupportedVersion = errors.New("git: unsupported pack index version")
)

// malformed formats an error wrapping ErrMalformedIdx.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedIdx}, args...)...)
}

// packIndex is the object-name table of a pack index (.idx), version 1 or 2.
type packIndex struct {
	fanout [256]uint32
	names  []byte // the index's bytes from the first name on
	stride int    // bytes from one name to the next
}

// Layout of the two index versions.
const (
	idxV2NamesOff = 8 + 256*4 // magic, version, fanout
	idxV1NamesOff = 256 * 4   // fanout, then (offset, name) pairs
	idxTrailer    = 2 * 20    // pack checksum, index checksum
)

// readIdx reads and parses the pack index file path.
func readIdx(path string) (*packIndex, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("git: read %s: %w", path, err)
	}
	x, err := parseIdx(data)
	if err != nil {
		return nil, fmt.Errorf("git: read %s: %w", path, err)
	}
	return x, nil
}

// parseIdx checks data as a whole version-1 or version-2 pack index
// (structure, sorted names, offset table bounds, checksum) and returns its
// name table.
func parseIdx(data []byte) (*packIndex, error) {
	x := &packIndex{}
	v2 := len(data) >= 8 && bytes.Equal(data[:4], idxMagic[:])
	namesOff, stride := idxV1NamesOff, 24
	if v2 {
		if v := binary.BigEndian.Uint32(data[4:]); v != 2 {
			return nil, fmt.Errorf("%w %d", ErrUnsupportedVersion, v)
		}
		namesOff, stride = idxV2NamesOff, 20
	}
	if len(data) < namesOff+idxTrailer {
		return nil, malformed("truncated at %d bytes, before the end of the fan-out table", len(data))
	}
	fanStart := namesOff - 256*4
	prev := uint32(0)
	for i := range x.fanout {
		v := binary.BigEndian.Uint32(data[fanStart+4*i:])
		if v < prev {
			return nil, malformed("fan-out entry %d (%d) below entry %d (%d)", i, v, i-1, prev)
		}
		x.fanout[i], prev = v, v
	}
	n := uint64(x.fanout[255])
	var size uint64
	if v2 {
		size = uint64(namesOff) + n*(20+4+4) + idxTrailer
	} else {
		size = uint64(namesOff) + n*24 + idxTrailer
	}
	if uint64(len(data)) < size {
		return nil, malformed("%d objects need at least %d bytes, have %d", n, size, len(data))
	}
	if v2 {
		// 64-bit offsets: each large offset must point into the table.
		offs := data[uint64(namesOff)+n*24 : uint64(namesOff)+n*28]
		large := uint64(0)
		for i := uint64(0); i < n; i++ {
			o := binary.BigEndian.Uint32(offs[4*i:])
			if o&(1<<31) != 0 {
				large = max(large, uint64(o&^(1<<31))+1)
			}
		}
		if want := size + 8*large; uint64(len(data)) != want {
			return nil, malformed("%d objects and %d large offsets need %d bytes, have %d", n, large, want, len(data))
		}
	} else if uint64(len(data)) != size {
		return nil, malformed("%d objects need %d bytes, have %d", n, size, len(data))
	}
	sum := sha1.Sum(data[:len(data)-20])
	if !bytes.Equal(sum[:], data[len(data)-20:]) {
		return nil, malformed("index checksum mismatch")
	}
	x.stride = stride
	x.names = data[namesOff:]
	if !v2 {
		x.names = data[namesOff+4:]
	}
	for i := uint64(0); i < n; i++ {
		h := x.name(int(i))
		if i > 0 && bytes.Compare(x.name(int(i-1)), h) >= 0 {
			return nil, malformed("object names not sorted at entry %d", i)
		}
		if i < uint64(x.fanout[h[0]]) && (h[0] == 0 || i >= uint64(x.fanout[h[0]-1])) {
			continue
		}
		return nil, malformed("object %d (%x) outside its fan-out range", i, h)
	}
	return x, nil
}

func (x *packIndex) name(i int) []byte {
	return x.names[i*x.stride : i*x.stride+20]
}

// len returns the number of objects in the index.
func (x *packIndex) len() int { return int(x.fanout[255]) }

// has reports whether the index lists h.
func (x *packIndex) has(h Hash) bool {
	lo, hi := x.bucket(h)
	i := lo + sort.Search(hi-lo, func(i int) bool { return bytes.Compare(x.name(lo+i), h[:]) >= 0 })
	return i < hi && bytes.Equal(x.name(i), h[:])
}

func (x *packIndex) bucket(h Hash) (lo, hi int) {
	if h[0] > 0 {
		lo = int(x.fanout[h[0]-1])
	}
	return lo, int(x.fanout[h[0]])
}

// idxHas looks h up in the pack index read through r, reading only the
// fan-out entries and the names a binary search visits.
func idxHas(r io.ReaderAt, h Hash) (bool, error) {
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return false, err
	}
	fanStart, namesOff, stride := int64(0), int64(idxV1NamesOff+4), int64(24)
	if bytes.Equal(hdr[:4], idxMagic[:]) {
		if v := binary.BigEndian.Uint32(hdr[4:]); v != 2 {
			return false, fmt.Errorf("%w %d", ErrUnsupportedVersion, v)
		}
		fanStart, namesOff, stride = 8, idxV2NamesOff, 20
	}
	var b [8]byte
	lo := uint32(0)
	if h[0] > 0 {
		if _, err := r.ReadAt(b[:8], fanStart+4*int64(h[0]-1)); err != nil {
			return false, err
		}
		lo = binary.BigEndian.Uint32(b[:4])
	} else if _, err := r.ReadAt(b[4:8], fanStart); err != nil {
		return false, err
	}
	hi := binary.BigEndian.Uint32(b[4:8])
	if hi < lo {
		return false, malformed("fan-out table not monotonic")
	}
	var name Hash
	for lo < hi {
		mid := lo + (hi-lo)/2
		if _, err := r.ReadAt(name[:], namesOff+int64(mid)*stride); err != nil {
			return false, err
		}
		switch c := compareHash(name, h); {
		case c == 0:
			return true, nil
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false, nil
}
