package hg

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"sort"
)

// Tag is a global tag (from .hgtags).
type Tag struct {
	Name string
	Node Node
}

// tagHist is one tag's current node and the nodes it had before, as
// Mercurial's tags.py keeps them. Nodes are raw bytes of any length, as hg
// reads them, so that malformed entries rank the same way.
type tagHist struct {
	node string
	hist []string
}

// orderedTags keeps tags in first-seen order, like util.sortdict.
type orderedTags struct {
	names []string
	tags  map[string]*tagHist
}

// readTagLines parses one .hgtags text as tags.py's _readtags.
func readTagLines(data []byte) *orderedTags {
	hist := map[string][]string{}
	var names []string
	for _, line := range splitLines(data) {
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		nodehex, name := line[:sp], string(bytes.TrimSpace(line[sp+1:]))
		if len(nodehex)%2 != 0 {
			continue
		}
		nodebin := make([]byte, len(nodehex)/2)
		if _, err := hex.Decode(nodebin, nodehex); err != nil {
			continue
		}
		if _, ok := hist[name]; !ok {
			names = append(names, name)
		}
		hist[name] = append(hist[name], string(nodebin))
	}
	out := &orderedTags{names: names, tags: make(map[string]*tagHist, len(names))}
	for _, n := range names {
		h := hist[n]
		out.tags[n] = &tagHist{node: h[len(h)-1], hist: h[:len(h)-1]}
	}
	return out
}

// splitLines splits like Python's bytes.splitlines: at \n, \r and \r\n.
func splitLines(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i])
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return lines
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// updateTags merges one file's tags into all, as tags.py's _updatetags:
// a tag's new node wins unless the old node supersedes it (the new node
// is in the old one's history and the old one is not in the new one's, or
// the old history is longer).
func updateTags(file *orderedTags, all *orderedTags) {
	for _, name := range file.names {
		a := file.tags[name]
		b, ok := all.tags[name]
		if !ok {
			all.names = append(all.names, name)
			all.tags[name] = &tagHist{node: a.node, hist: append([]string(nil), a.hist...)}
			continue
		}
		anode := a.node
		ahist := append([]string(nil), a.hist...)
		if b.node != anode && contains(b.hist, anode) && (!contains(ahist, b.node) || len(b.hist) > len(ahist)) {
			anode = b.node
		}
		for _, n := range b.hist {
			if !contains(ahist, n) {
				ahist = append(ahist, n)
			}
		}
		all.tags[name] = &tagHist{node: anode, hist: ahist}
	}
}

// Tags returns the global tags as `hg tags` lists them: .hgtags read from
// every head, oldest head first, merged with Mercurial's tag-history
// ranking; tags set to the null node (deleted) or to unknown nodes are
// omitted, and so is "tip". The order is hg's: newest revision first, then
// by name descending. Heads are not filtered for obsolescence: with an
// obsstore (HasObsstore) a hidden head's .hgtags counts, unlike in hg.
func (r *Repo) Tags() ([]Tag, error) {
	return r.tagsOf(r.Heads(), nil, nil) // ascending = oldest first
}

// TagFnodes caches, by changeset node, the .hgtags file revision of a
// changeset (NullNode when it has none), as Mercurial's hgtagsfnodes cache
// does: a changeset's .hgtags never changes. Old is looked up; New
// receives the entry of every head tags were read from (Old's or read),
// which is what a later call needs.
type TagFnodes struct {
	Old, New map[Node]Node
}

// tagsOf is Tags reading .hgtags from heads (ascending), leaving out tags
// on excluded changesets, looking heads up in cache first (may be nil).
func (r *Repo) tagsOf(heads []int, excluded map[Node]bool, cache *TagFnodes) ([]Tag, error) {
	hs := make([]HeadRev, len(heads))
	for i, h := range heads {
		hs[i] = HeadRev{h, r.changelog.node(h)}
	}
	if err := r.changelog.indexErr(); err != nil {
		return nil, err
	}
	return r.TagsAt(hs, excluded, cache)
}

// HeadRev is a changelog head by revision and node.
type HeadRev struct {
	Rev  int
	Node Node
}

// TagsAt is VisibleTagsCached given the heads of the changesets not
// excluded (ascending), as a caller that keeps them from run to run knows
// them: the changelog is not scanned for them.
func (r *Repo) TagsAt(heads []HeadRev, excluded map[Node]bool, cache *TagFnodes) ([]Tag, error) {
	var fnodes []Node
	seen := map[Node]bool{}
	for _, head := range heads {
		h, hn := head.Rev, head.Node
		var fn Node
		ok := false
		if cache != nil {
			fn, ok = cache.Old[hn]
		}
		if !ok {
			c, err := r.Changeset(h)
			if err != nil {
				return nil, err
			}
			e, found, err := r.ManifestFind(c.Manifest, ".hgtags")
			if err != nil {
				return nil, err
			}
			if found {
				fn = e.Node
			}
		}
		if cache != nil && cache.New != nil {
			cache.New[hn] = fn
		}
		if fn != NullNode && !seen[fn] {
			seen[fn] = true
			fnodes = append(fnodes, fn)
		}
	}
	all := &orderedTags{tags: map[string]*tagHist{}}
	for _, fn := range fnodes {
		data, _, err := r.File(".hgtags", fn)
		if err != nil {
			return nil, err
		}
		updateTags(readTagLines(data), all)
	}
	type ranked struct {
		rev int
		Tag
	}
	var list []ranked
	for _, name := range all.names {
		th := all.tags[name]
		if name == "tip" || len(th.node) != len(Node{}) {
			continue
		}
		var n Node
		copy(n[:], th.node)
		if n == NullNode {
			continue
		}
		rev, ok := r.Rev(n)
		if !ok || excluded[n] {
			continue
		}
		list = append(list, ranked{rev, Tag{name, n}})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].rev != list[j].rev {
			return list[i].rev > list[j].rev
		}
		return list[i].Name > list[j].Name
	})
	out := make([]Tag, len(list))
	for i, t := range list {
		out[i] = t.Tag
	}
	return out, nil
}

// Bookmarks returns the bookmarks (.hg/bookmarks, or .hg/store/bookmarks
// with bookmarksinstore). A missing file means none; entries naming
// unknown changesets are dropped, as hg does.
func (r *Repo) Bookmarks() (map[string]Node, error) {
	b, err := r.BookmarksFile()
	if err != nil {
		return nil, err
	}
	marks := ParseBookmarks(b)
	for name, n := range marks {
		if _, ok := r.Rev(n); !ok || n == NullNode {
			delete(marks, name)
		}
	}
	return marks, nil
}

// BookmarksFile returns the bookmarks file as it is (.hg/bookmarks, or
// .hg/store/bookmarks with bookmarksinstore), for ParseBookmarks; nil when
// there is none. Unlike Bookmarks, it keeps entries naming unknown
// changesets.
func (r *Repo) BookmarksFile() ([]byte, error) {
	p := filepath.Join(r.bookDir, "bookmarks")
	if r.requires["bookmarksinstore"] {
		p = filepath.Join(r.storeDir, "bookmarks")
	}
	return readOptional(p)
}

// ParseBookmarks parses a bookmarks file: lines "hex40 name". Malformed
// lines are skipped, as hg skips them with a warning.
func ParseBookmarks(b []byte) map[string]Node {
	marks := make(map[string]Node, bytes.Count(b, []byte("\n"))+1)
	for line := range lines(b) {
		sha, name, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			continue
		}
		var n Node
		if !decodeHex(n[:], sha) {
			continue
		}
		marks[string(name)] = n
	}
	return marks
}
