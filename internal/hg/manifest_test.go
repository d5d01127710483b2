package hg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// diffParsed is the reference for DiffManifests: both texts parsed whole
// and their entries compared by path.
func diffParsed(t testing.TB, old, new []byte) []ManifestChange {
	t.Helper()
	a, err := ParseManifest(old)
	if err != nil {
		t.Fatalf("old: %v", err)
	}
	b, err := ParseManifest(new)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	var out []ManifestChange
	i, k := 0, 0
	for i < len(a) || k < len(b) {
		switch {
		case k >= len(b) || i < len(a) && a[i].Path < b[k].Path:
			out = append(out, ManifestChange{Old: a[i]})
			i++
		case i >= len(a) || b[k].Path < a[i].Path:
			out = append(out, ManifestChange{New: b[k]})
			k++
		default:
			if a[i] != b[k] {
				out = append(out, ManifestChange{Old: a[i], New: b[k]})
			}
			i++
			k++
		}
	}
	return out
}

func manifestText(entries map[string]string) []byte {
	var b strings.Builder
	for _, p := range slices.Sorted(maps.Keys(entries)) {
		b.WriteString(p + "\x00" + entries[p] + "\n")
	}
	return []byte(b.String())
}

func node(c byte) string { return strings.Repeat(string(c), 40) }

func TestDiffManifests(t *testing.T) {
	t.Parallel()
	base := map[string]string{"a": node('1'), "b/c": node('2'), "b/d": node('3') + "x", "e": node('4'), "f": node('5') + "l"}
	with := func(change map[string]string) []byte {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range change {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return manifestText(m)
	}
	cases := []struct {
		name     string
		old, new []byte
	}{
		{"same", with(nil), with(nil)},
		{"from empty", nil, with(nil)},
		{"to empty", with(nil), nil},
		{"first changed", with(nil), with(map[string]string{"a": node('9')})},
		{"last changed", with(nil), with(map[string]string{"f": node('9')})},
		{"flag only", with(nil), with(map[string]string{"e": node('4') + "x"})},
		{"flag dropped", with(nil), with(map[string]string{"b/d": node('3')})},
		{"added first", with(nil), with(map[string]string{"0": node('8')})},
		{"added last", with(nil), with(map[string]string{"z": node('8')})},
		{"added middle", with(nil), with(map[string]string{"b/cc": node('8')})},
		{"removed first", with(nil), with(map[string]string{"a": ""})},
		{"removed last", with(nil), with(map[string]string{"f": ""})},
		{"far apart", with(nil), with(map[string]string{"a": node('7'), "f": ""})},
		// The same node bytes end one line and start the next: the common
		// suffix starts inside a line.
		{"suffix mid-line", with(nil), with(map[string]string{"e": node('5') + "l"})},
		{"prefix path", with(map[string]string{"b/c": node('2')}), with(map[string]string{"b/c": "", "b/cd": node('2')})},
	}
	for _, c := range cases {
		got, sorted, err := DiffManifests(c.old, c.new)
		if err != nil || !sorted {
			t.Errorf("%s: sorted %v, err %v", c.name, sorted, err)
			continue
		}
		if want := diffParsed(t, c.old, c.new); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, want)
		}
	}
	// Unsorted or repeated paths where the texts differ are reported.
	for _, bad := range []string{
		"a\x00" + node('1') + "\nc\x00" + node('2') + "\nb\x00" + node('3') + "\n",
		"a\x00" + node('1') + "\nb\x00" + node('2') + "\nb\x00" + node('3') + "\n",
	} {
		if _, sorted, err := DiffManifests(with(nil), []byte(bad)); err != nil || sorted {
			t.Errorf("%q: sorted %v, err %v; want unsorted", bad, sorted, err)
		}
	}
	// A malformed line where the texts differ is an error.
	if _, _, err := DiffManifests(with(nil), append(with(nil), "g\x00zz\n"...)); err == nil {
		t.Errorf("bad node: no error")
	}
}

// TestDiffManifestsRandom compares DiffManifests with the parsed diff on
// random edits of a manifest, as a conversion sees them one after another.
func TestDiffManifestsRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	randomEdits(rng, manifestEdits{steps: 3000, digits: 4, changes: 4, dirs: 5, files: 40}, func(step int, prev, text []byte) {
		got, sorted, err := DiffManifests(prev, text)
		if err != nil || !sorted {
			t.Fatalf("step %d: sorted %v, err %v", step, sorted, err)
		}
		if want := diffParsed(t, prev, text); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d:\n got %+v\nwant %+v", step, got, want)
		}
	})
}

