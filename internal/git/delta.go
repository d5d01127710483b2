package git

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
	for pre < n && base[pre] == target[pre] {
		pre++
	}
	suf := 0
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
