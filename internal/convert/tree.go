package convert

import (
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
)

// treeState is the set of Git trees of the changeset converted last, kept
// the way hg-git's IncrementalChangesetExporter keeps it: a table from
// directory path to tree, where a directory's entry in its parent is only
// rewritten when the directory is dirty. Following that model exactly (and
// not a plain path tree) is what makes the rare odd cases come out as
// hg-git writes them, e.g. files tracked under a [git] subrepository's path.
// Work per changeset is proportional to the paths it touches.
type treeState struct {
	dirs    map[string]*tree
	removed bool // a directory was dropped from dirs during this update
	created []string
}

type tree struct {
	entries map[string]treeEntry
	hash    git.Hash
	valid   bool
	// order is entries' names in Git's order, when ordered: a change of
	// an entry's hash (what most changesets do) keeps it, so that the
	// tree is encoded again without sorting.
	order   []string
	ordered bool
}

// set sets the entry name.
func (t *tree) set(name string, e treeEntry) {
	if old, ok := t.entries[name]; !ok || (old.mode&0o170000 == git.ModeDir) != (e.mode&0o170000 == git.ModeDir) {
		t.ordered = false // a new name, or one that sorts as a directory no more or now
	}
	t.entries[name] = e
	t.valid = false
}

// del removes the entry name.
func (t *tree) del(name string) {
	if _, ok := t.entries[name]; ok {
		delete(t.entries, name)
		t.ordered = false
	}
	t.valid = false
}

type treeEntry struct {
	mode uint32
	hash git.Hash
}

func newTreeState() *treeState { return &treeState{dirs: map[string]*tree{}} }

func newTree() *tree { return &tree{entries: map[string]treeEntry{}} }

// dirname and basename are Python's os.path.dirname/basename on "/" paths.
func dirname(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return strings.TrimRight(p[:i+1], "/")
	}
	return ""
}

func basename(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// dirFor returns the tree of directory d, creating it if missing
// (self._dirs.setdefault(d, Tree())).
func (s *treeState) dirFor(d string) *tree {
	t := s.dirs[d]
	if t == nil {
		t = newTree()
		s.dirs[d] = t
		s.created = append(s.created, d)
	}
	return t
}

// add sets a blob or gitlink entry at path.
func (s *treeState) add(path string, mode uint32, h git.Hash, dirty map[string]bool) {
	d := dirname(path)
	t := s.dirFor(d)
	dirty[d] = true
	t.set(basename(path), treeEntry{mode, h})
}

// removePath is hg-git's _remove_path.
func (s *treeState) removePath(path string, dirty map[string]bool) {
	d := dirname(path)
	t := s.dirs[d]
	if t == nil {
		t = newTree()
	}
	t.del(basename(path))
	dirty[d] = true
	if len(t.entries) == 0 {
		s.removeTree(d)
	} else {
		s.dirs[d] = t
	}
}

// removeTree is hg-git's _remove_tree: drop an empty tree and its entry in
// its parent, and so on up while parents become empty.
func (s *treeState) removeTree(path string) {
	if _, ok := s.dirs[path]; !ok {
		return
	}
	delete(s.dirs, path)
	s.removed = true
	if path == "" {
		return
	}
	base, parent := basename(path), dirname(path)
	for {
		t := s.dirs[parent]
		if t == nil {
			return
		}
		if _, ok := t.entries[base]; !ok {
			return
		}
		t.del(base)
		if len(t.entries) > 0 {
			return
		}
		delete(s.dirs, parent)
		if parent == "" {
			return
		}
		base, parent = basename(parent), dirname(parent)
	}
}

// populate is hg-git's _populate_tree_entries: create missing parent
// directories, mark the parents of dirty directories dirty, and recompute
// dirty trees deepest first, linking each into its parent. It returns the
// root tree's hash.
func (s *treeState) populate(dirty map[string]bool, add objectSink) (git.Hash, error) {
	s.dirFor("")
	// Missing parents can only appear below directories created in this
	// update, or anywhere after a tree was removed; hg-git scans every time.
	var candidates []string
	if s.removed {
		candidates = make([]string, 0, len(s.dirs))
		for p := range s.dirs {
			candidates = append(candidates, p)
		}
	} else {
		candidates = append(candidates, s.created...)
	}
	for _, p := range candidates {
		for parent := dirname(p); parent != ""; parent = dirname(parent) {
			if s.dirs[parent] != nil {
				break
			}
			s.dirs[parent] = newTree()
		}
	}
	s.removed, s.created = false, s.created[:0]

	for d := range dirty {
		for parent := dirname(d); parent != ""; parent = dirname(parent) {
			if dirty[parent] {
				break
			}
			dirty[parent] = true
		}
	}
	dirty[""] = true
	order := make([]string, 0, len(dirty))
	for d := range dirty {
		order = append(order, d)
	}
	sort.Slice(order, func(i, j int) bool { return len(order[i]) > len(order[j]) })
	for _, d := range order {
		t := s.dirs[d]
		if t == nil {
			continue
		}
		h, err := t.compute(add)
		if err != nil {
			return git.Hash{}, err
		}
		if d == "" {
			continue
		}
		parent := s.dirs[dirname(d)]
		if parent == nil {
			parent = s.dirFor(dirname(d))
		}
		parent.set(basename(d), treeEntry{git.ModeDir, h})
	}
	return s.dirs[""].compute(add)
}

// objectSink receives the tree objects computed.
type objectSink func(t git.ObjectType, data []byte, base git.Hash) (git.Hash, error)

// deltaSink receives an object with a Git delta from base to it
// (git.PackWriter.SubmitDelta).
type deltaSink func(t git.ObjectType, data []byte, base git.Hash, delta []byte) (git.Hash, error)

func (t *tree) compute(add objectSink) (git.Hash, error) {
	if t.valid {
		return t.hash, nil
	}
	if !t.ordered {
		entries := make([]git.TreeEntry, 0, len(t.entries))
		for name, e := range t.entries {
			entries = append(entries, git.TreeEntry{Mode: e.mode, Name: name})
		}
		git.SortTreeEntries(entries)
		t.order = t.order[:0]
		for _, e := range entries {
			t.order = append(t.order, e.Name)
		}
		t.ordered = true
	}
	n := 0
	for _, name := range t.order {
		n += git.TreeEntrySize(name)
	}
	// A new buffer each time: the pack writer keeps the last one.
	b := make([]byte, 0, n)
	for _, name := range t.order {
		e := t.entries[name]
		b = git.AppendTreeEntry(b, git.TreeEntry{Mode: e.mode, Name: name, Hash: e.hash})
	}
	// The previous version of this tree is the natural delta base.
	h, err := add(git.TreeObject, b, t.hash)
	if err != nil {
		return git.Hash{}, err
	}
	t.hash, t.valid = h, true
	return h, nil
}
