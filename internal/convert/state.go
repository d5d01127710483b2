package convert

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/synchroniser/synchroniser/internal/atomicfile"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// StateFile is the converter's own state, kept in .hg beside the map: what
// a run needs from earlier runs (branch heads, the exporter's trees and
// the blobs they reuse) so that a small increment costs in proportion to
// what is new, not to the history. It is a cache: absent, unreadable, of
// another version or out of step with the map, it is ignored and rebuilt
// by a full scan. It ends in the SHA-256 of what precedes it, so that a
// damaged state (a torn write, a flipped bit) is ignored too rather than
// trusted: most of what it holds (branches of heads, bookmarks' commits,
// the exporter's trees) is not checked against the repository again.
// hg-git neither reads nor writes it.
const StateFile = "git-synchroniser-state"

// stateVersion changes whenever the encoding or meaning of runState does.
// A state of another version is not read: the run rebuilds it (as for a
// missing state) and writes the current one.
const stateVersion = 6

// stateMagic starts the file, before the runState (state_codec.go) and
// its SHA-256.
const stateMagic = "synchroniser convert state 6\n"

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
	// The heads of the changesets of [0, Scanned) not excluded (those with
	// no child but excluded ones), ascending: where tags are read from.
	TopoHeads []nodeRev

	// The .hgtags file revision of changesets (heads of earlier runs).
	TagFnodes []tagFnode

	// The changelog revisions of the nodes tags named (and secret roots),
	// so that the next run finds them without the node map of the whole
	// changelog (hg.Repo.KnowRevs checks each against the index).
	Known []nodeRev

	// The bookmarks (when BookmarksRead), sorted by name, as resolved from
	// the bookmarks file of SHA-256 BookmarksSum with branch bookmark
	// suffix BookmarksSuffix: while the file stays the same, the next run
	// neither parses it nor looks its bookmarks up again; when it changes,
	// only the bookmarks whose node changed are looked up.
	BookmarksRead   bool
	BookmarksSum    [32]byte
	BookmarksSuffix string
	Bookmarks       []bookmarkState

	// Map entries the last run looked up for refs (bookmarks, tags,
	// branch heads, tip): hg node and git sha, 20 bytes each, so that the
	// next run finds them without the index (gitMap).
	Mapped []byte

	// The refs of .hg/git as the last run left them: those of tags
	// (names, and their commits 20 bytes each), and those of bookmarks,
	// the refs/heads/ refs Bookmarks export (bookmarkSet.export) but the
	// ones in HeadsFailed, which could not be written; and the
	// modification times of the directories holding them all and of
	// packed-refs (RefDirs, in nanoseconds; -1 for absent): git and hg-git
	// replace, add and delete refs by renaming files, which changes these
	// times, so while they stay the refs need not be read again.
	RefNames    []string
	RefCommits  []byte
	HeadsFailed []string
	RefDirs     []string
	RefDirTimes []int64

	// hg-git "octopus" parts seen by earlier runs: never exported, so
	// never in the map, and not to be read again.
	Skipped []hg.Node

	// The exporter state after converting changeset Last (zero: none),
	// whose manifest node is LastManifest.
	Last         hg.Node
	LastManifest hg.Node
	Root         git.Hash
	Dirs         []dirState
	Links        []linkState
	Manifest     []hg.ManifestEntry // Last's manifest (the reader's previous one)
	Blobs        []blobState        // blobs of Manifest's file revisions

	encodedSize int // bytes of the file it was read from (not encoded): a size hint for save
}

type tagFnode struct {
	Changeset, File hg.Node
}

type nodeRev struct {
	Node hg.Node
	Rev  int
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
	if err != nil {
		return nil
	}
	return decodeState(b)
}

// decodeState decodes the content of a state file (nil when it cannot be
// used).
func decodeState(b []byte) *runState {
	end := len(b) - sha256.Size
	if end < len(stateMagic) || !bytes.HasPrefix(b, []byte(stateMagic)) || sha256.Sum256(b[:end]) != [sha256.Size]byte(b[end:]) {
		return nil
	}
	body := b[len(stateMagic):end]
	var st runState
	c := &stateCodec{dec: true, buf: body, all: string(body)}
	st.walk(c)
	st.encodedSize = len(b)
	if c.bad || len(c.buf) != 0 || st.Version != stateVersion {
		return nil
	}
	return &st
}

