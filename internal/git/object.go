package git

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// Tree entry modes as Git writes them.
const (
	ModeFile       uint32 = 0o100644
	ModeExecutable uint32 = 0o100755
	ModeSymlink    uint32 = 0o120000
	ModeDir        uint32 = 0o40000
	ModeGitlink    uint32 = 0o160000
)

// TreeEntry is one entry of a tree object.
type TreeEntry struct {
	Mode uint32 // ModeFile, ModeExecutable, ModeSymlink, ModeDir or ModeGitlink
	Name string // one path component
	Hash Hash
}

// EncodeTree returns the body of the tree object holding entries. Entries are
// sorted in Git's order, in which a directory compares as its name followed by
// "/" (so "a.b" < "a/" < "a0"); entries is not modified. Modes are written in
// octal without leading zeros ("40000"), as Git does. Duplicate names are not
// detected: that is the caller's responsibility (git fsck reports them).
func EncodeTree(entries []TreeEntry) []byte {
	sorted := slices.Clone(entries)
	SortTreeEntries(sorted)
	n := 0
	for _, e := range sorted {
		n += TreeEntrySize(e.Name)
	}
	b := make([]byte, 0, n)
	for _, e := range sorted {
		b = AppendTreeEntry(b, e)
	}
	return b
}

// SortTreeEntries sorts entries in Git's order (see EncodeTree).
func SortTreeEntries(entries []TreeEntry) { slices.SortFunc(entries, compareTreeEntries) }

// TreeEntrySize bounds the bytes AppendTreeEntry writes for an entry
// named name.
func TreeEntrySize(name string) int { return 6 + 1 + len(name) + 1 + len(Hash{}) }

// AppendTreeEntry appends one entry of a tree object's body to b, as
// EncodeTree writes it; a body is its entries in Git's order
// (SortTreeEntries).
func AppendTreeEntry(b []byte, e TreeEntry) []byte {
	b = strconv.AppendUint(b, uint64(e.Mode), 8)
	b = append(b, ' ')
	b = append(b, e.Name...)
	b = append(b, 0)
	return append(b, e.Hash[:]...)
}

// compareTreeEntries orders entries as Git's base_name_compare does: bytewise,
// a directory's name continuing with an implicit "/". Gitlinks are not
// directories here.
func compareTreeEntries(a, b TreeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	ca, cb := nameTail(a, n), nameTail(b, n)
	switch {
	case ca < cb:
		return -1
	case ca > cb:
		return 1
	}
	return 0
}

// nameTail is the byte of e's sort key at index n (n ≤ len(e.Name)): the name's
// own byte, "/" just past a directory's name, or 0 past any other name.
func nameTail(e TreeEntry, n int) int {
	if n < len(e.Name) {
		return int(e.Name[n])
	}
	if n == len(e.Name) && e.Mode&0o170000 == ModeDir {
		return '/'
	}
	return 0
}

// Signature is an identity line as written after "author " and "committer ":
// "Name <mail> 1234567890 +0100".
type Signature = string

// Commit holds the fields of a commit object.
type Commit struct {
	Tree      Hash
	Parents   []Hash
	Author    Signature
	Committer Signature
	// Encoding, if not "", is written as an "encoding" header.
	Encoding string
	// Extra holds header lines written after the committer (and encoding), in
	// order, as {key, value}. A value containing newlines is continued on
	// following lines each starting with a space, as Git does.
	Extra [][2]string
	// GPGSig, if not "", is written as a "gpgsig" header after Extra (where
	// dulwich writes it), continued like multi-line Extra values.
	GPGSig  string
	Message string // written verbatim after the blank line
}

// EncodeCommit returns the body of the commit object c, laid out as dulwich's
// Commit._serialize (and Git) do: tree, parents, author, committer, encoding,
// extra headers, gpgsig, a blank line, then the message verbatim.
func EncodeCommit(c *Commit) []byte {
	var b bytes.Buffer
	n := 64 + 48*len(c.Parents) + len(c.Author) + len(c.Committer) + len(c.Encoding) + len(c.GPGSig) + len(c.Message)
	for _, kv := range c.Extra {
		n += len(kv[0]) + len(kv[1]) + 2
	}
	b.Grow(n)
	b.WriteString("tree ")
	b.WriteString(c.Tree.String())
	b.WriteByte('\n')
	for _, p := range c.Parents {
		b.WriteString("parent ")
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	writeHeader(&b, "author", c.Author)
	writeHeader(&b, "committer", c.Committer)
	if c.Encoding != "" {
		writeHeader(&b, "encoding", c.Encoding)
	}
	for _, kv := range c.Extra {
		writeHeader(&b, kv[0], kv[1])
	}
	if c.GPGSig != "" {
		writeHeader(&b, "gpgsig", c.GPGSig)
	}
	b.WriteByte('\n')
	b.WriteString(c.Message)
	return b.Bytes()
}

// writeHeader writes "key value\n", continuing each further line of value
// with a leading space.
func writeHeader(b *bytes.Buffer, key, value string) {
	b.WriteString(key)
	b.WriteByte(' ')
	for {
		i := strings.IndexByte(value, '\n')
		if i < 0 {
			break
		}
		b.WriteString(value[:i+1])
		b.WriteByte(' ')
		value = value[i+1:]
	}
	b.WriteString(value)
	b.WriteByte('\n')
}
