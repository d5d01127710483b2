package convert

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// StateFile is the converter's own state, kept in .hg beside the map: what
// a run needs from earlier runs (branch heads, the exporter's trees and
// the blobs they reuse) so that a small increment costs in proportion to
// what is new, not to the history. It is a cache: absent, unreadable, of
// another version or out of step with the map, it is ignored and rebuilt
// by a full scan. hg-git neither reads nor writes it.
const StateFile = "git-synchroniser-state"

// stateVersion changes whenever the encoding or meaning of runState does.
const stateVersion = 1

// stateMagic starts the file, before the gob-encoded runState.
const stateMagic = "synchroniser convert state\n"

// runState is the content of StateFile.
type runState struct {
	Version int

	// The map this state goes with: its length and last line's node.
	MapLines int
	MapLast  hg.Node

	// Branch heads of changelog revisions [0, Scanned): the revisions with
	// no child on their own branch, ascending. ScannedTip is the node of
	// revision Scanned-1 (a stripped or rewritten changelog differs).
	Scanned    int
	ScannedTip hg.Node
	Heads      []headState
	Excluded   []int // revisions below Scanned never exported then

	// The .hgtags file revision of changesets (heads of earlier runs).
	TagFnodes []tagFnode

	// hg-git "octopus" parts seen by earlier runs: never exported, so
	// never in the map, and not to be read again.
	Skipped []hg.Node

	// The exporter state after converting changeset Last (zero: none).
	Last     hg.Node
	Root     git.Hash
	Dirs     []dirState
	Links    []linkState
	Manifest []hg.ManifestEntry // Last's manifest (the reader's previous one)
	Blobs    []blobState        // blobs of Manifest's file revisions
}

type tagFnode struct {
	Changeset, File hg.Node
}

type headState struct {
	Rev    int
	Branch string
	Closed bool
}

type dirState struct {
	Path    string
	Hash    git.Hash
	Valid   bool
	Entries []entryState
}

type entryState struct {
	Name string
	Mode uint32
	Hash git.Hash
}

type linkState struct {
	Path string
	Hash git.Hash
}

type blobState struct {
	Node hg.Node
	Hash git.Hash
}

// StatePath returns where the converter's state of hgRoot is kept.
func StatePath(hgRoot string) string { return filepath.Join(hgRoot, ".hg", StateFile) }

// loadState reads the state at path; it returns nil (and no error) when
// the file is absent or cannot be used, so that the caller rebuilds it.
func loadState(path string) *runState {
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte(stateMagic)) {
		return nil
	}
	var st runState
	if err := gob.NewDecoder(bytes.NewReader(b[len(stateMagic):])).Decode(&st); err != nil {
		return nil
	}
	if st.Version != stateVersion {
		return nil
	}
	return &st
}

// matches reports whether st goes with map m.
func (st *runState) matches(m *gitMap) bool {
	if st == nil || st.MapLines != len(m.lines) {
		return false
	}
	return st.MapLines == 0 || m.lines[st.MapLines-1].hg == st.MapLast
}

// save writes st atomically (temporary file, synced, renamed).
func (st *runState) save(path string) error {
	var buf bytes.Buffer
	buf.WriteString(stateMagic)
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return fmt.Errorf("convert: save state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, StateFile+".tmp*")
	if err != nil {
		return fmt.Errorf("convert: save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	_, err = w.Write(buf.Bytes())
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("convert: save state: %w", err)
	}
	return nil
}

// removeState deletes a state that may no longer match (before the map
// changes), so that a crash cannot leave a stale one behind.
func removeState(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("convert: remove state: %w", err)
	}
	return nil
}

// exporterState captures the converter's trees after changeset last.
func (c *converter) exporterState(st *runState, last hg.Node, mf []hg.ManifestEntry) {
	st.Last, st.Root = last, c.rootHash
	st.Dirs = make([]dirState, 0, len(c.trees.dirs))
	for p, t := range c.trees.dirs {
		d := dirState{Path: p, Hash: t.hash, Valid: t.valid, Entries: make([]entryState, 0, len(t.entries))}
		for name, e := range t.entries {
			d.Entries = append(d.Entries, entryState{name, e.mode, e.hash})
		}
		st.Dirs = append(st.Dirs, d)
	}
	sort.Slice(st.Dirs, func(i, j int) bool { return st.Dirs[i].Path < st.Dirs[j].Path })
	st.Links = st.Links[:0]
	for p, h := range c.links {
		st.Links = append(st.Links, linkState{p, h})
	}
	st.Manifest = mf
	st.Blobs = st.Blobs[:0]
	for _, e := range mf {
		if h, ok := c.blobs[e.Node]; ok {
			st.Blobs = append(st.Blobs, blobState{e.Node, h})
		}
	}
}

// restoreExporter sets the converter's trees and the reader's previous
// manifest to those st holds (of changeset st.Last, revision rev).
func (c *converter) restoreExporter(st *runState, rd *reader, rev int) {
	c.trees = newTreeState()
	for _, d := range st.Dirs {
		t := &tree{entries: make(map[string]treeEntry, len(d.Entries)), hash: d.Hash, valid: d.Valid}
		for _, e := range d.Entries {
			t.entries[e.Name] = treeEntry{e.Mode, e.Hash}
		}
		c.trees.dirs[d.Path] = t
	}
	c.rootHash = st.Root
	c.links = make(map[string]git.Hash, len(st.Links))
	for _, l := range st.Links {
		c.links[l.Path] = l.Hash
	}
	for _, b := range st.Blobs {
		c.blobs[b.Node] = b.Hash
		rd.seen[b.Node] = struct{}{}
	}
	rd.prev, rd.prevOK, rd.prevRv = st.Manifest, true, rev
}
