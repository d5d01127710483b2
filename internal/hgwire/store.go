package hgwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/limitio"
)

// storeRequires are the store requirements of a cache created natively:
// those of hg 6.3's "hg init" (chunks are written with zlib, which every
// hg reads; zstd is allowed by the requirement).
var storeRequires = []string{"dotencode", "fncache", "generaldelta", "revlog-compression-zstd", "revlogv1", "sparserevlog", "store"}

// writableRequires are the requirements a cache may have for this package
// to write to it.
var writableRequires = map[string]bool{
	"revlogv1": true, "store": true, "fncache": true, "dotencode": true, "generaldelta": true,
	"sparserevlog": true, "share-safe": true, "revlog-compression-zstd": true, "dirstate-v2": true,
	"tracked-hint": true, "bookmarksinstore": true,
}

// initCache creates an empty repository at root as hg 6.3 would.
func initCache(root string) error {
	hgDir := filepath.Join(root, ".hg")
	if _, err := os.Stat(hgDir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(hgDir, "store"), 0o755); err != nil {
		return fmt.Errorf("hgwire: create cache: %w", err)
	}
	files := []struct {
		name string
		data string
	}{
		{"00changelog.i", "\x00\x00\x00\x02 dummy changelog to prevent using the old repo layout"},
		{"store/requires", strings.Join(storeRequires, "\n") + "\n"},
		{"requires", "share-safe\n"}, // last: the repository exists once it is there
	}
	for _, f := range files {
		if err := hg.WriteFileAtomic(filepath.Join(hgDir, filepath.FromSlash(f.name)), []byte(f.data)); err != nil {
			return err
		}
	}
	return nil
}

// cacheWriter applies what a source sends to a cache's store.
type cacheWriter struct {
	root, storeDir string
	bookInStore    bool
	cl, ml         *hg.RevlogAppender
	files          map[string]*hg.RevlogAppender
	fileOrder      []string
	zstd           bool
	fileRefs       []fileRef
	last           *hg.RevlogAppender // the revlog of the current group
	newCsets       []hg.Node
	csetBase       int // changelog length before the pull
	// carrying: the new changesets are hidden ones carried over from
	// the store a reclone replaces, drafts whatever the source publishes.
	carrying bool
}

func openCacheWriter(root string) (*cacheWriter, error) {
	repo, err := hg.Open(root)
	if err != nil {
		return nil, err
	}
	storeDir := repo.StoreDir()
	var bad []string
	for _, r := range repo.Requirements() {
		if !writableRequires[r] {
			bad = append(bad, r)
		}
	}
	bookInStore := repo.HasRequirement("bookmarksinstore")
	useZstd := repo.HasRequirement("revlog-compression-zstd")
	repo.Close()
	if len(bad) > 0 {
		return nil, &UnsupportedError{What: "writing a cache with requirements " + strings.Join(bad, ", ")}
	}
	if err := hg.RecoverJournal(storeDir); err != nil {
		return nil, err
	}
	w := &cacheWriter{root: root, storeDir: storeDir, bookInStore: bookInStore, files: map[string]*hg.RevlogAppender{}, zstd: useZstd}
	if w.cl, err = hg.OpenRevlogAppender(storeDir, "00changelog.i"); err != nil {
		return nil, err
	}
	if w.ml, err = hg.OpenRevlogAppender(storeDir, "00manifest.i"); err != nil {
		w.cl.Close()
		return nil, err
	}
	if useZstd {
		w.cl.UseZstd()
		w.ml.UseZstd()
	}
	w.csetBase = w.cl.Len()
	return w, nil
}

func (w *cacheWriter) close() {
	w.cl.Close()
	w.ml.Close()
	for _, a := range w.files {
		a.Close()
	}
}

// switchTo drops the cached texts of the previous group's revlog when a
// new group starts (deltas never cross revlogs).
func (w *cacheWriter) switchTo(a *hg.RevlogAppender) {
	if w.last != a {
		if w.last != nil {
			w.last.DropCache()
		}
		w.last = a
	}
}

func checkFlags(d *Delta) error {
	if d.Flags != 0 {
		return &UnsupportedError{What: fmt.Sprintf("revision %s with flags %#x (censored, ellipsis, LFS or copy metadata)", d.Node, d.Flags)}
	}
	return nil
}

func (w *cacheWriter) linkRev(d *Delta) (int, error) {
	r, ok := w.cl.Rev(d.Link)
	if !ok || r < 0 {
		return 0, fmt.Errorf("hgwire: revision %s links to unknown changeset %s", d.Node, d.Link)
	}
	return r, nil
}

