package git

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"io"
	"slices"
)

// writeIdx writes a version-2 pack index for objects.
func writeIdx(f io.Writer, objects map[Hash]packEntry, packSum Hash) error {
	names := make([]Hash, 0, len(objects))
	for h := range objects {
		names = append(names, h)
	}
	slices.SortFunc(names, func(a, b Hash) int { return compareHash(a, b) })

	sum := sha1.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, sum), 256<<10)
	var b4 [4]byte
	put32 := func(v uint32) {
		binary.BigEndian.PutUint32(b4[:], v)
		w.Write(b4[:])
	}
	w.Write(idxMagic[:])
	put32(2)
	var fanout [256]uint32
	for _, h := range names {
		fanout[h[0]]++
	}
	var total uint32
	for i := range fanout {
		total += fanout[i]
		put32(total)
	}
	for _, h := range names {
		w.Write(h[:])
	}
	for _, h := range names {
		put32(objects[h].crc)
	}
	var large []uint64
	for _, h := range names {
		off := objects[h].offset
		if off < 1<<31 {
			put32(uint32(off))
			continue
		}
		put32(1<<31 | uint32(len(large)))
		large = append(large, off)
	}
	var b8 [8]byte
	for _, off := range large {
		binary.BigEndian.PutUint64(b8[:], off)
		w.Write(b8[:])
	}
	w.Write(packSum[:])
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := f.Write(sum.Sum(nil))
	return err
}

// idxMagic opens a version-2 pack index; version 1 has no header.
var idxMagic = [4]byte{0xff, 't', 'O', 'c'}
