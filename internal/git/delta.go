package git

import (
	"encoding/binary"
	"errors"
)

// Git delta encoding (the payload of OFS_DELTA pack entries): two size
// varints, then instructions that copy a range of the base or insert
// literal bytes.

const (
	maxDeltaCopy   = 0x10000 // largest copy one instruction holds without a size byte set, as Git emits
	maxDeltaInsert = 0x7f
	// minDeltaSaving: a delta is used only when it saves at least this
	// fraction (in 1/8ths) of the object's size before compression.
	minDeltaSaving = 4
)

// makeDelta returns a delta turning base into target, built from their common
// prefix and suffix (which is what changes between versions of a tree or an
// edited file mostly share), or nil when that would not save at least half
// of target.
func makeDelta(base, target []byte) []byte {
	n := min(len(base), len(target))
	pre := 0
	for _, block := range [...]int{1024, 64, 8} {
		for pre+block <= n && string(base[pre:pre+block]) == string(target[pre:pre+block]) {
			pre += block
		}
	}
	for pre < n && base[pre] == target[pre] {
		pre++
	}
	suf := 0
	for _, block := range [...]int{1024, 64, 8} {
		for suf+block <= n-pre && string(base[len(base)-suf-block:len(base)-suf]) == string(target[len(target)-suf-block:len(target)-suf]) {
			suf += block
		}
	}
	for suf < n-pre && base[len(base)-1-suf] == target[len(target)-1-suf] {
		suf++
	}
	mid := len(target) - pre - suf
	// Upper bound of the encoded size: varints, copies, inserts.
	est := 20 + 8*(pre/maxDeltaCopy+suf/maxDeltaCopy+2) + mid + mid/maxDeltaInsert + 1
	if est*8 > len(target)*(8-minDeltaSaving) {
		return nil
	}
	d := make([]byte, 0, est)
	d = appendDeltaSize(d, uint64(len(base)))
	d = appendDeltaSize(d, uint64(len(target)))
	d = appendDeltaCopy(d, 0, pre)
	for lit := target[pre : pre+mid]; len(lit) > 0; {
		k := min(len(lit), maxDeltaInsert)
		d = append(d, byte(k))
		d = append(d, lit[:k]...)
		lit = lit[k:]
	}
	d = appendDeltaCopy(d, len(base)-suf, suf)
	return d
}