func (w *cacheWriter) handler() ChangegroupHandler {
	return ChangegroupHandler{
		Changeset: func(d *Delta) error {
			if err := checkFlags(d); err != nil {
				return err
			}
			if d.Link != d.Node {
				return fmt.Errorf("hgwire: changeset %s links to %s, not itself", d.Node, d.Link)
			}
			added, err := w.cl.AddDelta(d.Node, d.P1, d.P2, d.Base, w.cl.Len(), d.Data)
			if added {
				w.newCsets = append(w.newCsets, d.Node)
			}
			return err
		},
		Manifest: func(d *Delta) error {
			if err := checkFlags(d); err != nil {
				return err
			}
			link, err := w.linkRev(d)
			if err != nil {
				return err
			}
			w.switchTo(w.ml)
			added, err := w.ml.AddDelta(d.Node, d.P1, d.P2, d.Base, link, d.Data)
			if err != nil || !added {
				return err
			}
			return w.noteManifestFiles(d)
		},
		File: func(path string, d *Delta) error {
			if err := checkFlags(d); err != nil {
				return err
			}
			link, err := w.linkRev(d)
			if err != nil {
				return err
			}
			a := w.files[path]
			if a == nil {
				a, err = hg.OpenRevlogAppender(w.storeDir, hg.EncodeStorePath("data/"+path+".i"))
				if err != nil {
					return err
				}
				if w.zstd {
					a.UseZstd()
				}
				w.files[path] = a
				w.fileOrder = append(w.fileOrder, path)
			}
			w.switchTo(a)
			_, err = a.AddDelta(d.Node, d.P1, d.P2, d.Base, link, d.Data)
			return err
		},
	}
}

// fileRef is a file revision a new manifest names.
type fileRef struct {
	path string
	node hg.Node
}

// noteManifestFiles records the file revisions named by the lines a new
// manifest's delta changed (the other lines are its base's, already
// checked or in the cache).
func (w *cacheWriter) noteManifestFiles(d *Delta) error {
	r, _ := w.ml.Rev(d.Node)
	text, err := w.ml.Revision(r)
	if err != nil {
		return err
	}
	shift := 0
	for p := 0; p+12 <= len(d.Data); {
		start := int(binary.BigEndian.Uint32(d.Data[p:]))
		end := int(binary.BigEndian.Uint32(d.Data[p+4:]))
		n := int(binary.BigEndian.Uint32(d.Data[p+8:]))
		p += 12 + n
		// The hunk's bytes in the new text, widened to whole lines.
		lo, hi := start+shift, start+shift+n
		shift += n - (end - start)
		for lo > 0 && text[lo-1] != '\n' {
			lo--
		}
		if i := bytes.IndexByte(text[min(hi, len(text)):], '\n'); i >= 0 {
			hi = min(hi, len(text)) + i + 1
		} else {
			hi = len(text)
		}
		for _, line := range bytes.SplitAfter(text[lo:hi], []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			path, rest, ok := bytes.Cut(line, []byte{0})
			if !ok || len(rest) < 41 {
				return fmt.Errorf("hgwire: manifest %s: malformed line %q", d.Node, limitio.Clip(string(line), 80))
			}
			fn, err := hg.ParseNode(string(rest[:40]))
			if err != nil {
				return fmt.Errorf("hgwire: manifest %s: %w", d.Node, err)
			}
			w.fileRefs = append(w.fileRefs, fileRef{string(path), fn})
		}
	}
	return nil
}

// checkFiles verifies that every file revision new manifests name was
// received or is in the cache.
func (w *cacheWriter) checkFiles() error {
	for _, ref := range w.fileRefs {
		a := w.files[ref.path]
		if a == nil {
			if err := checkFileName(ref.path); err != nil {
				return err
			}
			var err error
			a, err = hg.OpenRevlogAppender(w.storeDir, hg.EncodeStorePath("data/"+ref.path+".i"))
			if err != nil {
				return err
			}
			if w.zstd {
				a.UseZstd()
			}
			w.files[ref.path] = a
			w.fileOrder = append(w.fileOrder, ref.path)
		}
		if _, ok := a.Rev(ref.node); !ok {
			return fmt.Errorf("hgwire: a manifest names %s revision %s, which was not sent", ref.path, ref.node)
		}
	}
	return nil
}

// checkManifests verifies that every new changeset's manifest was received
// or is in the cache.
func (w *cacheWriter) checkManifests() error {
	for _, n := range w.newCsets {
		r, _ := w.cl.Rev(n)
		text, err := w.cl.Revision(r)
		if err != nil {
			return err
		}
		if len(text) < 40 {
			return fmt.Errorf("hgwire: changeset %s is too short", n)
		}
		mn, err := hg.ParseNode(string(text[:40]))
		if err != nil {
			return fmt.Errorf("hgwire: changeset %s: %w", n, err)
		}
		if _, ok := w.ml.Rev(mn); !ok {
			return fmt.Errorf("hgwire: changeset %s: manifest %s was not sent", n, mn)
		}
	}
	return nil
}

