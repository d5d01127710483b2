package git

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Hash is a SHA-1 object name.
type Hash [20]byte

// ZeroHash is the all-zero hash Git uses for "no object".
var ZeroHash Hash

// String returns the hash as 40 lower-case hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is ZeroHash.
func (h Hash) IsZero() bool { return h == ZeroHash }

// MarshalText encodes h as 40 hex digits.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 40)
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText decodes 40 hex digits into h.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses 40 hex digits (either case).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 40 {
		return h, fmt.Errorf("git: hash %q: want 40 hex digits, have %d characters", limitio.Clip(s, 64), len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return ZeroHash, fmt.Errorf("git: hash %q: %w", limitio.Clip(s, 64), err)
	}
	return h, nil
}

// ObjectType is the type of a Git object. Its values are the type numbers
// of pack object headers.
type ObjectType int8

// Object types.
const (
	InvalidObject ObjectType = 0
	CommitObject  ObjectType = 1
	TreeObject    ObjectType = 2
	BlobObject    ObjectType = 3
	TagObject     ObjectType = 4
)

// String returns the type's name as written in object headers ("commit",
// "tree", "blob", "tag"), or "invalid" for another value.
func (t ObjectType) String() string {
	if !t.Valid() {
		return "invalid"
	}
	return objectTypeNames[t]
}

var objectTypeNames = [...]string{CommitObject: "commit", TreeObject: "tree", BlobObject: "blob", TagObject: "tag"}

// Valid reports whether t is one of the four object types.
func (t ObjectType) Valid() bool { return t >= CommitObject && t <= TagObject }

// HashObject returns the name Git gives an object of type t holding data:
// SHA-1 of "<type> <len>\x00<data>".
func HashObject(t ObjectType, data []byte) Hash {
	var hdr [32]byte
	b := append(hdr[:0], t.String()...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(data)), 10)
	b = append(b, 0)
	d := sha1.New()
	d.Write(b)
	d.Write(data)
	var h Hash
	d.Sum(h[:0])
	return h
}

// compareHash orders hashes as bytes, the order of a pack index.
func compareHash(a, b Hash) int { return bytes.Compare(a[:], b[:]) }