// deltaFits reports whether delta is well formed for a base of baseSize
// bytes and yields targetSize bytes: its header names both sizes, every
// copy lies within the base, and nothing follows the last instruction.
// It does not look at the bytes of either object.
func deltaFits(delta []byte, baseSize int64, targetSize int) bool {
	i := 0
	header := func() (int64, bool) {
		var v int64
		for shift := uint(0); i < len(delta) && shift < 63; shift += 7 {
			c := delta[i]
			i++
			v |= int64(c&0x7f) << shift
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	src, ok1 := header()
	dst, ok2 := header()
	if !ok1 || !ok2 || src != baseSize || dst != int64(targetSize) {
		return false
	}
	var out int64
	for i < len(delta) {
		in, next, ok := deltaInstruction(delta, i)
		if !ok || in.copy && in.off+in.size > src {
			return false
		}
		i = next
		if out += in.size; out > dst {
			return false
		}
	}
	return out == dst
}

// deltaOp is one instruction of a Git delta: a copy of size bytes at off
// in the base, or an insert of the size literal bytes at off in the delta.
type deltaOp struct {
	copy      bool
	off, size int64
}

// deltaInstruction decodes the instruction that delta holds at i and
// returns the index after it; ok is false for the reserved instruction 0
// or when delta ends inside the instruction.
func deltaInstruction(delta []byte, i int) (op deltaOp, next int, ok bool) {
	cmd := delta[i]
	i++
	if cmd == 0 {
		return op, i, false
	}
	if cmd&0x80 == 0 {
		n := int(cmd)
		if i+n > len(delta) {
			return op, i, false
		}
		return deltaOp{off: int64(i), size: int64(n)}, i + n, true
	}
	op.copy = true
	for k := range 7 {
		if cmd&(1<<k) == 0 {
			continue
		}
		if i >= len(delta) {
			return op, i, false
		}
		if k < 4 {
			op.off |= int64(delta[i]) << (8 * k)
		} else {
			op.size |= int64(delta[i]) << (8 * (k - 4))
		}
		i++
	}
	if op.size == 0 {
		op.size = 0x10000
	}
	return op, i, true
}

// AppendPatchDelta appends to d the Git delta equivalent to a Mercurial
// binary patch (hunks of big-endian start, end and length, then length
// bytes, replacing base[start:end]) over a base of baseSize bytes whose
// result is targetSize bytes long. It returns nil when patch is not well
// formed for those sizes.
func AppendPatchDelta(d []byte, patch []byte, baseSize, targetSize int) []byte {
	d = appendDeltaSize(d, uint64(baseSize))
	d = appendDeltaSize(d, uint64(targetSize))
	last, size := 0, 0
	for p := 0; p < len(patch); {
		if len(patch)-p < 12 {
			return nil
		}
		start := int(binary.BigEndian.Uint32(patch[p:]))
		end := int(binary.BigEndian.Uint32(patch[p+4:]))
		n := int(binary.BigEndian.Uint32(patch[p+8:]))
		p += 12
		if start < last || end < start || end > baseSize || n > len(patch)-p {
			return nil
		}
		d = appendDeltaCopy(d, last, start-last)
		for lit := patch[p : p+n]; len(lit) > 0; {
			k := min(len(lit), maxDeltaInsert)
			d = append(d, byte(k))
			d = append(d, lit[:k]...)
			lit = lit[k:]
		}
		size += start - last + n
		p += n
		last = end
	}
	d = appendDeltaCopy(d, last, baseSize-last)
	if size+baseSize-last != targetSize {
		return nil
	}
	return d
}

func appendDeltaSize(d []byte, v uint64) []byte {
	for v >= 0x80 {
		d = append(d, byte(v)|0x80)
		v >>= 7
	}
	return append(d, byte(v))
}

// appendDeltaCopy appends instructions copying base[off:off+size].
func appendDeltaCopy(d []byte, off, size int) []byte {
	for size > 0 {
		k := min(size, maxDeltaCopy)
		at := len(d)
		cmd := byte(0x80)
		d = append(d, 0)
		for i := range 4 {
			if b := byte(off >> (8 * i)); b != 0 {
				cmd |= 1 << i
				d = append(d, b)
			}
		}
		if k != maxDeltaCopy { // a size of 0x10000 is written as no size bytes
			for i := range 3 {
				if b := byte(k >> (8 * i)); b != 0 {
					cmd |= 0x10 << i
					d = append(d, b)
				}
			}
		}
		d[at] = cmd
		off += k
		size -= k
	}
	return d
}

// ErrDelta is returned by ApplyDelta for a delta that does not apply to its
// base.
var ErrDelta = errors.New("git: invalid delta")

// ApplyDelta applies the Git delta to base as dulwich's apply_delta does
// (hg-git, which uses dulwich, stores rewritten authors and messages of Git
// commits that way, and dulwich reads the deltas PackWriter writes): a copy
// out of the base's range ends the instructions, and the result is good only
// when the delta was read to its end and the result has the size its header
// gives. Any other inconsistency is ErrDelta.
func ApplyDelta(base, delta []byte) ([]byte, error) {
	i := 0
	header := func() (int64, error) {
		var size int64
		shift := uint(0)
		for {
			if i >= len(delta) {
				return 0, ErrDelta
			}
			c := delta[i]
			i++
			if shift < 63 {
				size |= int64(c&0x7f) << shift
			}
			shift += 7
			if c&0x80 == 0 {
				return size, nil
			}
		}
	}
	srcSize, err := header()
	if err != nil {
		return nil, err
	}
	destSize, err := header()
	if err != nil {
		return nil, err
	}
	if srcSize != int64(len(base)) {
		return nil, ErrDelta
	}
	// One instruction yields at most the whole base or 127 literal bytes.
	if destSize > int64(len(delta))*max(int64(len(base)), 127) {
		return nil, ErrDelta
	}
	out := make([]byte, 0, min(destSize, 1<<20))
	for i < len(delta) {
		in, next, ok := deltaInstruction(delta, i)
		if !ok {
			// A reserved instruction 0, or the delta ends inside one
			// (Python slices a literal short, then finds the delta not
			// consumed).
			return nil, ErrDelta
		}
		i = next
		if !in.copy {
			out = append(out, delta[in.off:in.off+in.size]...)
		} else if in.off+in.size > srcSize || in.size > destSize {
			// dulwich stops reading here; what follows makes it fail.
			if int64(len(out)) != destSize || i != len(delta) {
				return nil, ErrDelta
			}
			return out, nil
		} else {
			out = append(out, base[in.off:in.off+in.size]...)
		}
		if int64(len(out)) > destSize {
			return nil, ErrDelta
		}
	}
	if int64(len(out)) != destSize {
		return nil, ErrDelta
	}
	return out, nil
}