// manifestEdits describes randomEdits' manifests: steps texts, each with
// 1 to changes paths dN/fM (N below dirs, M below files) set or deleted
// (one in four), nodes of the first digits hex digits (few digits: long
// common runs) and random flags.
type manifestEdits struct{ steps, digits, changes, dirs, files int }

// randomEdits calls fn with each step's previous and new manifest text.
func randomEdits(rng *rand.Rand, e manifestEdits, fn func(step int, prev, text []byte)) {
	m := map[string]string{}
	randNode := func() string {
		b := make([]byte, 40)
		for i := range b {
			b[i] = "0123456789abcdef"[rng.Intn(e.digits)]
		}
		return string(b) + []string{"", "", "x", "l"}[rng.Intn(4)]
	}
	prev := manifestText(m)
	for step := 0; step < e.steps; step++ {
		for n := rng.Intn(e.changes); n >= 0; n-- {
			p := fmt.Sprintf("d%d/f%d", rng.Intn(e.dirs), rng.Intn(e.files))
			if rng.Intn(4) == 0 {
				delete(m, p)
			} else {
				m[p] = randNode()
			}
		}
		text := manifestText(m)
		fn(step, prev, text)
		prev = text
	}
}

func TestEncodeManifest(t *testing.T) {
	t.Parallel()
	text := manifestText(map[string]string{"a": node('1'), "b": node('2') + "x", "c/d": node('3') + "l"})
	mf, err := ParseManifest(text)
	if err != nil {
		t.Fatal(err)
	}
	if got := EncodeManifest(mf); string(got) != string(text) {
		t.Errorf("EncodeManifest = %q, want %q", got, text)
	}
}

