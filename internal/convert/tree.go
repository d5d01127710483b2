package convert

import (
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
)

// dir is one directory of the tree being built. Its hash is recomputed only
// when something below it changed, so a changeset costs work in proportion
// to the paths it touches, as in hg-git's IncrementalChangesetExporter.
type dir struct {
	entries map[string]*treeNode
	hash    git.Hash
	valid   bool
}

type treeNode struct {
	mode uint32
	hash git.Hash // blob, gitlink commit, or (when valid) the subtree's
	sub  *dir     // set for directories
}

func newDir() *dir { return &dir{entries: make(map[string]*treeNode)} }

// set puts a blob or gitlink at path, creating directories on the way (a
// file standing where a directory is needed is replaced, as hg-git's
// directory table does).
func (d *dir) set(path string, mode uint32, h git.Hash) {
	for {
		d.valid = false
		i := strings.IndexByte(path, '/')
		if i < 0 {
			if n := d.entries[path]; n != nil && n.sub == nil {
				n.mode, n.hash = mode, h
				return
			}
			d.entries[path] = &treeNode{mode: mode, hash: h}
			return
		}
		name := path[:i]
		n := d.entries[name]
		if n == nil || n.sub == nil {
			n = &treeNode{mode: git.ModeDir, sub: newDir()}
			d.entries[name] = n
		}
		d, path = n.sub, path[i+1:]
	}
}

// remove deletes path; directories left empty are removed too. It reports
// whether d itself became empty.
func (d *dir) remove(path string) bool {
	name, rest, deeper := strings.Cut(path, "/")
	n := d.entries[name]
	if n == nil {
		return len(d.entries) == 0
	}
	if deeper {
		if n.sub == nil {
			return len(d.entries) == 0
		}
		if !n.sub.remove(rest) {
			d.valid = false
			return false
		}
	}
	delete(d.entries, name)
	d.valid = false
	return len(d.entries) == 0
}

// lookup returns the entry at path, or nil.
func (d *dir) lookup(path string) *treeNode {
	for {
		name, rest, deeper := strings.Cut(path, "/")
		n := d.entries[name]
		if n == nil || !deeper {
			return n
		}
		if n.sub == nil {
			return nil
		}
		d, path = n.sub, rest
	}
}

// objectSink receives the tree objects computed.
type objectSink func(kind string, data []byte) (git.Hash, error)

// compute returns d's tree hash, encoding (and handing to add) every
// directory changed since the last call.
func (d *dir) compute(add objectSink) (git.Hash, error) {
	if d.valid {
		return d.hash, nil
	}
	entries := make([]git.TreeEntry, 0, len(d.entries))
	for name, n := range d.entries {
		if n.sub != nil {
			h, err := n.sub.compute(add)
			if err != nil {
				return git.Hash{}, err
			}
			n.hash = h
		}
		entries = append(entries, git.TreeEntry{Mode: n.mode, Name: name, Hash: n.hash})
	}
	h, err := add("tree", git.EncodeTree(entries))
	if err != nil {
		return git.Hash{}, err
	}
	d.hash, d.valid = h, true
	return h, nil
}
