package hg

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"sort"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// ManifestEntry is one file of a manifest.
type ManifestEntry struct {
	Path  string
	Node  Node // filelog node
	Flags byte // 0, 'x' (executable) or 'l' (symlink)
}

// ParseManifest parses a flat manifest text: lines "path\0hex40[flags]\n".
// Entries come back sorted by Path (bytewise). A 't' flag (tree manifest
// directory) is refused.
func ParseManifest(text []byte) ([]ManifestEntry, error) {
	return parseManifest(text, nil)
}

// parseManifest parses text; intern, when set, returns a shared string for
// a path so that repeated manifests do not allocate the same paths again.
func parseManifest(text []byte, intern func([]byte) string) ([]ManifestEntry, error) {
	entries := make([]ManifestEntry, 0, bytes.Count(text, []byte{'\n'}))
	sorted := true
	var prev []byte
	for off := 0; off < len(text); {
		path, e, n, err := parseManifestLine(text, off)
		if err != nil {
			return nil, err
		}
		if sorted && prev != nil && bytes.Compare(prev, path) >= 0 {
			sorted = false
		}
		prev = path
		if intern != nil {
			e.Path = intern(path)
		} else {
			e.Path = string(path)
		}
		entries = append(entries, e)
		off += n
	}
	if !sorted {
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	}
	return entries, nil
}

// parseManifestLine parses the line of text starting at off and returns
// its path, its entry (without Path) and its length with the newline.
func parseManifestLine(text []byte, off int) ([]byte, ManifestEntry, int, error) {
	var e ManifestEntry
	nl := bytes.IndexByte(text[off:], '\n')
	if nl < 0 {
		return nil, e, 0, corruptf("hg: parse manifest: line at offset %d has no newline", off)
	}
	line := text[off : off+nl]
	z := bytes.IndexByte(line, 0)
	if z < 0 {
		return nil, e, 0, corruptf("hg: parse manifest: line at offset %d has no NUL", off)
	}
	path, rest := line[:z], line[z+1:]
	if len(rest) < 40 || !decodeHex(e.Node[:], rest[:40]) {
		return nil, e, 0, corruptf("hg: parse manifest: line at offset %d: bad node %q", off, limitio.Clip(string(rest), 64))
	}
	switch flags := rest[40:]; {
	case len(flags) == 0:
	case len(flags) == 1 && (flags[0] == 'x' || flags[0] == 'l'):
		e.Flags = flags[0]
	case len(flags) == 1 && flags[0] == 't':
		return nil, e, 0, &UnsupportedError{Requirement: "treemanifest (manifest entry with flag t)"}
	default:
		return nil, e, 0, corruptf("hg: parse manifest: line at offset %d: unknown flags %q", off, limitio.Clip(string(flags), 16))
	}
	if len(path) == 0 {
		return nil, e, 0, corruptf("hg: parse manifest: line at offset %d: empty path", off)
	}
	return path, e, nl + 1, nil
}

// EncodeManifest returns the text of a manifest sorted by path (the
// inverse of ParseManifest).
func EncodeManifest(entries []ManifestEntry) []byte {
	n := 0
	for _, e := range entries {
		n += len(e.Path) + 43
	}
	out := make([]byte, 0, n)
	for _, e := range entries {
		out = append(out, e.Path...)
		out = append(out, 0)
		out = hex.AppendEncode(out, e.Node[:])
		if e.Flags != 0 {
			out = append(out, e.Flags)
		}
		out = append(out, '\n')
	}
	return out
}

// ManifestChange is a path whose entry differs between two manifests; Old
// or New has an empty Path where the path is absent on that side.
type ManifestChange struct {
	Old, New ManifestEntry
}

