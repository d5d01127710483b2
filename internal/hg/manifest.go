package hg

import (
	"bytes"
	"sort"
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
		nl := bytes.IndexByte(text[off:], '\n')
		if nl < 0 {
			return nil, corruptf("hg: parse manifest: line at offset %d has no newline", off)
		}
		line := text[off : off+nl]
		z := bytes.IndexByte(line, 0)
		if z < 0 {
			return nil, corruptf("hg: parse manifest: line at offset %d has no NUL", off)
		}
		path, rest := line[:z], line[z+1:]
		var e ManifestEntry
		if len(rest) < 40 || !decodeHex(e.Node[:], rest[:40]) {
			return nil, corruptf("hg: parse manifest: line at offset %d: bad node %q", off, truncate(string(rest), 64))
		}
		switch flags := rest[40:]; {
		case len(flags) == 0:
		case len(flags) == 1 && (flags[0] == 'x' || flags[0] == 'l'):
			e.Flags = flags[0]
		case len(flags) == 1 && flags[0] == 't':
			return nil, &UnsupportedError{Requirement: "treemanifest (manifest entry with flag t)"}
		default:
			return nil, corruptf("hg: parse manifest: line at offset %d: unknown flags %q", off, truncate(string(flags), 16))
		}
		if len(path) == 0 {
			return nil, corruptf("hg: parse manifest: line at offset %d: empty path", off)
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
		off += nl + 1
	}
	if !sorted {
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	}
	return entries, nil
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
			return nil, nil, corruptf("hg: parse file metadata: line %q has no ': '", truncate(string(line), 64))
		}
		meta[string(k)] = string(v)
	}
	return text[2+end+2:], meta, nil
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
