package convert

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// adoptedBase makes the exporter state the tree of p1's Git commit itself,
// as hg-git's exporter starts from the parent commit's tree, when the map
// was adopted (see Record.AdoptedFrom) or the level is 1.1 (whose
// .gitmodules outlives the last [git] subrepository), and that tree is not
// what the native rules rebuild from the Mercurial changeset (history
// imported from Git with modes or files Mercurial cannot hold, another
// hg-git's output, a .gitmodules left behind). The
// next commits then change only what their changesets change, and never
// name a tree that is not in .hg/git. Other repositories keep the rebuilt
// state: it is the same tree.
func (c *converter) adoptedBase(ctx context.Context, p1 hg.Node) error {
	if !c.adopted {
		return nil
	}
	h, ok := c.m.get(p1)
	if !ok {
		return nil
	}
	g := &git.Runner{}
	out, err := g.ReadObject(ctx, c.gitDir, git.CommitObject, h)
	if err != nil {
		return fmt.Errorf("adopted commit %s: %w", h, err)
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	hexTree, ok := bytes.CutPrefix(line, []byte("tree "))
	if !ok {
		return fmt.Errorf("adopted commit %s: no tree line", h)
	}
	tree, err := git.ParseHash(string(hexTree))
	if err != nil {
		return fmt.Errorf("adopted commit %s: %w", h, err)
	}
	if tree == c.rootHash {
		return nil
	}
	// ls-tree shows modes made canonical: read the raw trees, only where
	// they differ from the rebuilt ones.
	if err := c.syncTree(ctx, g, "", tree); err != nil {
		return fmt.Errorf("adopted commit %s: %w", h, err)
	}
	c.trees.pruneUnreachable()
	rebuilt := c.rootHash
	c.rootHash = tree
	c.log.Info("convert: starting from the adopted commit's own tree", "commit", h.String(), "tree", tree.String(), "rebuilt", rebuilt.String())
	return nil
}

// syncTree makes directory d of the exporter state the Git tree h, as
// stored (modes as written), reading the subtrees that differ.
func (c *converter) syncTree(ctx context.Context, g *git.Runner, d string, h git.Hash) error {
	raw, err := g.ReadObject(ctx, c.gitDir, git.TreeObject, h)
	if err != nil {
		return fmt.Errorf("tree %s: %w", h, err)
	}
	entries := map[string]treeEntry{}
	for len(raw) > 0 {
		sp := bytes.IndexByte(raw, ' ')
		nul := bytes.IndexByte(raw, 0)
		if sp < 0 || nul < sp || nul+21 > len(raw) {
			return fmt.Errorf("tree %s: malformed entry", h)
		}
		mode, err := strconv.ParseUint(string(raw[:sp]), 8, 32)
		if err != nil {
			return fmt.Errorf("tree %s: mode %q: %w", h, raw[:sp], err)
		}
		name := string(raw[sp+1 : nul])
		var eh git.Hash
		copy(eh[:], raw[nul+1:nul+21])
		raw = raw[nul+21:]
		entries[name] = treeEntry{uint32(mode), eh}
		if uint32(mode)&0o170000 != git.ModeDir {
			continue
		}
		sub := name
		if d != "" {
			sub = d + "/" + name
		}
		if t := c.trees.dirs[sub]; t != nil && t.valid && t.hash == eh {
			continue
		}
		if err := c.syncTree(ctx, g, sub, eh); err != nil {
			return err
		}
	}
	t := c.trees.dirFor(d)
	t.entries, t.hash, t.valid, t.ordered = entries, h, true, false
	return nil
}

// pruneUnreachable drops the directories no tree entry leads to any more.
func (s *treeState) pruneUnreachable() {
	keep := map[string]bool{"": true}
	var walk func(d string)
	walk = func(d string) {
		t := s.dirs[d]
		if t == nil {
			return
		}
		for name, e := range t.entries {
			if e.mode&0o170000 != git.ModeDir {
				continue
			}
			sub := name
			if d != "" {
				sub = d + "/" + name
			}
			keep[sub] = true
			walk(sub)
		}
	}
	walk("")
	for d := range s.dirs {
		if !keep[d] {
			delete(s.dirs, d)
		}
	}
	s.created = nil
}
