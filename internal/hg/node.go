// Package hg reads Mercurial repositories natively (requirements, revlogs,
// changelog, manifests, filelogs, store path encoding, bookmarks and tags)
// and runs the hg program safely for clone and pull.
package hg

import (
	"encoding/hex"
	"fmt"
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
		return n, fmt.Errorf("hg: parse node %q: want 40 hex digits, have %d characters", truncate(s, 64), len(s))
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
	for i := range dst {
		hi, ok1 := unhex(src[2*i])
		lo, ok2 := unhex(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
