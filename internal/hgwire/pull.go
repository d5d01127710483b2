package hgwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// PullOptions configure Pull.
type PullOptions struct {
	Options
	// MaxChunk bounds one changegroup chunk (0: DefaultMaxChunk).
	MaxChunk int
	// MaxBytes bounds the (decompressed) bundle a source may send
	// (0: no bound but the context's deadline).
	MaxBytes int64
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
	if err := recoverSwap(cacheRoot); err != nil {
		return nil, nil, fmt.Errorf("hgwire: recover store swap: %w", err)
	}
	if err := initCache(cacheRoot); err != nil {
		return nil, nil, err
	}
	w, err := openCacheWriter(cacheRoot)
	if err != nil {
		return nil, nil, err
	}
	defer w.close()
	stats := &Stats{}

	localHeads := localHeadNodes(w.cl)
	calls := []BatchCall{{Cmd: "heads"}, {Cmd: "listkeys", Args: map[string]string{"namespace": "phases"}}}
	if len(localHeads) > 0 {
		calls = append(calls, BatchCall{Cmd: "known", Args: map[string]string{"nodes": joinNodes(localHeads)}})
	}
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
	var common []hg.Node
	if len(localHeads) > 0 {
		known, err := parseKnown(trimNL(answers[2]), len(localHeads))
		if err != nil {
			return nil, nil, err
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
	res := &pullResult{}
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
	stats.Changesets = len(w.newCsets)
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
			raw, err := readLimited(p, "phase-heads")
			if err != nil {
				return err
			}
			ph, err := ParsePhaseHeads(raw)
			if err != nil {
				return err
			}
			res.phaseHeads, res.gotPhaseHeads = append(res.phaseHeads, ph...), true
		case "bookmarks":
			raw, err := readLimited(p, "bookmarks")
			if err != nil {
				return err
			}
			if res.bookmarks, err = ParseBookmarks(raw); err != nil {
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
			raw, err := readLimited(p, "obsmarkers")
			if err != nil {
				return err
			}
			ms, err := ParseObsmarkers(raw)
			if err != nil {
				return err
			}
			res.markers, res.gotMarkers = append(res.markers, ms...), true
		}
	}
}

// localHeadNodes returns the heads of the cache's changelog.
func localHeadNodes(cl *hg.RevlogAppender) []hg.Node {
	n := cl.Len()
	hasChild := make([]bool, n)
	for r := 0; r < n; r++ {
		p1, p2 := cl.Parents(r)
		if p1 >= 0 {
			hasChild[p1] = true
		}
		if p2 >= 0 {
			hasChild[p2] = true
		}
	}
	var out []hg.Node
	for r := 0; r < n; r++ {
		if !hasChild[r] {
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
		ph := hg.Public
		if draft[r] {
			ph = hg.Draft
		}
		st.Heads = append(st.Heads, hg.Head{Node: w.cl.Node(r), Branch: cs.Branch(), Topic: cs.Extra["topic"], Phase: ph})
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

// recoverSwap finishes or undoes an interrupted store swap.
func recoverSwap(cacheRoot string) error {
	hgDir := filepath.Join(cacheRoot, ".hg")
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