// matches reports whether st goes with map m.
func (st *runState) matches(m *gitMap) bool {
	if st == nil || st.MapLines != m.size() {
		return false
	}
	return st.MapLines == 0 || m.lastNode() == st.MapLast
}

// save writes st atomically (temporary file, synced, renamed).
func (st *runState) save(path string) error {
	// The directory is not synced: a state the rename of which a crash
	// undoes is only a cache the next run rebuilds.
	if err := atomicfile.WriteFile(path, StateFile+".tmp*", false, st.encode()); err != nil {
		return fmt.Errorf("convert: save state: %w", err)
	}
	return nil
}

// encode returns the content of st's state file.
func (st *runState) encode() []byte {
	c := &stateCodec{buf: append(make([]byte, 0, st.encodedSize+st.encodedSize/8+4096), stateMagic...)}
	st.walk(c)
	sum := sha256.Sum256(c.buf)
	return append(c.buf, sum[:]...)
}

// removeState deletes a state that may no longer match (before the map
// changes), so that a crash cannot leave a stale one behind.
func removeState(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("convert: remove state: %w", err)
	}
	return nil
}

// checkedRevs returns how many revisions of repo's changelog are those st
// was made with: st.Scanned when revision st.Scanned-1 is still
// st.ScannedTip (the changelog only grows at its end; a strip truncates
// it), otherwise 0.
func (st *runState) checkedRevs(repo *hg.Repo) int {
	if st == nil || st.Scanned <= 0 || st.Scanned > repo.Len() {
		return 0
	}
	if tip, err := repo.Changelog().Node(st.Scanned - 1); err != nil || tip != st.ScannedTip {
		return 0
	}
	return st.Scanned
}

// knownRevs returns st.Known as hg.Repo.KnowRevs takes it (nil for a nil st).
func (st *runState) knownRevs() map[hg.Node]int {
	if st == nil || len(st.Known) == 0 {
		return nil
	}
	out := make(map[hg.Node]int, len(st.Known))
	for _, k := range st.Known {
		out[k.Node] = k.Rev
	}
	return out
}

