// Package hg reads Mercurial repositories natively (requirements, revlogs,
// changelog, manifests, filelogs, store path encoding, bookmarks and tags)
// and runs the hg program safely for clone and pull.
//
// The reader supports the stores Mercurial 5.x–6.x create: revlog v1
// (inline or with a .d file, generaldelta or not, sparse-revlog), zlib,
// zstd and uncompressed chunks, fncache/dotencode path encoding (including
// hashed dh/ paths), share-safe and shared repositories. It refuses, with
// an *UnsupportedError, what it cannot read faithfully: treemanifest,
// revlog-v2, changelog-v2, narrow, lfs, largefiles and unknown
// requirements. Revisions are read whether hidden or not; Repo.Markers
// (the obsstore), Repo.PhaseRevs, Repo.HiddenRevs and Repo.State say
// which ones Mercurial hides or keeps secret.
//
// Reading the whole history in revision order is cheap: each revlog keeps
// the last few reconstructed texts, so a sequential read applies one delta
// per revision.
package hg

import (
	"encoding/hex"
	"fmt"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Node is a Mercurial node id: the SHA-1 of a revision's parents and text.
type Node [20]byte

// NullNode is the node of the null revision (all zero).
var NullNode Node

// String returns the node as 40 lower-case hexadecimal digits.
func (n Node) String() string { return hex.EncodeToString(n[:]) }

// IsNull reports whether n is the null node.
func (n Node) IsNull() bool { return n == NullNode }

// ParseNode parses 40 hexadecimal digits (either case) into a Node.
func ParseNode(s string) (Node, error) {
	var n Node
	if len(s) != 40 {
		return n, fmt.Errorf("hg: parse node %q: want 40 hex digits, have %d characters", limitio.Clip(s, 64), len(s))
	}
	if !decodeHex(n[:], s) {
		return n, fmt.Errorf("hg: parse node %q: invalid hex digit", s)
	}
	return n, nil
}

// decodeHex decodes exactly 2*len(dst) hex digits from src (string or
// []byte) into dst, without allocating.
func decodeHex[S ~string | ~[]byte](dst []byte, src S) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	bad := byte(0)
	for i := range dst {
		hi, lo := hexValue[src[2*i]], hexValue[src[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// hexValue maps a hex digit to its value and anything else to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()