// DiffManifests returns the paths whose entries differ between the
// manifest texts old and new, in path order. old must be sorted and well
// formed (a text ParseManifest accepted unsorted was not); only the lines
// that differ are parsed, so the cost follows the span of the change, not
// the size of the manifest. sorted is false when new is not sorted by path
// (or repeats one): callers must then parse it whole.
func DiffManifests(old, new []byte) (changes []ManifestChange, sorted bool, err error) {
	p := commonPrefix(old, new)
	p = bytes.LastIndexByte(old[:p], '\n') + 1 // a line start in both
	a, b := len(old)-commonSuffix(old[p:], new[p:]), 0
	b = len(new) - (len(old) - a)
	// The suffix must start a line in both texts: move past its first
	// newline unless it does.
	if !(a == p || old[a-1] == '\n') || !(b == p || new[b-1] == '\n') {
		if k := bytes.IndexByte(old[a:], '\n'); k >= 0 {
			a, b = a+k+1, b+k+1
		} else {
			a, b = len(old), len(new)
		}
	}
	var prevPath []byte
	if p > 0 {
		start := bytes.LastIndexByte(new[:p-1], '\n') + 1
		prevPath = new[start : start+bytes.IndexByte(new[start:p], 0)]
	}
	oi, ni := p, p
	var op, np []byte
	var oe, ne ManifestEntry
	var on, nn int
	for oi < a || ni < b {
		if op == nil && oi < a {
			if op, oe, on, err = parseManifestLine(old[:a], oi); err != nil {
				return nil, false, err
			}
		}
		if np == nil && ni < b {
			if np, ne, nn, err = parseManifestLine(new[:b], ni); err != nil {
				return nil, false, err
			}
			if prevPath != nil && bytes.Compare(prevPath, np) >= 0 {
				return nil, false, nil
			}
			prevPath = np
		}
		switch c := cmpPaths(op, np); {
		case c == 0:
			if oe != ne {
				oe.Path, ne.Path = string(op), string(np)
				changes = append(changes, ManifestChange{Old: oe, New: ne})
			}
			oi, ni, op, np = oi+on, ni+nn, nil, nil
		case c < 0:
			oe.Path = string(op)
			changes = append(changes, ManifestChange{Old: oe})
			oi, op = oi+on, nil
		default:
			ne.Path = string(np)
			changes = append(changes, ManifestChange{New: ne})
			ni, np = ni+nn, nil
		}
	}
	if prevPath != nil && b < len(new) {
		next := new[b : b+max(bytes.IndexByte(new[b:], 0), 0)]
		if bytes.Compare(prevPath, next) >= 0 {
			return nil, false, nil
		}
	}
	return changes, true, nil
}

// DiffManifestsPatched is DiffManifests for a new text that is old with
// patch (a Mercurial binary patch, as the manifest log stores a delta)
// applied: only the lines around the patch's hunks are compared, so the
// cost follows the size of the change even when it is spread over the
// manifest. new must be old patched by patch (the caller has both from the
// revlog read that applied it): only the hunks' structure and the sizes
// are checked, and a patch that fails those checks is not used (the texts
// are then compared whole).
func DiffManifestsPatched(old, new, patch []byte) (changes []ManifestChange, sorted bool, err error) {
	type hunk struct{ start, end, shift int } // shift: new offset minus old, after the hunk
	var hunks []hunk
	shift, last := 0, 0
	for p := 0; p < len(patch); {
		if len(patch)-p < 12 {
			return DiffManifests(old, new)
		}
		start := int(binary.BigEndian.Uint32(patch[p:]))
		end := int(binary.BigEndian.Uint32(patch[p+4:]))
		n := int(binary.BigEndian.Uint32(patch[p+8:]))
		p += 12
		if start < last || end < start || end > len(old) || n > len(patch)-p {
			return DiffManifests(old, new)
		}
		p += n
		shift += n - (end - start)
		hunks = append(hunks, hunk{start, end, shift})
		last = end
	}
	if len(old)+shift != len(new) {
		return DiffManifests(old, new)
	}
	// lineStart: the start of the line holding old[i] (of the one before i
	// when context). lineEnd: just past the first newline at or after i.
	lineStart := func(i int) int { return bytes.LastIndexByte(old[:i], '\n') + 1 }
	lineEnd := func(i int) int {
		if k := bytes.IndexByte(old[i:], '\n'); k >= 0 {
			return i + k + 1
		}
		return len(old)
	}
	before := 0 // shift of the hunks before the current region
	for k := 0; k < len(hunks); {
		// One region: the hunk's lines, one unchanged line of context on
		// either side (so that DiffManifests checks the order across the
		// region's edges), merged with the following hunks that reach it.
		lo := lineStart(hunks[k].start)
		if lo > 0 {
			lo = lineStart(lo - 1)
		}
		hi := lineEnd(hunks[k].end)
		if hi < len(old) {
			hi = lineEnd(hi)
		}
		for k+1 < len(hunks) && hunks[k+1].start < hi {
			k++
			if e := lineEnd(hunks[k].end); e < len(old) {
				hi = max(hi, lineEnd(e))
			} else {
				hi = len(old)
			}
		}
		after := hunks[k].shift
		nlo, nhi := lo+before, hi+after
		if nlo < 0 || nhi > len(new) || nlo > nhi {
			return DiffManifests(old, new)
		}
		ch, ok, err := DiffManifests(old[lo:hi], new[nlo:nhi])
		if err != nil || !ok {
			return nil, ok, err
		}
		changes = append(changes, ch...)
		before = after
		k++
	}
	return changes, true, nil
}

