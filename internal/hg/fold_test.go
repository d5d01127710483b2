package hg

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"testing"
)

// randomDelta returns a valid Mercurial delta over base: a few hunks
// replacing, deleting or inserting bytes.
func randomDelta(rng *rand.Rand, base []byte) []byte {
	var d []byte
	at := 0
	for h := rng.Intn(5); h > 0 && at <= len(base); h-- {
		start := at + rng.Intn(len(base)-at+1)
		end := start + rng.Intn(len(base)-start+1)/4
		data := make([]byte, rng.Intn(40))
		for i := range data {
			data[i] = byte('a' + rng.Intn(26))
		}
		d = binary.BigEndian.AppendUint32(d, uint32(start))
		d = binary.BigEndian.AppendUint32(d, uint32(end))
		d = binary.BigEndian.AppendUint32(d, uint32(len(data)))
		d = append(d, data...)
		at = end
		if rng.Intn(3) == 0 {
			at++ // a gap, so that hunks do not always touch
		}
	}
	return d
}

// TestFoldSegments folds random chains of deltas and checks the text
// against the deltas applied one at a time.
func TestFoldSegments(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := range 300 {
		base := bytes.Repeat([]byte("0123456789\n"), rng.Intn(200))
		text := base
		n := 1 + rng.Intn(40)
		f := new(folder)
		for k := range n {
			d := randomDelta(rng, text)
			next, err := Patch(text, d)
			if err != nil {
				t.Fatalf("iteration %d: delta %d: %v", iter, k, err)
			}
			at := len(f.arena)
			f.arena = append(f.arena, d...)
			f.segs[0] = appendSegments(f.segs[0], len(text), d, at)
			f.ends[0] = append(f.ends[0], len(f.segs[0]))
			text = next
		}
		segs := f.fold()
		size := 0
		for _, s := range segs {
			size += int(s.n)
		}
		if size != len(text) {
			t.Fatalf("iteration %d: folded %d deltas make %d bytes, want %d", iter, n, size, len(text))
		}
		got := make([]byte, size)
		applySegments(got, base, f.arena, segs)
		if !bytes.Equal(got, text) {
			t.Fatalf("iteration %d: folded %d deltas make\n%q\nwant\n%q", iter, n, got, text)
		}
	}
}