// TestManifestCacheBounded reads click's manifests in a random order,
// jumping between branch points as a conversion does, with a cache of a
// few texts: each text is checked against its node, and the cache stays
// within its bound.
func TestManifestCacheBounded(t *testing.T) {
	t.Parallel()
	r, err := Open(unbundle(t, "click.hg"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const bound = 64 << 10
	r.SetManifestCache(bound)
	rl := r.ManifestLog()
	rng := rand.New(rand.NewSource(2))
	largest := 0
	for i := 0; i < 3000; i++ {
		rev := rng.Intn(rl.Len())
		if i%3 != 0 && i > 0 {
			rev = min(rl.Len()-1, max(0, rev%50+i%rl.Len())) // near recent ones
		}
		if err := rl.Verify(rev); err != nil {
			t.Fatal(err)
		}
		size, _ := rl.RawSize(rev)
		largest = max(largest, size)
		if rl.cachedBytes > bound+largest {
			t.Fatalf("after %d reads: %d bytes cached, bound %d", i+1, rl.cachedBytes, bound)
		}
		if n := len(rl.cacheIdx); n > len(rl.cache) {
			t.Fatalf("index of %d entries for %d slots", n, len(rl.cache))
		}
	}
}

// TestFilelogsEvictedLeastRecentlyUsed opens more filelogs than a Repo
// keeps, using one of them all along: it stays open, the count stays
// bounded.
func TestFilelogsEvictedLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	dir, _ := initBuilder(t, "many")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	hot, err := r.Filelog("hot")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3*maxOpenFilelogs; i++ {
		if _, err := r.Filelog(fmt.Sprintf("cold/%d", i)); err != nil {
			t.Fatal(err)
		}
		again, err := r.Filelog("hot")
		if err != nil {
			t.Fatal(err)
		}
		if again != hot {
			t.Fatalf("after %d other filelogs: the one in use was evicted", i+1)
		}
		if n := len(r.filelogs); n > maxOpenFilelogs {
			t.Fatalf("%d filelogs open, at most %d wanted", n, maxOpenFilelogs)
		}
	}
	// A lower limit (a conversion with less memory) holds too.
	r.SetLimits(1<<20, 8)
	for i := 0; i < 100; i++ {
		if _, err := r.Filelog(fmt.Sprintf("lukewarm/%d", i)); err != nil {
			t.Fatal(err)
		}
		if n := len(r.filelogs); n > 8 {
			t.Fatalf("with SetLimits(_, 8): %d filelogs open", n)
		}
	}
}

// patchFor returns a Mercurial binary patch turning old into new: one hunk
// per run of differing lines (found by a merge of the sorted lines), each
// shrunk by bytes the two sides share at its edges (so hunks start and end
// mid-line, as any delta may), or, when whole, one hunk replacing all.
func patchFor(rng *rand.Rand, old, new []byte, whole bool) []byte {
	var patch []byte
	hunk := func(start, end int, data []byte) {
		patch = binary.BigEndian.AppendUint32(patch, uint32(start))
		patch = binary.BigEndian.AppendUint32(patch, uint32(end))
		patch = binary.BigEndian.AppendUint32(patch, uint32(len(data)))
		patch = append(patch, data...)
	}
	if whole {
		hunk(0, len(old), new)
		return patch
	}
	lines := func(b []byte) (out []int) { // line starts, and len(b)
		for i := 0; i < len(b); {
			out = append(out, i)
			i += bytes.IndexByte(b[i:], '\n') + 1
		}
		return append(out, len(b))
	}
	ol, nl := lines(old), lines(new)
	line := func(b []byte, at []int, i int) []byte { return b[at[i]:at[i+1]] }
	i, k := 0, 0
	for i < len(ol)-1 || k < len(nl)-1 {
		if i < len(ol)-1 && k < len(nl)-1 && bytes.Equal(line(old, ol, i), line(new, nl, k)) {
			i, k = i+1, k+1
			continue
		}
		i0, k0 := i, k
		for i < len(ol)-1 || k < len(nl)-1 {
			if i < len(ol)-1 && k < len(nl)-1 && bytes.Equal(line(old, ol, i), line(new, nl, k)) {
				break
			}
			path := func(l []byte) []byte { return l[:bytes.IndexByte(l, 0)] }
			switch {
			case k >= len(nl)-1:
				i++
			case i >= len(ol)-1:
				k++
			case bytes.Compare(path(line(old, ol, i)), path(line(new, nl, k))) < 0:
				i++
			case bytes.Compare(path(line(old, ol, i)), path(line(new, nl, k))) > 0:
				k++
			default:
				i, k = i+1, k+1
			}
		}
		os, oe, ns, ne := ol[i0], ol[i], nl[k0], nl[k]
		for rng.Intn(2) == 0 && os < oe && ns < ne && old[os] == new[ns] {
			os, ns = os+1, ns+1
		}
		for rng.Intn(2) == 0 && os < oe && ns < ne && old[oe-1] == new[ne-1] {
			oe, ne = oe-1, ne-1
		}
		hunk(os, oe, new[ns:ne])
	}
	return patch
}

// TestDiffManifestsPatched compares DiffManifestsPatched with the parsed
// diff on random edits, with patches of hunks that start and end mid-line,
// patches of one hunk, and malformed patches (which must not change the
// answer).
func TestDiffManifestsPatched(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(2))
	randomEdits(rng, manifestEdits{steps: 4000, digits: 3, changes: 6, dirs: 6, files: 50}, func(step int, prev, text []byte) {
		patch := patchFor(rng, prev, text, rng.Intn(10) == 0)
		if got, err := Patch(prev, patch); err != nil || !bytes.Equal(got, text) {
			t.Fatalf("step %d: test patch does not apply: %v", step, err)
		}
		want := diffParsed(t, prev, text)
		got, sorted, err := DiffManifestsPatched(prev, text, patch)
		if err != nil || !sorted {
			t.Fatalf("step %d: sorted %v, err %v", step, sorted, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d:\n got %+v\nwant %+v\npatch %q", step, got, want, patch)
		}
		// A patch that is not well formed, or names the wrong size, is
		// not used.
		for _, bad := range [][]byte{patch[:max(len(patch)-1, 0)], append(patch[:len(patch):len(patch)], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x')} {
			if got, _, err := DiffManifestsPatched(prev, text, bad); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d: with a patch that does not fit: got %+v, err %v", step, got, err)
			}
		}
	})
	// A new text out of order is reported unsorted, as DiffManifests does.
	old := []byte("a\x00" + node('1') + "\nc\x00" + node('2') + "\ne\x00" + node('3') + "\n")
	bad := []byte("a\x00" + node('1') + "\nd\x00" + node('2') + "\nb\x00" + node('4') + "\ne\x00" + node('3') + "\n")
	if _, sorted, err := DiffManifestsPatched(old, bad, patchFor(rng, old, bad, false)); err != nil || sorted {
		t.Errorf("unsorted new text: sorted %v, err %v", sorted, err)
	}
}