// pullResult is what the bundle said beyond revisions.
type pullResult struct {
	phaseHeads    []PhaseHead
	gotPhaseHeads bool
	bookmarks     map[string]hg.Node
	markers       []Obsmarker
	gotMarkers    bool
	// draftRoots are the roots of the source's drafts (listkeys
	// phases), hidden ones included: the one word of the source on
	// the phase of a changeset it hides.
	draftRoots []hg.Node
}

// readStore reads the store file rel (relative to the store, or, with a
// "../" prefix, to .hg); a missing file reads as nil.
func (w *cacheWriter) readStore(rel string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(w.storeDir, rel))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("hgwire: %w", err)
	}
	return b, nil
}

func (w *cacheWriter) readFncache() (map[string]bool, error) {
	b, err := w.readStore("fncache")
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m[sc.Text()] = true
	}
	return m, nil
}

// commit writes everything under the store lock and a journal: file
// revlogs, manifests, then the changelog (so that a reader never sees a
// changeset whose data is missing), then phases, markers, bookmarks and
// fncache. Any failure rolls every file back.
func (w *cacheWriter) commit(res *pullResult, remoteHeads []hg.Node, publishing bool) (err error) {
	hgDir := filepath.Join(w.root, ".hg")
	wlock, err := hg.AcquireLock(filepath.Join(hgDir, "wlock"), 30*time.Second)
	if err != nil {
		return err
	}
	defer wlock.Release()
	lock, err := hg.AcquireLock(filepath.Join(w.storeDir, "lock"), 30*time.Second)
	if err != nil {
		return err
	}
	defer lock.Release()
	j, err := hg.OpenJournal(w.storeDir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if rerr := j.Rollback(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("hgwire: rollback: %w", rerr))
			}
		}
	}()
	fnc, err := w.readFncache()
	if err != nil {
		return err
	}
	var fnAdd []string
	for _, path := range w.fileOrder {
		a := w.files[path]
		if a.Added() == 0 {
			continue
		}
		if err := a.Commit(j); err != nil {
			return err
		}
		for _, ext := range []string{".i", ".d"} {
			name := "data/" + path + ext
			enc := hg.EncodeStorePath(name)
			if _, err := os.Stat(filepath.Join(w.storeDir, filepath.FromSlash(enc))); err == nil {
				if e := hg.EncodeDir(name); !fnc[e] {
					fnc[e] = true
					fnAdd = append(fnAdd, e)
				}
			}
		}
	}
	if err := w.ml.Commit(j); err != nil {
		return err
	}
	if err := w.cl.Commit(j); err != nil {
		return err
	}
	if len(fnAdd) > 0 {
		if err := j.Append("fncache", []byte(strings.Join(fnAdd, "\n")+"\n")); err != nil {
			return err
		}
	}
	if err := w.writePhases(j, res, publishing, w.visible(remoteHeads)); err != nil {
		return err
	}
	if err := w.writeMarkers(j, res); err != nil {
		return err
	}
	if err := w.writeBookmarks(j, res); err != nil {
		return err
	}
	return j.Close()
}

// readPhaseRoots returns the cache's phase roots by phase.
func (w *cacheWriter) readPhaseRoots() (map[hg.Phase][]hg.Node, []byte, error) {
	b, err := w.readStore("phaseroots")
	if err != nil {
		return nil, nil, err
	}
	out := map[hg.Phase][]hg.Node{}
	for _, line := range strings.Split(string(b), "\n") {
		ph, hx, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := hg.ParseNode(hx)
		if err != nil {
			continue
		}
		var p int
		fmt.Sscan(ph, &p)
		out[hg.Phase(p)] = append(out[hg.Phase(p)], n)
	}
	return out, b, nil
}

// visible marks the ancestors of the source's heads: what the source
// shows.
func (w *cacheWriter) visible(remoteHeads []hg.Node) []bool {
	n := w.cl.Len()
	vis := make([]bool, n)
	for _, h := range remoteHeads {
		if r, ok := w.cl.Rev(h); ok && r >= 0 {
			vis[r] = true
		}
	}
	w.markAncestors(vis)
	return vis
}

// markAncestors marks the ancestors of every marked revision.
func (w *cacheWriter) markAncestors(marked []bool) {
	for r := len(marked) - 1; r >= 0; r-- {
		if marked[r] {
			markParents(w.cl, r, marked)
		}
	}
}

