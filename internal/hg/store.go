package hg

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// storeEncoding says how filelog paths map to files in the store.
type storeEncoding int

const (
	encodePlain   storeEncoding = iota // no "store": .hg/data/<encodedir(path)>
	encodeBasic                        // "store" without "fncache": encodefilename
	encodeHybrid                       // "fncache": hybrid encoding, no dotencode
	encodeDotHash                      // "fncache" + "dotencode": hg's pathencode
)

// maxStorePathLen is the longest default-encoded store path; longer ones
// are hashed into "dh/".
const (
	maxStorePathLen = 120
	dirPrefixLen    = 8
	maxShortDirsLen = 8*(dirPrefixLen+1) - 4
)

// encodeStorePath returns the store-relative file name of a revlog file
// such as "data/foo/Bar.txt.i", as Mercurial's store.py computes it.
func encodeStorePath(p string, enc storeEncoding) string {
	switch enc {
	case encodePlain:
		return encodeDir(p)
	case encodeBasic:
		return encodeFilename(encodeDir(p))
	}
	dot := enc == encodeDotHash
	de := encodeDir(p)
	if len(p) <= maxStorePathLen {
		parts := strings.Split(encodeFilename(de), "/")
		res := strings.Join(auxEncode(parts, dot), "/")
		if len(res) <= maxStorePathLen {
			return res
		}
	}
	return hashEncode(de, dot)
}

// encodeDir avoids collisions between a file "foo.i" and a directory
// "foo.i": directory names ending in .i, .d or .hg get ".hg" appended.
func encodeDir(p string) string {
	if !strings.Contains(p, ".hg/") && !strings.Contains(p, ".i/") && !strings.Contains(p, ".d/") {
		return p
	}
	p = strings.ReplaceAll(p, ".hg/", ".hg.hg/")
	p = strings.ReplaceAll(p, ".i/", ".i.hg/")
	return strings.ReplaceAll(p, ".d/", ".d.hg/")
}

func reservedByte(c byte) bool {
	return c < 32 || c >= 126 || strings.IndexByte(`\:*?"<>|`, c) >= 0
}

const hexDigits = "0123456789abcdef"

// encodeFilename is store.py's reversible _encodefname: upper case X → _x,
// _ → __, reserved bytes → ~xx.
func encodeFilename(s string) string { return encodeBytes(s, true) }

// lowerEncode is store.py's lowerencode: upper case lowered, reserved → ~xx.
func lowerEncode(s string) string { return encodeBytes(s, false) }

// encodeBytes escapes reserved bytes as ~xx and lowers upper case; when
// reversible, it marks what it lowered with _ and doubles _.
func encodeBytes(s string, reversible bool) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case reservedByte(c):
			b.WriteByte('~')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		case 'A' <= c && c <= 'Z':
			if reversible {
				b.WriteByte('_')
			}
			b.WriteByte(c + ('a' - 'A'))
		case c == '_' && reversible:
			b.WriteString("__")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func tildeHex(c byte) string { return "~" + string(hexDigits[c>>4]) + string(hexDigits[c&15]) }

// auxEncode escapes Windows reserved names (aux, con, prn, nul, com1-9,
// lpt1-9, as a whole component or before its first dot), a trailing period
// or space, and with dotencode a leading period or space. It modifies and
// returns parts.
func auxEncode(parts []string, dotencode bool) []string {
	for i, n := range parts {
		if n == "" {
			continue
		}
		if dotencode && (n[0] == '.' || n[0] == ' ') {
			n = tildeHex(n[0]) + n[1:]
			parts[i] = n
		} else {
			l := strings.IndexByte(n, '.')
			if l < 0 {
				l = len(n)
			}
			if (l == 3 && (n[:3] == "aux" || n[:3] == "con" || n[:3] == "prn" || n[:3] == "nul")) ||
				(l == 4 && n[3] >= '1' && n[3] <= '9' && (n[:3] == "com" || n[:3] == "lpt")) {
				n = n[:2] + tildeHex(n[2]) + n[3:]
				parts[i] = n
			}
		}
		if last := n[len(n)-1]; last == '.' || last == ' ' {
			parts[i] = n[:len(n)-1] + tildeHex(last)
		}
	}
	return parts
}

// hashEncode is store.py's _hashencode for a path already passed through
// encodeDir: "dh/" + short directory prefixes + a filler from the basename
// + sha1 of the path + the extension.
func hashEncode(p string, dotencode bool) string {
	sum := sha1.Sum([]byte(p))
	digest := hex.EncodeToString(sum[:])
	rest := p
	if len(rest) >= 5 {
		rest = rest[5:] // "data/" or "meta/"
	}
	parts := auxEncode(strings.Split(lowerEncode(rest), "/"), dotencode)
	basename := parts[len(parts)-1]
	ext := splitExt(basename)
	// The short directories are the longest run of leading components,
	// each cut to dirPrefixLen, whose joined length stays within
	// maxShortDirsLen. The separators of empty components count, as in
	// hg's C pathencode (the one hg uses with dotencode); store.py fails on
	// an empty component, and agrees with this everywhere else.
	dirs := ""
	for i, d := range parts[:len(parts)-1] {
		if len(d) > dirPrefixLen {
			d = d[:dirPrefixLen]
		}
		if d != "" {
			if last := d[len(d)-1]; last == '.' || last == ' ' {
				d = d[:len(d)-1] + "_"
			}
		}
		if i > 0 {
			d = "/" + d
		}
		if len(dirs)+len(d) > maxShortDirsLen {
			break
		}
		dirs += d
	}
	if dirs != "" {
		dirs += "/"
	}
	res := "dh/" + dirs + digest + ext
	if space := maxStorePathLen - len(res); space > 0 {
		filler := basename
		if len(filler) > space {
			filler = filler[:space]
		}
		res = "dh/" + dirs + filler + digest + ext
	}
	return res
}

// splitExt returns the extension of a file name as Python's
// os.path.splitext does (leading dots do not start an extension).
func splitExt(name string) string {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return ""
	}
	for i := 0; i < dot; i++ {
		if name[i] != '.' {
			return name[dot:]
		}
	}
	return ""
}