// cmpPaths orders manifest paths, a missing one (nil) after any other.
func cmpPaths(a, b []byte) int {
	switch {
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return bytes.Compare(a, b)
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for _, block := range [...]int{4096, 256, 16} {
		for i+block <= n && bytes.Equal(a[i:i+block], b[i:i+block]) {
			i += block
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix returns the length of the longest common suffix of a and b.
func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for _, block := range [...]int{4096, 256, 16} {
		for i+block <= n && bytes.Equal(a[len(a)-i-block:len(a)-i], b[len(b)-i-block:len(b)-i]) {
			i += block
		}
	}
	for i < n && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	return i
}

// ParseFileMeta splits a filelog text into its metadata ("\1\n" key: value
// lines "\1\n", e.g. copy and copyrev) and the file data. Texts without the
// header have nil metadata.
func ParseFileMeta(text []byte) (data []byte, meta map[string]string, err error) {
	if len(text) < 2 || text[0] != 1 || text[1] != '\n' {
		return text, nil, nil
	}
	end := bytes.Index(text[2:], []byte("\x01\n"))
	if end < 0 {
		return nil, nil, corruptf("hg: parse file metadata: no closing \\1\\n")
	}
	block := text[2 : 2+end]
	meta = map[string]string{}
	for len(block) > 0 {
		nl := bytes.IndexByte(block, '\n')
		var line []byte
		if nl < 0 {
			line, block = block, nil
		} else {
			line, block = block[:nl], block[nl+1:]
		}
		if len(line) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			return nil, nil, corruptf("hg: parse file metadata: line %q has no ': '", limitio.Clip(string(line), 64))
		}
		meta[string(k)] = string(v)
	}
	return text[2+end+2:], meta, nil
}

// FindManifestEntry looks path up in a sorted manifest text by bisection,
// without parsing the rest of it.
func FindManifestEntry(text []byte, path string) (ManifestEntry, bool, error) {
	return findManifestEntry(text, path)
}

// findManifestEntry bisects a sorted manifest text for path.
func findManifestEntry(text []byte, path string) (ManifestEntry, bool, error) {
	lo, hi := 0, len(text) // lo and hi are line starts (or len)
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Back up to the start of the line holding mid.
		start := bytes.LastIndexByte(text[lo:mid], '\n') + 1 + lo
		if start < lo {
			start = lo
		}
		nl := bytes.IndexByte(text[start:], '\n')
		if nl < 0 {
			return ManifestEntry{}, false, corruptf("hg: parse manifest: line at offset %d has no newline", start)
		}
		line := text[start : start+nl]
		z := bytes.IndexByte(line, 0)
		if z < 0 {
			return ManifestEntry{}, false, corruptf("hg: parse manifest: line at offset %d has no NUL", start)
		}
		switch c := bytes.Compare(line[:z], []byte(path)); {
		case c == 0:
			entries, err := parseManifest(text[start:start+nl+1], nil)
			if err != nil {
				return ManifestEntry{}, false, err
			}
			return entries[0], true, nil
		case c < 0:
			lo = start + nl + 1
		default:
			hi = start
		}
	}
	return ManifestEntry{}, false, nil
}