// draftSet computes the cache's non-public changesets after the pull.
// What the source shows gets the source's phase exactly (public: the
// ancestors of its public heads; a changeset the source moved back to
// draft is draft again), and so do the source's draft roots, hidden or
// not; the rest keeps its phase in the cache. Without
// phase heads from a non-publishing source, phases only move towards
// public and new changesets are drafts.
func (w *cacheWriter) draftSet(res *pullResult, publishing bool, vis []bool) ([]bool, error) {
	n := w.cl.Len()
	draft := make([]bool, n)
	roots, _, err := w.readPhaseRoots()
	if err != nil {
		return nil, err
	}
	isRoot := make([]bool, n)
	for _, r := range roots[hg.Draft] {
		if rev, ok := w.cl.Rev(r); ok && rev >= 0 {
			isRoot[rev] = true
		}
	}
	for r := 0; r < w.csetBase && r < n; r++ {
		p1, p2 := w.cl.Parents(r)
		draft[r] = isRoot[r] || (p1 >= 0 && draft[p1]) || (p2 >= 0 && draft[p2])
	}
	exact := publishing || res.gotPhaseHeads
	for r := w.csetBase; r < n; r++ {
		draft[r] = !publishing || w.carrying
	}
	public := make([]bool, n)
	for _, h := range res.phaseHeads {
		if h.Phase != hg.Public {
			continue
		}
		if r, ok := w.cl.Rev(h.Node); ok && r >= 0 {
			public[r] = true
		}
	}
	if publishing && !res.gotPhaseHeads {
		copy(public, vis)
	}
	w.markAncestors(public)
	for r := 0; r < n; r++ {
		switch {
		case public[r]:
			draft[r] = false
		case exact && vis[r]:
			draft[r] = true
		}
	}
	// A changeset the source made draft again and then hid (amended,
	// pruned) is no ancestor of its heads: only its draft roots say so.
	// The hg transport moves them back as well (hg phase --force
	// --draft), or hg would show them, public, in the cache.
	for _, root := range res.draftRoots {
		if r, ok := w.cl.Rev(root); ok && r >= 0 && !public[r] {
			draft[r] = true
		}
	}
	// A draft's descendants are drafts (a phase never decreases along
	// history).
	for r := 0; r < n; r++ {
		if draft[r] {
			continue
		}
		p1, p2 := w.cl.Parents(r)
		if (p1 >= 0 && draft[p1]) || (p2 >= 0 && draft[p2]) {
			draft[r] = true
		}
	}
	return draft, nil
}

func (w *cacheWriter) writePhases(j *hg.Journal, res *pullResult, publishing bool, vis []bool) error {
	draft, err := w.draftSet(res, publishing, vis)
	if err != nil {
		return err
	}
	roots, old, err := w.readPhaseRoots()
	if err != nil {
		return err
	}
	// As phases.py writes it: by phase, roots sorted by node.
	var lines []string
	for r, d := range draft {
		if !d {
			continue
		}
		p1, p2 := w.cl.Parents(r)
		if (p1 < 0 || !draft[p1]) && (p2 < 0 || !draft[p2]) {
			lines = append(lines, fmt.Sprintf("%d %s\n", hg.Draft, w.cl.Node(r)))
		}
	}
	for _, n := range roots[hg.Secret] {
		if _, ok := w.cl.Rev(n); ok {
			lines = append(lines, fmt.Sprintf("%d %s\n", hg.Secret, n))
		}
	}
	sort.Strings(lines)
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
	}
	if bytes.Equal(buf.Bytes(), old) {
		return nil
	}
	if old == nil && buf.Len() == 0 {
		return nil
	}
	return j.Replace("phaseroots", buf.Bytes())
}

func (w *cacheWriter) writeMarkers(j *hg.Journal, res *pullResult) error {
	if len(res.markers) == 0 {
		return nil
	}
	old, err := w.readStore("obsstore")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	if len(old) > 0 {
		ms, err := ParseObsmarkers(old)
		if err != nil {
			return fmt.Errorf("hgwire: cache obsstore: %w", err)
		}
		for _, m := range ms {
			have[string(m.Raw)] = true
		}
	}
	var add []byte
	if len(old) == 0 {
		add = append(add, ObsmarkersVersion1)
	}
	n := 0
	for _, m := range res.markers {
		if !have[string(m.Raw)] {
			have[string(m.Raw)] = true
			add = append(add, m.Raw...)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return j.Append("obsstore", add)
}

func (w *cacheWriter) writeBookmarks(j *hg.Journal, res *pullResult) error {
	if res.bookmarks == nil {
		return nil
	}
	names := make([]string, 0, len(res.bookmarks))
	for name, n := range res.bookmarks {
		if _, ok := w.cl.Rev(n); ok && n != hg.NullNode {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, name := range names {
		fmt.Fprintf(&buf, "%s %s\n", res.bookmarks[name], name)
	}
	rel := "../bookmarks"
	if w.bookInStore {
		rel = "bookmarks"
	}
	old, err := w.readStore(rel)
	if err != nil {
		return err
	}
	if bytes.Equal(old, buf.Bytes()) || (old == nil && buf.Len() == 0) {
		return nil
	}
	return j.Replace(rel, buf.Bytes())
}
