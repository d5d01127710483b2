package hgwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/limitio"
)

// PullOptions configure Pull.
type PullOptions struct {
	Options
	// MaxChunk bounds one changegroup chunk (0: DefaultMaxChunk).
	MaxChunk int
	// MaxBytes bounds the (decompressed) bundle a source may send
	// (0: no bound but the context's deadline).
	MaxBytes int64
	// NoStream asks an empty cache's history as a changegroup even when
	// the source offers a stream clone.
	NoStream bool
}

// ErrTooLarge is wrapped by the error for a bundle larger than
// PullOptions.MaxBytes.
var ErrTooLarge = errors.New("bundle exceeds the size limit")

type boundedReader struct {
	r    io.Reader
	left int64
	max  int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("hgwire: source sent more than %d bytes: %w", b.max, ErrTooLarge)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// Stats describe what a pull transferred.
type Stats struct {
	Changesets int // new changesets written
	Roundtrips int // discovery round trips (known queries)
	// Recloned says the cache's store was made again from the source
	// (which had stripped changesets the cache held): Changesets then
	// counts the whole history.
	Recloned bool
	// Streamed says the empty cache was filled by a stream clone (the
	// source's store files, checked, then a pull); StreamDeclined, when
	// not empty, says why an empty cache was not.
	Streamed       bool
	StreamDeclined string
}

// Pull brings the cache at cacheRoot up to date with source (creating the
// cache when absent) and returns the source's state. Everything the
// source sends is checked before anything is written; a failure — a
// broken stream, a bad hash, an unknown mandatory part — leaves the cache
// as it was. An *UnsupportedError means the source needs what this
// package does not do (the caller may use hg instead).
func Pull(ctx context.Context, source, cacheRoot string, opts PullOptions) (*hg.SourceState, *Stats, error) {
	peer, err := Dial(ctx, source, opts.Options)
	if err != nil {
		return nil, nil, err
	}
	defer peer.Close()
	return PullFrom(ctx, peer, cacheRoot, opts)
}

// PullFrom is Pull over an open connection (which it consumes: an ssh
// connection cannot be used after the bundle stream).
func PullFrom(ctx context.Context, peer *Peer, cacheRoot string, opts PullOptions) (*hg.SourceState, *Stats, error) {
	if peer.b2 == nil || !peer.caps.Has("getbundle") || !peer.caps.Has("known") {
		return nil, nil, &UnsupportedError{What: "a server without bundle2, getbundle and known"}
	}
	if !peer.b2.Has("changegroup", "02") {
		return nil, nil, &UnsupportedError{What: "a server without changegroup 02"}
	}
	// hg serve says "lfs" when the repository has the lfs requirement
	// (its extension's "lfs-serve" alone is no LFS data): said before
	// anything is sent, rather than of the first file revision flagged
	// as stored outside its revlog.
	if peer.caps.Has("lfs") {
		return nil, nil, &UnsupportedError{What: lfsReason}
	}
	if err := recoverSwap(cacheRoot); err != nil {
		return nil, nil, fmt.Errorf("hgwire: recover store swap: %w", err)
	}
	if err := initCache(cacheRoot); err != nil {
		return nil, nil, err
	}
	stats := &Stats{}
	streamedCsets := 0
	if !opts.NoStream && emptyCache(cacheRoot) {
		n, asked, err := streamClone(ctx, peer, cacheRoot, opts)
		var declined *streamDeclined
		switch {
		case err == nil:
			stats.Streamed, streamedCsets = true, n
		case errors.As(err, &declined):
			stats.StreamDeclined = declined.why
		default:
			return nil, nil, err
		}
		if _, ssh := peer.t.(*sshTransport); asked && ssh {
			// An ssh connection ends with its stream answer.
			if peer.redial == nil {
				return nil, nil, &UnsupportedError{What: "a pull after a stream clone on a connection that cannot be reopened"}
			}
			if peer, err = peer.redial(ctx); err != nil {
				return nil, nil, err
			}
			defer peer.Close()
		}
	}
	w, err := openCacheWriter(cacheRoot)
	if err != nil {
		return nil, nil, err
	}
	defer w.close()

	localHeads := localHeadNodes(w.cl)
	calls := []BatchCall{{Cmd: "heads"}, {Cmd: "listkeys", Args: map[string]string{"namespace": "phases"}}}
	// Many cache heads take several known calls (hg serve answers 431
	// to a request with more headers than it takes), batched as the
	// budget allows.
	calls = append(calls, peer.knownCalls(calls, localHeads)...)
	answers, err := peer.Batch(ctx, calls)
	if err != nil {
		return nil, nil, err
	}
	remoteHeads, err := parseNodeList(string(answers[0]), "heads")
	if err != nil {
		return nil, nil, err
	}
	remoteHeads = dropNull(remoteHeads)
	phaseKeys, err := parseListKeys(answers[1])
	if err != nil {
		return nil, nil, err
	}
	publishing := phaseKeys["publishing"] == "True"
	res := &pullResult{}
	if !publishing {
		if res.draftRoots, err = draftRootsFromKeys(phaseKeys); err != nil {
			return nil, nil, err
		}
	}
	var common []hg.Node
	if len(localHeads) > 0 {
		known := make([]bool, 0, len(localHeads))
		for i, c := range calls[2:] {
			ans, err := parseKnown(trimNL(answers[2+i]), len(strings.Fields(c.Args["nodes"])))
			if err != nil {
				return nil, nil, err
			}
			known = append(known, ans...)
		}
		common, err = discover(ctx, peer, w.cl, localHeads, known, stats)
		if err != nil {
			return nil, nil, err
		}
	}
	missing := false
	for _, h := range remoteHeads {
		if _, ok := w.cl.Rev(h); !ok {
			missing = true
		}
	}
	args := GetBundleArgs{Heads: remoteHeads, Common: common, Changegroup: missing && len(remoteHeads) > 0}
	if peer.b2.Has("bookmarks") {
		args.Bookmarks = true
	} else if peer.b2.Has("listkeys") {
		args.ListKeys = []string{"bookmarks"}
	}
	args.Phases = peer.b2.Has("phases", "heads")
	args.Obsmarkers = peer.b2.Has("obsmarkers", "V1")
	// A source with many heads (twisted has 1,702) does not fit both
	// lists in hg serve's request headers. Without heads, getbundle sends
	// up to every head the server has: the ones just listed, unless the
	// source moved since (then the next pull sees it).
	args = peer.fitGetBundle(args)
	if len(remoteHeads) > 0 || args.Bookmarks || len(args.ListKeys) > 0 {
		body, err := peer.GetBundle(ctx, args)
		if err != nil {
			return nil, nil, err
		}
		var r io.Reader = body
		if opts.MaxBytes > 0 {
			r = &boundedReader{r: body, left: opts.MaxBytes, max: opts.MaxBytes}
		}
		err = readPullBundle(r, w, res, opts.MaxChunk)
		body.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	if len(res.bookmarks) == 0 && !args.Bookmarks && len(args.ListKeys) == 0 {
		// Old server: ask for bookmarks directly.
		if keys, err := peer.ListKeys(ctx, "bookmarks"); err == nil {
			res.bookmarks, err = bookmarksFromKeys(keys)
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if err := w.checkManifests(); err != nil {
		return nil, nil, err
	}
	if err := w.checkFiles(); err != nil {
		return nil, nil, err
	}
	for _, h := range remoteHeads {
		if _, ok := w.cl.Rev(h); !ok {
			return nil, nil, fmt.Errorf("hgwire: the source did not send its head %s", h)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if gone := w.gone(res, remoteHeads); len(gone) > 0 {
		// The source stripped changesets the cache holds: the cache is
		// made again from the source (a rare event, and then exactly
		// the source's history) and its store swapped in.
		w.close()
		if peer.redial == nil {
			return nil, nil, &UnsupportedError{What: "stripped changesets on a connection that cannot be reopened"}
		}
		st, s2, err := reclone(ctx, peer, cacheRoot, opts, gone)
		if s2 != nil {
			s2.Roundtrips += stats.Roundtrips
			s2.Recloned = true
		}
		return st, s2, err
	}
	if err := w.commit(res, remoteHeads, publishing); err != nil {
		return nil, nil, err
	}
	stats.Changesets = streamedCsets + len(w.newCsets)
	st, err := w.sourceState(res, remoteHeads, publishing)
	if err != nil {
		return nil, nil, err
	}
	return st, stats, nil
}

func trimNL(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func dropNull(ns []hg.Node) []hg.Node {
	out := ns[:0]
	for _, n := range ns {
		if n != hg.NullNode {
			out = append(out, n)
		}
	}
	return out
}

func bookmarksFromKeys(keys map[string]string) (map[string]hg.Node, error) {
	out := map[string]hg.Node{}
	for k, v := range keys {
		n, err := hg.ParseNode(v)
		if err != nil {
			return nil, fmt.Errorf("hgwire: bookmark %q: %w", k, err)
		}
		if err := checkBookmarkName(k); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, nil
}

// lfsReason is why the native transport does not pull a source that
// uses the lfs extension.
const lfsReason = "lfs (the source stores file revisions as LFS pointers, the files outside its revlogs: capability lfs)"

// draftRootsFromKeys returns the draft roots of the "phases" listkeys
// namespace ("<hex node>\t1" each, beside "publishing\tTrue").
func draftRootsFromKeys(keys map[string]string) ([]hg.Node, error) {
	var out []hg.Node
	for k, v := range keys {
		if k == "publishing" || v != "1" {
			continue
		}
		n, err := hg.ParseNode(k)
		if err != nil {
			return nil, fmt.Errorf("hgwire: phases: %w", err)
		}
		out = append(out, n)
	}
	return out, nil
}

// knownParts are the parts a pull handles, with their parameters.
var knownParts = map[string][]string{
	"changegroup":            {"version", "nbchanges", "targetphase", "exp-sidedata"},
	"bookmarks":              nil,
	"listkeys":               {"namespace"},
	"obsmarkers":             nil,
	"phase-heads":            nil,
	"hgtagsfnodes":           nil, // a cache hg recomputes: skipped
	"cache:rev-branch-cache": nil, // likewise
}

// featureParts name, for a mandatory part a pull does not handle, what the
// source needs (a better reason to fall back than the part's name).
var featureParts = map[string]string{
	// A server with a [narrowacl] section serves every client a
	// narrowed history and says which in this part.
	"narrow:responsespec": "narrow (the source serves a narrowed history: bundle2 part Narrow:responsespec)",
}

// readPullBundle reads the getbundle answer into w and res.
func readPullBundle(r io.Reader, w *cacheWriter, res *pullResult, maxChunk int) error {
	b, err := NewBundle2Reader(r)
	if err != nil {
		return err
	}
	defer b.Close()
	for {
		p, err := b.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := p.CheckKnown(knownParts); err != nil {
			if what, ok := featureParts[p.Name()]; ok {
				return &UnsupportedError{What: what}
			}
			return err
		}
		switch p.Name() {
		case "changegroup":
			v := p.Params["version"]
			if v == "" {
				v = "01"
			}
			if p.Params["exp-sidedata"] != "" && p.Params["exp-sidedata"] != "0" {
				return &UnsupportedError{What: "changegroup with sidedata"}
			}
			cg, err := NewChangegroupReader(p, v)
			if err != nil {
				return err
			}
			cg.MaxChunk = maxChunk
			if err := cg.Walk(w.handler()); err != nil {
				return err
			}
		case "phase-heads":
			if err := appendPart(p, &res.phaseHeads, &res.gotPhaseHeads, ParsePhaseHeads); err != nil {
				return err
			}
		case "bookmarks":
			if err := parsePart(p, &res.bookmarks, ParseBookmarks); err != nil {
				return err
			}
		case "listkeys":
			raw, err := readLimited(p, "listkeys")
			if err != nil {
				return err
			}
			if p.Params["namespace"] == "bookmarks" {
				keys, err := parseListKeys(raw)
				if err != nil {
					return err
				}
				if res.bookmarks, err = bookmarksFromKeys(keys); err != nil {
					return err
				}
			}
		case "obsmarkers":
			if err := appendPart(p, &res.markers, &res.gotMarkers, ParseObsmarkers); err != nil {
				return err
			}
		}
	}
}

// localHeadNodes returns the heads of the cache's changelog.
func localHeadNodes(cl *hg.RevlogAppender) []hg.Node {
	return headsOf(cl, func(int) bool { return true })
}

// markParents marks r's parents in marked.
func markParents(cl *hg.RevlogAppender, r int, marked []bool) {
	p1, p2 := cl.Parents(r)
	if p1 >= 0 {
		marked[p1] = true
	}
	if p2 >= 0 {
		marked[p2] = true
	}
}

// headsOf returns, in revision order, the nodes of the revisions r of cl
// with in(r) that are no parent of another such revision.
func headsOf(cl *hg.RevlogAppender, in func(r int) bool) []hg.Node {
	n := cl.Len()
	isParent := make([]bool, n)
	for r := 0; r < n; r++ {
		if in(r) {
			markParents(cl, r, isParent)
		}
	}
	var out []hg.Node
	for r := 0; r < n; r++ {
		if in(r) && !isParent[r] {
			out = append(out, cl.Node(r))
		}
	}
	return out
}

// sourceState builds the source's state from the cache after the pull.
func (w *cacheWriter) sourceState(res *pullResult, remoteHeads []hg.Node, publishing bool) (*hg.SourceState, error) {
	st := &hg.SourceState{
		Bookmarks:  map[string]hg.Node{},
		Phases:     map[hg.Node]hg.Phase{},
		Hidden:     map[hg.Node]bool{},
		Publishing: publishing,
	}
	for name, n := range res.bookmarks {
		st.Bookmarks[name] = n
	}
	for _, m := range res.markers {
		st.Markers = append(st.Markers, m.Marker)
	}
	n := w.cl.Len()
	visible := w.visible(remoteHeads)
	var heads []int
	for _, h := range remoteHeads {
		r, _ := w.cl.Rev(h)
		heads = append(heads, r)
	}
	draft, err := w.draftSet(res, publishing, visible)
	if err != nil {
		return nil, err
	}
	for r := 0; r < n; r++ {
		if !visible[r] {
			st.Hidden[w.cl.Node(r)] = true
		} else if draft[r] {
			st.Phases[w.cl.Node(r)] = hg.Draft
		}
	}
	sort.Ints(heads)
	for _, r := range heads {
		text, err := w.cl.Revision(r)
		if err != nil {
			return nil, err
		}
		cs, err := hg.ParseChangeset(text)
		if err != nil {
			return nil, fmt.Errorf("hgwire: changeset %d: %w", r, err)
		}
		ph, topic := hg.Public, "" // a public changeset has no topic
		if draft[r] {
			ph, topic = hg.Draft, cs.Extra["topic"]
		}
		st.Heads = append(st.Heads, hg.Head{Node: w.cl.Node(r), Branch: cs.Branch(), Topic: topic, Phase: ph})
	}
	return st, nil
}

// IsUnsupported reports whether err means the source needs what the
// native transport does not do (the caller then uses hg for this sync,
// logging the reason: err's message).
func IsUnsupported(err error) bool {
	var u *UnsupportedError
	return errors.As(err, &u)
}

// gone returns the changesets the cache held before the pull that the
// source does not show and no marker obsoletes: stripped at the source
// (or made secret there).
func (w *cacheWriter) gone(res *pullResult, remoteHeads []hg.Node) []hg.Node {
	vis := w.visible(remoteHeads)
	obsolete := map[hg.Node]bool{}
	for _, m := range res.markers {
		obsolete[m.Prec] = true
	}
	var out []hg.Node
	for r := 0; r < w.csetBase; r++ {
		if n := w.cl.Node(r); !vis[r] && !obsolete[n] {
			out = append(out, n)
		}
	}
	return out
}

// strippedSuffix names the old store while a re-made one is swapped in.
const strippedSuffix = ".stripped"

// recoverSwap finishes or undoes an interrupted store swap, and removes
// what an interrupted stream clone wrote.
func recoverSwap(cacheRoot string) error {
	hgDir := filepath.Join(cacheRoot, ".hg")
	if err := os.RemoveAll(filepath.Join(hgDir, streamStore)); err != nil {
		return err
	}
	old := filepath.Join(hgDir, "store"+strippedSuffix)
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(hgDir, "store")); err != nil {
		return os.Rename(old, filepath.Join(hgDir, "store")) // undo
	}
	return os.RemoveAll(old) // finish
}

func reclone(ctx context.Context, old *Peer, cacheRoot string, opts PullOptions, gone []hg.Node) (*hg.SourceState, *Stats, error) {
	peer, err := old.redial(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer peer.Close()
	tmp := cacheRoot + ".reclone"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, nil, fmt.Errorf("hgwire: %w", err)
	}
	defer os.RemoveAll(tmp)
	st, stats, err := PullFrom(ctx, peer, tmp, opts)
	if err != nil {
		return nil, nil, err
	}
	hgDir := filepath.Join(cacheRoot, ".hg")
	// hg strips only the changesets gone and their descendants: the ones
	// the source hides (obsolete) stay in its cache, hidden, and so they
	// do in this one.
	carried, err := carryHidden(tmp, filepath.Join(hgDir, "store"), gone, st)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range carried {
		st.Hidden[n] = true
	}
	wlock, err := hg.AcquireLock(filepath.Join(hgDir, "wlock"), 30*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer wlock.Release()
	lock, err := hg.AcquireLock(filepath.Join(hgDir, "store", "lock"), 30*time.Second)
	if err != nil {
		return nil, nil, err
	}
	newStore := filepath.Join(tmp, ".hg", "store")
	oldStore := filepath.Join(hgDir, "store")
	if err := os.Rename(oldStore, oldStore+strippedSuffix); err != nil {
		lock.Release()
		return nil, nil, fmt.Errorf("hgwire: swap store: %w", err)
	}
	if err := os.Rename(newStore, oldStore); err != nil {
		os.Rename(oldStore+strippedSuffix, oldStore)
		lock.Release()
		return nil, nil, fmt.Errorf("hgwire: swap store: %w", err)
	}
	// The lock was in the old store.
	os.Remove(filepath.Join(oldStore+strippedSuffix, "lock"))
	for _, f := range []string{"bookmarks"} {
		b, err := os.ReadFile(filepath.Join(tmp, ".hg", f))
		if err == nil {
			err = hg.WriteFileAtomic(filepath.Join(hgDir, f), b)
		} else if os.IsNotExist(err) {
			err = os.Remove(filepath.Join(hgDir, f))
			if os.IsNotExist(err) {
				err = nil
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("hgwire: swap store: %w", err)
		}
	}
	os.RemoveAll(filepath.Join(hgDir, "cache")) // hg's caches of the old history
	if err := os.RemoveAll(oldStore + strippedSuffix); err != nil {
		return nil, nil, fmt.Errorf("hgwire: swap store: %w", err)
	}
	st.Stripped = gone
	return st, stats, nil
}

// fullText is a delta giving text against the empty text.
func fullText(text []byte) []byte {
	d := make([]byte, 12, 12+len(text))
	binary.BigEndian.PutUint32(d[8:], uint32(len(text)))
	return append(d, text...)
}

// carryHidden adds to the cache at root (just made from the source) the
// changesets of the old store that the source hides rather than lost:
// every one but those of gone, their descendants and those root has.
// Their manifests and the file revisions these name that root lacks come
// along; they are drafts (hg hides no public changeset). It returns the
// changesets added, which the source's markers hide.
func carryHidden(root, oldStore string, gone []hg.Node, st *hg.SourceState) ([]hg.Node, error) {
	ocl, err := hg.OpenRevlogAppender(oldStore, "00changelog.i")
	if err != nil {
		return nil, err
	}
	defer ocl.Close()
	drop := make([]bool, ocl.Len())
	isGone := map[hg.Node]bool{}
	for _, n := range gone {
		isGone[n] = true
	}
	w, err := openCacheWriter(root)
	if err != nil {
		return nil, err
	}
	defer w.close()
	var keep []int
	for r := range drop {
		p1, p2 := ocl.Parents(r)
		drop[r] = isGone[ocl.Node(r)] || (p1 >= 0 && drop[p1]) || (p2 >= 0 && drop[p2])
		if _, ok := w.cl.Rev(ocl.Node(r)); !ok && !drop[r] {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	oml, err := hg.OpenRevlogAppender(oldStore, "00manifest.i")
	if err != nil {
		return nil, err
	}
	defer oml.Close()
	h := w.handler()
	parentNodes := func(rl *hg.RevlogAppender, r int) (hg.Node, hg.Node) {
		p1, p2 := rl.Parents(r)
		n1, n2 := hg.NullNode, hg.NullNode
		if p1 >= 0 {
			n1 = rl.Node(p1)
		}
		if p2 >= 0 {
			n2 = rl.Node(p2)
		}
		return n1, n2
	}
	// As a changegroup orders them: changesets, manifests, files.
	mans := make([]hg.Node, len(keep))
	var carried []hg.Node
	for i, r := range keep {
		text, err := ocl.Revision(r)
		if err != nil {
			return nil, err
		}
		if len(text) < 40 {
			return nil, fmt.Errorf("hgwire: changeset %s is too short", ocl.Node(r))
		}
		if mans[i], err = hg.ParseNode(string(text[:40])); err != nil {
			return nil, fmt.Errorf("hgwire: changeset %s: %w", ocl.Node(r), err)
		}
		n := ocl.Node(r)
		p1, p2 := parentNodes(ocl, r)
		if err := h.Changeset(&Delta{Node: n, P1: p1, P2: p2, Base: hg.NullNode, Link: n, Data: fullText(text)}); err != nil {
			return nil, fmt.Errorf("hgwire: carry hidden changeset %s: %w", n, err)
		}
		carried = append(carried, n)
	}
	type fileRev struct {
		path string
		node hg.Node
		link hg.Node
	}
	var files []fileRev
	for i, r := range keep {
		mn, link := mans[i], ocl.Node(r)
		if _, ok := w.ml.Rev(mn); ok {
			continue
		}
		mr, ok := oml.Rev(mn)
		if !ok {
			return nil, fmt.Errorf("hgwire: changeset %s: manifest %s not in the old store", link, mn)
		}
		text, err := oml.Revision(mr)
		if err != nil {
			return nil, err
		}
		// Lines of the parents' manifests (in the cache) name file
		// revisions the cache has.
		have := map[string]bool{}
		p1, p2 := oml.Parents(mr)
		for _, p := range []int{p1, p2} {
			if p < 0 {
				continue
			}
			pt, err := oml.Revision(p)
			if err != nil {
				return nil, err
			}
			for _, line := range bytes.SplitAfter(pt, []byte("\n")) {
				have[string(line)] = true
			}
		}
		for _, line := range bytes.SplitAfter(text, []byte("\n")) {
			if len(line) == 0 || have[string(line)] {
				continue
			}
			path, rest, ok := bytes.Cut(line, []byte{0})
			if !ok || len(rest) < 40 {
				return nil, fmt.Errorf("hgwire: manifest %s: malformed line %q", mn, limitio.Clip(string(line), 80))
			}
			fn, err := hg.ParseNode(string(rest[:40]))
			if err != nil {
				return nil, fmt.Errorf("hgwire: manifest %s: %w", mn, err)
			}
			files = append(files, fileRev{string(path), fn, link})
		}
		n1, n2 := parentNodes(oml, mr)
		if err := h.Manifest(&Delta{Node: mn, P1: n1, P2: n2, Base: hg.NullNode, Link: link, Data: fullText(text)}); err != nil {
			return nil, fmt.Errorf("hgwire: carry manifest %s: %w", mn, err)
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].path < files[j].path })
	for _, f := range files {
		ofl, err := hg.OpenRevlogAppender(oldStore, hg.EncodeStorePath("data/"+f.path+".i"))
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer ofl.Close()
			r, ok := ofl.Rev(f.node)
			if !ok {
				return fmt.Errorf("hgwire: %s revision %s not in the old store", f.path, f.node)
			}
			text, err := ofl.Revision(r)
			if err != nil {
				return err
			}
			n1, n2 := parentNodes(ofl, r)
			return h.File(f.path, &Delta{Node: f.node, P1: n1, P2: n2, Base: hg.NullNode, Link: f.link, Data: fullText(text)})
		}()
		if err != nil {
			return nil, fmt.Errorf("hgwire: carry %s revision %s: %w", f.path, f.node, err)
		}
	}
	if err := w.checkManifests(); err != nil {
		return nil, err
	}
	if err := w.checkFiles(); err != nil {
		return nil, err
	}
	heads := make([]hg.Node, len(st.Heads))
	for i, hd := range st.Heads {
		heads[i] = hd.Node
	}
	w.carrying = true
	if err := w.commit(&pullResult{}, heads, st.Publishing); err != nil {
		return nil, err
	}
	return carried, nil
}