// exporterState captures the converter's trees after changeset last, of
// manifest mfNode.
func (c *converter) exporterState(st *runState, last, mfNode hg.Node, mf []hg.ManifestEntry) {
	st.Last, st.LastManifest, st.Root = last, mfNode, c.rootHash
	st.Dirs = make([]dirState, 0, len(c.trees.dirs))
	for p, t := range c.trees.dirs {
		d := dirState{Path: p, Hash: t.hash, Valid: t.valid, Entries: make([]entryState, 0, len(t.entries))}
		for name, e := range t.entries {
			d.Entries = append(d.Entries, entryState{name, e.mode, e.hash})
		}
		st.Dirs = append(st.Dirs, d)
	}
	slices.SortFunc(st.Dirs, func(a, b dirState) int { return cmp.Compare(a.Path, b.Path) })
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

// seedManifest reports whether st.Manifest is the manifest of node
// st.LastManifest (hashed against the manifest log: the reader compares
// the next manifest with it), and caches its text there: the next manifest
// is most likely stored as a delta against it, whose chain is then not
// read. A state whose manifest is not (damaged, or a manifest hg did not
// write sorted) is not restored.
func (st *runState) seedManifest(repo *hg.Repo) bool {
	if st.LastManifest == hg.NullNode {
		return len(st.Manifest) == 0
	}
	return repo.SeedManifest(st.LastManifest, st.Manifest)
}

// setRefs records refs (see runState.RefNames), those d set less those
// that failed, as they are in gitDir now. When the bookmarks are prior's
// and the tags have the names of prior's (prior may be nil), as they
// mostly do, prior's sorted names and directories are kept.
func (st *runState) setRefs(gitDir string, d *derived, prior *runState) {
	refs := d.refs
	st.HeadsFailed = nil
	for _, name := range d.failed {
		if strings.HasPrefix(name, headsPrefix) {
			st.HeadsFailed = append(st.HeadsFailed, name)
		}
	}
	slices.Sort(st.HeadsFailed)
	nTags := 0
	for name := range refs {
		if !strings.HasPrefix(name, headsPrefix) {
			nTags++
		}
	}
	sameNames := prior != nil && d.bookmarks != nil && d.bookmarks.unchanged && slices.Equal(st.HeadsFailed, prior.HeadsFailed) &&
		len(prior.RefNames) == nTags && len(prior.RefCommits) == 20*nTags
	for i := 0; sameNames && i < len(prior.RefNames); i++ {
		_, sameNames = refs[prior.RefNames[i]]
	}
	st.RefCommits = make([]byte, 0, 20*nTags)
	if sameNames {
		st.RefNames, st.RefDirs = prior.RefNames, prior.RefDirs
		for _, name := range st.RefNames {
			h := refs[name]
			st.RefCommits = append(st.RefCommits, h[:]...)
		}
		st.RefDirTimes = refDirTimes(gitDir, st.RefDirs)
		return
	}
	st.RefNames = make([]string, 0, nTags)
	dirs := map[string]bool{"packed-refs": true}
	for name := range refs {
		if !strings.HasPrefix(name, headsPrefix) {
			st.RefNames = append(st.RefNames, name)
		}
		for d := path.Dir(name); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	slices.Sort(st.RefNames)
	for _, name := range st.RefNames {
		h := refs[name]
		st.RefCommits = append(st.RefCommits, h[:]...)
	}
	st.RefDirs = make([]string, 0, len(dirs))
	for d := range dirs {
		st.RefDirs = append(st.RefDirs, d)
	}
	slices.Sort(st.RefDirs)
	st.RefDirTimes = refDirTimes(gitDir, st.RefDirs)
}

// headsPrefix starts the refs of bookmarks; those of tags start refs/tags/.
const headsPrefix = "refs/heads/"

// changedRefs returns the refs of refs that may differ in gitDir: those
// the last run did not leave as they are in refs, when the directories
// holding its refs have not changed since; all of them otherwise (or for
// a nil st). bms are this run's bookmarks (their refs are refs/heads/).
func (st *runState) changedRefs(gitDir string, refs map[string]git.Hash, bms *bookmarkSet) map[string]git.Hash {
	if st == nil || !st.BookmarksRead || !sortedUnique(st.Bookmarks) || len(st.RefCommits) != 20*len(st.RefNames) ||
		!slices.IsSorted(st.RefNames) || !slices.Equal(refDirTimes(gitDir, st.RefDirs), st.RefDirTimes) {
		return refs
	}
	todo := map[string]git.Hash{}
	for i, name := range st.RefNames { // tags
		if h, ok := refs[name]; ok && h != git.Hash(st.RefCommits[20*i:20*i+20]) {
			todo[name] = h
		}
	}
	// Bookmarks: the same as the last run's, their refs are as it left
	// them but those it failed to write.
	var left map[string]git.Hash // the last run's bookmark refs, when needed
	if bms == nil || !bms.unchanged {
		left = map[string]git.Hash{}
		(&bookmarkSet{marks: st.Bookmarks}).export(st.BookmarksSuffix, nil, left, func(string, string, string) {})
	}
	for _, name := range st.HeadsFailed {
		delete(left, name)
		if h, ok := refs[name]; ok {
			todo[name] = h
		}
	}
	for name, h := range refs {
		if strings.HasPrefix(name, headsPrefix) {
			if left == nil {
				continue // as left, or in HeadsFailed
			}
			if old, ok := left[name]; !ok || old != h {
				todo[name] = h
			}
			continue
		}
		if _, found := slices.BinarySearch(st.RefNames, name); !found {
			todo[name] = h // a new tag
		}
	}
	return todo
}

func refDirTimes(gitDir string, dirs []string) []int64 {
	out := make([]int64, len(dirs))
	for i, d := range dirs {
		out[i] = -1
		if fi, err := os.Stat(filepath.Join(gitDir, filepath.FromSlash(d))); err == nil {
			out[i] = fi.ModTime().UnixNano()
		}
	}
	return out
}
