package hgwire

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/limitio"
)

// maxPartPayload bounds the payloads of the small parts read whole
// (phase-heads, bookmarks, obsmarkers, listkeys).
const maxPartPayload = 256 << 20

func readLimited(r io.Reader, what string) ([]byte, error) {
	b, err := limitio.ReadAll(r, maxPartPayload)
	if err != nil {
		return nil, fmt.Errorf("hgwire: %s part: %w", what, err)
	}
	return b, nil
}

// parsePart reads part p whole (readLimited) and parses it into *dst.
func parsePart[T any](p *Part, dst *T, parse func([]byte) (T, error)) error {
	raw, err := readLimited(p, p.Name())
	if err != nil {
		return err
	}
	*dst, err = parse(raw)
	return err
}

// appendPart is parsePart for a list a bundle may send in several parts:
// it appends the part's entries to *dst and sets *got.
func appendPart[T any](p *Part, dst *[]T, got *bool, parse func([]byte) ([]T, error)) error {
	var v []T
	if err := parsePart(p, &v, parse); err != nil {
		return err
	}
	*dst, *got = append(*dst, v...), true
	return nil
}

// PhaseHead is one entry of a phase-heads part.
type PhaseHead struct {
	Phase hg.Phase
	Node  hg.Node
}

// ParsePhaseHeads decodes a phase-heads payload: (int32 phase, node)*.
func ParsePhaseHeads(b []byte) ([]PhaseHead, error) {
	if len(b)%24 != 0 {
		return nil, fmt.Errorf("hgwire: phase-heads payload of %d bytes is not a multiple of 24", len(b))
	}
	out := make([]PhaseHead, 0, len(b)/24)
	for ; len(b) > 0; b = b[24:] {
		ph := int32(binary.BigEndian.Uint32(b))
		if ph < int32(hg.Public) || ph > int32(hg.Secret) {
			return nil, fmt.Errorf("hgwire: phase-heads: unknown phase %d", ph)
		}
		var n hg.Node
		copy(n[:], b[4:24])
		out = append(out, PhaseHead{Phase: hg.Phase(ph), Node: n})
	}
	return out, nil
}

// ParseBookmarks decodes a bookmarks payload: (node, u16 length, name)*.
func ParseBookmarks(b []byte) (map[string]hg.Node, error) {
	out := map[string]hg.Node{}
	for len(b) > 0 {
		if len(b) < 22 {
			return nil, fmt.Errorf("hgwire: bookmarks part: truncated entry")
		}
		var n hg.Node
		copy(n[:], b[:20])
		l := int(binary.BigEndian.Uint16(b[20:22]))
		b = b[22:]
		if len(b) < l {
			return nil, fmt.Errorf("hgwire: bookmarks part: truncated name")
		}
		name := string(b[:l])
		b = b[l:]
		if err := checkBookmarkName(name); err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, nil
}

func checkBookmarkName(name string) error {
	if name == "" {
		return fmt.Errorf("hgwire: empty bookmark name")
	}
	for _, c := range []byte(name) {
		if c == '\n' || c == '\r' || c == 0 {
			return fmt.Errorf("hgwire: bookmark name %q has a control character", name)
		}
	}
	return nil
}

// Obsmarker is one decoded obsolescence marker with its encoded form
// (what the obsstore holds).
type Obsmarker struct {
	hg.Marker
	Raw []byte
}

// ObsmarkersVersion1 is the only marker format parsed (and advertised).
const ObsmarkersVersion1 = 1

// ParseObsmarkers decodes an obsmarkers payload (or an obsstore file): a
// version byte, then markers in that format. Only version 1 is supported.
func ParseObsmarkers(b []byte) ([]Obsmarker, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != ObsmarkersVersion1 {
		return nil, &UnsupportedError{What: fmt.Sprintf("obsolescence marker format %d", b[0])}
	}
	return ParseObsmarkersV1(b[1:])
}

// ParseObsmarkersV1 decodes version 1 markers (no version byte):
// u32 size, float64 date, int16 tz (minutes), u16 flags, u8 successors,
// u8 parents (3: none recorded), u8 metadata entries, predecessor,
// successors, parents, (u8 key, u8 value) lengths, metadata.
func ParseObsmarkersV1(b []byte) ([]Obsmarker, error) {
	var out []Obsmarker
	for off := 0; off < len(b); {
		if len(b)-off < 19 {
			return nil, fmt.Errorf("hgwire: obsmarker at offset %d: truncated header", off)
		}
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 19+20 || size > len(b)-off {
			return nil, fmt.Errorf("hgwire: obsmarker at offset %d: size %d out of range", off, size)
		}
		m := b[off : off+size]
		date := math.Float64frombits(binary.BigEndian.Uint64(m[4:]))
		tz := int16(binary.BigEndian.Uint16(m[12:]))
		flags := binary.BigEndian.Uint16(m[14:])
		nsucc, npar, nmeta := int(m[16]), int(m[17]), int(m[18])
		if math.IsNaN(date) || math.IsInf(date, 0) || math.Abs(date) > 1e15 {
			return nil, fmt.Errorf("hgwire: obsmarker at offset %d: bad date", off)
		}
		if npar == 3 {
			npar = -1
		} else if npar > 2 {
			return nil, fmt.Errorf("hgwire: obsmarker at offset %d: %d parents", off, npar)
		}
		need := 19 + 20 + 20*nsucc + 20*max(npar, 0) + 2*nmeta
		if need > size {
			return nil, fmt.Errorf("hgwire: obsmarker at offset %d: %d bytes needed, size %d", off, need, size)
		}
		var mk Obsmarker
		p := 19
		copy(mk.Prec[:], m[p:p+20])
		p += 20
		for i := 0; i < nsucc; i++ {
			var n hg.Node
			copy(n[:], m[p:p+20])
			mk.Succs = append(mk.Succs, n)
			p += 20
		}
		if npar >= 0 {
			mk.Parents = []hg.Node{}
			for i := 0; i < npar; i++ {
				var n hg.Node
				copy(n[:], m[p:p+20])
				mk.Parents = append(mk.Parents, n)
				p += 20
			}
		}
		lens := m[p : p+2*nmeta]
		p += 2 * nmeta
		if nmeta > 0 {
			mk.Meta = make(map[string]string, nmeta)
		}
		for i := 0; i < nmeta; i++ {
			kl, vl := int(lens[2*i]), int(lens[2*i+1])
			if size-p < kl+vl {
				return nil, fmt.Errorf("hgwire: obsmarker at offset %d: metadata truncated", off)
			}
			mk.Meta[string(m[p:p+kl])] = string(m[p+kl : p+kl+vl])
			p += kl + vl
		}
		if p != size {
			return nil, fmt.Errorf("hgwire: obsmarker at offset %d: %d trailing bytes", off, size-p)
		}
		mk.Flags = flags
		sec, frac := math.Modf(date)
		mk.Date = time.Unix(int64(sec), int64(frac*1e9)).In(time.FixedZone("", -int(tz)*60))
		mk.Raw = m
		out = append(out, mk)
		off += size
	}
	return out, nil
}
