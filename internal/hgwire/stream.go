package hgwire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/limitio"
)

// A stream clone (bundle2 part stream2, streamclone.py) copies the
// server's store files as they are: the server does no work beyond
// reading them, where a changegroup of the whole history costs it a
// second of CPU per few thousand changesets. The files are written to a
// store of their own and checked as hg verify would before that store
// replaces the (empty) cache's; then an ordinary pull brings bookmarks,
// phases and whatever the source gained meanwhile.

// streamRequires are the store formats a stream clone may carry: those
// this package reads and appends to.
var streamRequires = map[string]bool{
	"revlogv1": true, "generaldelta": true, "sparserevlog": true, "revlog-compression-zstd": true,
}

// streamStore is where, in .hg, a stream clone writes the store it checks.
const streamStore = "store.stream"

// Bounds on what a stream2 part may declare.
const (
	maxStreamName  = 4096
	maxStreamFiles = 10_000_000
)

// streamDeclined says why a stream clone was not used: the source does not
// offer one this package can take (the pull then asks for a changegroup).
type streamDeclined struct{ why string }

func (e *streamDeclined) Error() string { return "hgwire: stream clone declined: " + e.why }

// streamOffer returns the store requirements of the source's stream
// clone, or why none can be taken.
func (p *Peer) streamOffer() ([]string, string) {
	if p.b2 == nil || !p.b2.Has("stream", "v2") {
		return nil, "the source offers no stream clone (bundle2 stream=v2)"
	}
	if p.caps.Has("exp-narrow-1") {
		// A server with the narrow extension may narrow what it serves
		// (narrowacl): a stream would bring the whole store regardless.
		return nil, "narrow (the source may serve a narrowed history; a stream would bypass it)"
	}
	if p.caps.Has("lfs-serve") {
		// The source's repository requires lfs: its store holds
		// revisions stored outside it.
		return nil, "LFS (the source's store keeps file revisions outside it)"
	}
	reqs := p.caps.List("streamreqs")
	if len(reqs) == 0 {
		if p.caps.Has("stream") {
			// "stream" alone means revlogv1 without generaldelta.
			return nil, "the source's store has no generaldelta"
		}
		// hg serve advertises neither when server.uncompressed is off
		// or the repository has secret changesets.
		return nil, "the source offers no stream clone (no streamreqs capability)"
	}
	if err := checkStreamRequires(reqs); err != nil {
		return nil, err.Error()
	}
	return reqs, ""
}

func checkStreamRequires(reqs []string) error {
	have := map[string]bool{}
	for _, r := range reqs {
		if !streamRequires[r] {
			return &streamDeclined{"store requirement " + strconv.Quote(limitio.Clip(r, 60))}
		}
		have[r] = true
	}
	if !have["revlogv1"] || !have["generaldelta"] {
		return &streamDeclined{"a store without revlogv1 and generaldelta"}
	}
	return nil
}

// emptyCache reports whether the cache at root holds no changeset and
// only requirements the store writer takes.
func emptyCache(root string) bool {
	repo, err := hg.Open(root)
	if err != nil {
		return false
	}
	defer repo.Close()
	for _, r := range repo.Requirements() {
		if !writableRequires[r] {
			return false
		}
	}
	return repo.Len() == 0 && repo.HasRequirement("share-safe")
}

// streamArgs are the getbundle arguments of a stream clone. The client
// caps leave out obsmarkers: a source with markers then refuses the stream
// (its store would bring the changesets they hide), and a changegroup
// brings only what it shows, as for any other pull.
func streamArgs() map[string]string {
	caps := ClientBundle2Caps()
	delete(caps, "obsmarkers")
	caps["stream"] = []string{"v2"}
	return map[string]string{
		"bundlecaps": "HG20,bundle2=" + caps.Encode(),
		"cg":         "0",
		"stream":     "1",
		"common":     hg.NullNode.String(),
	}
}

// streamClone fills the empty cache at cacheRoot with the source's store
// through a stream clone and returns the number of changesets it holds,
// and whether it asked the source (which ends an ssh connection).
// A *streamDeclined error (the source refused, or sent what this package
// does not take) leaves the cache as it was, ready for a changegroup; any
// other error is the source's fault, and leaves the cache as it was too.
func streamClone(ctx context.Context, peer *Peer, cacheRoot string, opts PullOptions) (csets int, asked bool, err error) {
	if _, why := peer.streamOffer(); why != "" {
		return 0, false, &streamDeclined{why}
	}
	n, err := streamInto(ctx, peer, cacheRoot, opts)
	return n, true, err
}

func streamInto(ctx context.Context, peer *Peer, cacheRoot string, opts PullOptions) (int, error) {
	hgDir := filepath.Join(cacheRoot, ".hg")
	tmp := filepath.Join(hgDir, streamStore)
	if err := os.RemoveAll(tmp); err != nil {
		return 0, fmt.Errorf("hgwire: %w", err)
	}
	defer os.RemoveAll(tmp)
	body, err := peer.t.stream(ctx, "getbundle", streamArgs())
	if err != nil {
		return 0, err
	}
	var r io.Reader = body
	if opts.MaxBytes > 0 {
		r = &boundedReader{r: body, left: opts.MaxBytes, max: opts.MaxBytes}
	}
	// Revlogs are checked as they arrive, on other goroutines.
	check := newStoreCheck(tmp)
	got, err := readStreamBundle(r, tmp, check)
	body.Close()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		check.wait() // before the store is removed
		return 0, err
	}
	n, err := verifyStore(tmp, got.files, check)
	if err != nil {
		return 0, err
	}
	if err := swapStore(hgDir, tmp, got.requires); err != nil {
		return 0, err
	}
	return n, nil
}

// readStreamBundle reads the getbundle answer of a stream clone: one
// stream2 part (and advisory parts, skipped), its files written under
// store.
func readStreamBundle(r io.Reader, store string, check *storeCheck) (*streamed, error) {
	b, err := NewBundle2Reader(r)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	var out *streamed
	got := false
	for {
		p, err := b.NextPart()
		if err == io.EOF {
			break
		}
		var re *RemoteError
		if errors.As(err, &re) && !got {
			// hg serve aborts a stream it will not give (secret
			// changesets, markers, server.uncompressed off).
			return nil, &streamDeclined{"the source refused: " + re.Error()}
		}
		if err != nil {
			return nil, err
		}
		if p.Name() != "stream2" {
			if p.Mandatory {
				return nil, &streamDeclined{"mandatory bundle2 part " + p.Type}
			}
			continue
		}
		if got {
			return nil, errors.New("hgwire: stream clone: a second stream2 part")
		}
		got = true
		if err := p.CheckKnown(map[string][]string{"stream2": {"requirements", "filecount", "bytecount"}}); err != nil {
			return nil, &streamDeclined{err.Error()}
		}
		if out, err = readStream2(p, store, check); err != nil {
			if errors.As(err, &re) {
				// An abort in the middle (a file changed as it was
				// read): the cache is untouched, a changegroup may do.
				return nil, &streamDeclined{"the source aborted: " + re.Error()}
			}
			return nil, err
		}
	}
	if !got {
		return nil, errors.New("hgwire: stream clone: the source sent no stream2 part")
	}
	return out, nil
}

// readStream2 writes the files of a stream2 part under store, telling
// check (when not nil) of each.
func readStream2(p *Part, store string, check *storeCheck) (*streamed, error) {
	rq, err := url.QueryUnescape(p.Params["requirements"])
	if err != nil {
		return nil, fmt.Errorf("hgwire: stream2 requirements %q: %w", limitio.Clip(p.Params["requirements"], 60), err)
	}
	var reqs []string
	if rq != "" {
		reqs = strings.Split(rq, ",")
	}
	if err := checkStreamRequires(reqs); err != nil {
		return nil, err
	}
	filecount, err := strconv.ParseInt(p.Params["filecount"], 10, 64)
	if err != nil || filecount < 0 || filecount > maxStreamFiles {
		return nil, fmt.Errorf("hgwire: stream2 filecount %q", limitio.Clip(p.Params["filecount"], 30))
	}
	bytecount, err := strconv.ParseInt(p.Params["bytecount"], 10, 64)
	if err != nil || bytecount < 0 {
		return nil, fmt.Errorf("hgwire: stream2 bytecount %q", limitio.Clip(p.Params["bytecount"], 30))
	}
	if err := os.MkdirAll(store, 0o755); err != nil {
		return nil, fmt.Errorf("hgwire: %w", err)
	}
	br := bufio.NewReaderSize(p, 64<<10)
	seen, dirs := map[string]bool{}, map[string]bool{}
	var files []string
	left := bytecount
	buf := make([]byte, 256<<10)
	for i := int64(0); i < filecount; i++ {
		src, err := br.ReadByte()
		if err != nil {
			return nil, truncErr("stream2 entry", noEOF(err))
		}
		nameLen, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, truncErr("stream2 entry", noEOF(err))
		}
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, truncErr("stream2 entry", noEOF(err))
		}
		if nameLen == 0 || nameLen > maxStreamName {
			return nil, fmt.Errorf("hgwire: stream2 entry %d: name of %d bytes", i, nameLen)
		}
		if size > uint64(left) {
			return nil, fmt.Errorf("hgwire: stream2 entry %d: %d bytes, beyond the %d declared", i, size, bytecount)
		}
		left -= int64(size)
		nb := make([]byte, nameLen)
		if _, err := io.ReadFull(br, nb); err != nil {
			return nil, truncErr("stream2 entry name", noEOF(err))
		}
		name := string(nb)
		var dst io.Writer = io.Discard
		var f *os.File
		switch src {
		case 'c': // hg's caches (branch heads, tags): it remakes them
		case 's':
			keep, err := storeFileName(name)
			if err != nil {
				return nil, err
			}
			if seen[name] {
				return nil, fmt.Errorf("hgwire: stream2: %q sent twice", name)
			}
			seen[name] = true
			if !keep {
				break
			}
			path := filepath.Join(store, filepath.FromSlash(hg.EncodeStorePath(name)))
			if d := filepath.Dir(path); !dirs[d] {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return nil, fmt.Errorf("hgwire: %w", err)
				}
				dirs[d] = true
			}
			if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
				return nil, fmt.Errorf("hgwire: %w", err)
			}
			dst = &headWriter{w: f}
			files = append(files, name)
		default:
			return nil, fmt.Errorf("hgwire: stream2 entry %d: unknown destination %q", i, src)
		}
		n, err := io.CopyBuffer(dst, io.LimitReader(br, int64(size)), buf)
		if err == nil && n != int64(size) {
			err = io.ErrUnexpectedEOF
		}
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, truncErr("stream2 file "+name, noEOF(err))
		}
		if h, ok := dst.(*headWriter); ok && check != nil {
			check.written(name, h.head[:h.n])
		}
	}
	if left != 0 {
		return nil, fmt.Errorf("hgwire: stream2: %d of the %d bytes declared not sent", left, bytecount)
	}
	// The part must end here.
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, errors.New("hgwire: stream2: data after the last file")
		}
		return nil, err
	}
	return &streamed{files: files, requires: reqs}, nil
}

// headWriter writes to w, keeping the first 4 bytes (a revlog's header).
type headWriter struct {
	w    io.Writer
	head [4]byte
	n    int
}

func (h *headWriter) Write(p []byte) (int, error) {
	h.n += copy(h.head[h.n:], p)
	return h.w.Write(p)
}

// streamed is what a stream2 part held: the store files written
// (unencoded names) and the store's requirements.
type streamed struct {
	files, requires []string
}

// noEOF turns an early end into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// storeFileName checks a store file's name in a stream: whether to keep
// it, or an error for a name no store holds (or one this package does
// not take: then the stream is declined).
func storeFileName(name string) (keep bool, err error) {
	switch name {
	case "00changelog.i", "00changelog.d", "00manifest.i", "00manifest.d", "phaseroots":
		return true, nil
	case "obsstore":
		return false, &streamDeclined{"obsolescence markers in the stream"}
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	if strings.HasSuffix(base, ".n") || strings.HasSuffix(base, ".nd") {
		// Persistent nodemaps: caches of the index.
		if err := checkFileName(name); err != nil {
			return false, fmt.Errorf("hgwire: stream2: store file name %q is invalid", limitio.Clip(name, 80))
		}
		return false, nil
	}
	if rest, ok := strings.CutPrefix(name, "data/"); ok {
		path, ext := rest, ""
		if i := strings.LastIndexByte(rest, '.'); i >= 0 {
			path, ext = rest[:i], rest[i:]
		}
		if (ext == ".i" || ext == ".d") && checkFileName(path) == nil {
			return true, nil
		}
	}
	if strings.HasPrefix(name, "meta/") {
		return false, &streamDeclined{"tree manifests in the stream"}
	}
	return false, fmt.Errorf("hgwire: stream2: unexpected store file %q", limitio.Clip(name, 80))
}

// storeCheck reads the revlogs of a store being written, each once it is
// complete, on as many goroutines as there are CPUs (the manifest log on
// more, see manifestSummary.read; and see verifyStore).
type storeCheck struct {
	dir   string
	tasks chan func() error
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error // the first
	cl    changelogSummary
	mf    manifestSummary
	fls   map[string]*filelogSummary
	// split are the revlogs whose index came with no data file yet;
	// started those read.
	split, started map[string]bool
	data           map[string]bool // data files written
}

func newStoreCheck(dir string) *storeCheck {
	c := &storeCheck{dir: dir, tasks: make(chan func() error, 64), fls: map[string]*filelogSummary{},
		split: map[string]bool{}, started: map[string]bool{}, data: map[string]bool{}}
	tasks := c.tasks
	for range runtime.GOMAXPROCS(0) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for task := range tasks {
				c.mu.Lock()
				failed := c.err != nil
				c.mu.Unlock()
				if failed {
					continue
				}
				if err := task(); err != nil {
					c.mu.Lock()
					if c.err == nil {
						c.err = err
					}
					c.mu.Unlock()
				}
			}
		}()
	}
	return c
}

// written tells c that store file name is complete, head its first bytes:
// a revlog is read once its index and (unless inline) its data are there.
func (c *storeCheck) written(name string, head []byte) {
	if base, ok := strings.CutSuffix(name, ".d"); ok {
		c.data[base] = true
		if c.split[base] {
			delete(c.split, base)
			c.start(base)
		}
		return
	}
	base, ok := strings.CutSuffix(name, ".i")
	if !ok {
		return
	}
	if len(head) == 4 && binary.BigEndian.Uint32(head)&(1<<16) == 0 && !c.data[base] {
		c.split[base] = true // its data file should follow
		return
	}
	c.start(base)
}

// start reads revlog base ("00changelog", "data/PATH", ...).
func (c *storeCheck) start(base string) {
	if c.started[base] {
		return
	}
	c.started[base] = true
	switch base {
	case "00changelog":
		c.tasks <- func() error { return c.cl.read(c.dir) }
	case "00manifest":
		c.tasks <- func() error { return c.mf.read(c.dir) }
	default:
		path := strings.TrimPrefix(base, "data/")
		f := &filelogSummary{}
		c.fls[path] = f
		c.tasks <- func() error { return f.read(c.dir, path) }
	}
}

// wait waits for the revlogs started and returns the first error.
func (c *storeCheck) wait() error {
	if c.tasks != nil {
		close(c.tasks)
		c.tasks = nil
	}
	c.wg.Wait()
	return c.err
}

// verifyStore checks the store at dir, made of the stream's files, as
// hg verify does: every revision's node is the hash of its parents and
// text; no node is twice in a revlog; each changeset links to itself and
// names a manifest the manifest log has; each manifest and file revision
// links to a changeset that introduces it; every file revision a manifest
// names is in its filelog and every filelog revision is named by a
// manifest. The revlogs are read concurrently (check, when not nil, has
// started some as they arrived), then checked against each other. It
// writes the store's fncache and returns the number of changesets.
func verifyStore(dir string, files []string, check *storeCheck) (int, error) {
	if check == nil {
		check = newStoreCheck(dir)
	}
	defer check.wait()
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	var datas []string // data/ paths with an index
	for _, f := range files {
		if strings.HasSuffix(f, ".d") && !have[strings.TrimSuffix(f, ".d")+".i"] {
			return 0, streamErrorf("%s without its index", f)
		}
		if p, ok := strings.CutPrefix(f, "data/"); ok && strings.HasSuffix(p, ".i") {
			datas = append(datas, strings.TrimSuffix(p, ".i"))
		}
	}
	sort.Strings(datas)
	for _, base := range append([]string{"00changelog", "00manifest"}, datas...) {
		if base != "00changelog" && base != "00manifest" {
			base = "data/" + base
		}
		check.start(base) // those not started yet; a missing one reads as empty
	}
	if err := check.wait(); err != nil {
		return 0, err
	}
	cl, mf := &check.cl, &check.mf

	for r, n := range mf.nodes {
		links, ok := cl.mfLinks[n]
		if !ok {
			return 0, streamErrorf("manifest %s is in no changeset", n)
		}
		delete(cl.mfLinks, n)
		if !containsRev(links, mf.links[r]) {
			return 0, streamErrorf("manifest %s links to changeset %d, not one naming it", n, mf.links[r])
		}
	}
	for n := range cl.mfLinks {
		return 0, streamErrorf("a changeset names manifest %s, which was not sent", n)
	}
	for _, path := range datas {
		fl := check.fls[path]
		nodes, links := mf.fileNodes[path], cl.fileLinks[path]
		for r, n := range fl.nodes {
			if !nodes[n] {
				return 0, streamErrorf("%s revision %s is in no manifest", path, n)
			}
			delete(nodes, n)
			if lr := fl.links[r]; !containsRev(links, lr) {
				return 0, streamErrorf("%s revision %s links to changeset %d, which does not change it", path, n, lr)
			}
		}
	}
	for path, nodes := range mf.fileNodes {
		for n := range nodes {
			return 0, streamErrorf("a manifest names %s revision %s, which was not sent", path, n)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "phaseroots")); err == nil {
		if err := checkPhaseRoots(b, cl.nodes); err != nil {
			return 0, err
		}
	}

	var fnc bytes.Buffer
	for _, f := range files {
		if strings.HasPrefix(f, "data/") {
			fnc.WriteString(f + "\n")
		}
	}
	if fnc.Len() > 0 {
		if err := hg.WriteFileAtomic(filepath.Join(dir, "fncache"), fnc.Bytes()); err != nil {
			return 0, err
		}
	}
	return len(cl.nodes), nil
}

func streamErrorf(format string, args ...any) error {
	return fmt.Errorf("hgwire: stream clone: "+format, args...)
}

// openStored opens the revlog of store file name in dir, checking first
// that its data file is as long as its index says.
func openStored(dir, name string) (*hg.Revlog, error) {
	enc := filepath.Join(dir, filepath.FromSlash(hg.EncodeStorePath(name)))
	if err := checkDataSize(enc); err != nil {
		return nil, streamErrorf("%s: %w", name, err)
	}
	return hg.OpenRevlog(enc)
}

// eachRevision verifies every revision of rl (its node is the hash of
// its parents and text; no node twice) and calls fn with each.
func eachRevision(rl *hg.Revlog, name string, fn func(r int, n hg.Node) error) error {
	return eachRevisionIn(rl, name, 0, rl.Len(), fn)
}

// eachRevisionIn is eachRevision for revisions lo to hi (excluded).
func eachRevisionIn(rl *hg.Revlog, name string, lo, hi int, fn func(r int, n hg.Node) error) error {
	for r := lo; r < hi; r++ {
		if err := rl.Verify(r); err != nil {
			var unsup *hg.UnsupportedError
			if errors.As(err, &unsup) {
				return &streamDeclined{err.Error()}
			}
			return streamErrorf("%w", err)
		}
		n, _ := rl.Node(r)
		if got, _ := rl.Rev(n); got != r {
			return streamErrorf("%s: node %s is revision %d and %d", name, n, got, r)
		}
		if err := fn(r, n); err != nil {
			return err
		}
	}
	return nil
}

// changelogSummary is what the other checks need of the changelog.
type changelogSummary struct {
	nodes     map[hg.Node]int
	mfLinks   map[hg.Node][]int // manifest → the changesets naming it
	fileLinks map[string][]int  // path → the changesets changing it
}

func (c *changelogSummary) read(dir string) error {
	rl, err := openStored(dir, "00changelog.i")
	if err != nil {
		return err
	}
	defer rl.Close()
	c.nodes = make(map[hg.Node]int, rl.Len())
	c.mfLinks, c.fileLinks = map[hg.Node][]int{}, map[string][]int{}
	return eachRevision(rl, "changelog", func(r int, n hg.Node) error {
		c.nodes[n] = r
		if lr, _ := rl.LinkRev(r); lr != r {
			return streamErrorf("changeset %s links to revision %d", n, lr)
		}
		text, err := rl.Revision(r)
		if err != nil {
			return streamErrorf("%w", err)
		}
		cs, err := hg.ParseChangeset(text)
		if err != nil {
			return streamErrorf("changeset %s: %w", n, err)
		}
		if cs.Manifest != hg.NullNode {
			c.mfLinks[cs.Manifest] = append(c.mfLinks[cs.Manifest], r)
		}
		for _, f := range cs.Files {
			if l := c.fileLinks[f]; len(l) == 0 || l[len(l)-1] != r {
				c.fileLinks[f] = append(c.fileLinks[f], r)
			}
		}
		return nil
	})
}

// manifestSummary is what the other checks need of the manifest log.
type manifestSummary struct {
	nodes     []hg.Node
	links     []int
	fileNodes map[string]map[hg.Node]bool // every file revision named
}

// manifestSpan is the fewest manifest revisions read on a goroutine of
// their own (see manifestSummary.read).
const manifestSpan = 512

// read reads the manifest log of the store at dir. The manifest log
// comes last in a stream, with the changelog: alone, its check would be
// what the clone waits for once every file is written, so a long one is
// read in spans, one per CPU (each span follows its first revision's
// delta chain once), and the spans' summaries joined in order.
func (m *manifestSummary) read(dir string) error {
	rl, err := openStored(dir, "00manifest.i")
	if err != nil {
		return err
	}
	n := rl.Len()
	rl.Close()
	return m.readSpans(dir, n, min(runtime.GOMAXPROCS(0), max(n/manifestSpan, 1)))
}

// readSpans reads the n revisions of the manifest log in spans spans.
func (m *manifestSummary) readSpans(dir string, n, spans int) error {
	parts := make([]manifestSummary, spans)
	errs := make([]error, spans)
	var wg sync.WaitGroup
	for i := range spans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = parts[i].readSpan(dir, n*i/spans, n*(i+1)/spans)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*m = parts[0]
	for _, p := range parts[1:] {
		m.nodes, m.links = append(m.nodes, p.nodes...), append(m.links, p.links...)
		for path, nodes := range p.fileNodes {
			if have := m.fileNodes[path]; have == nil {
				m.fileNodes[path] = nodes
			} else {
				maps.Copy(have, nodes)
			}
		}
	}
	return nil
}

// readSpan summarises manifest revisions lo to hi (excluded): the lines
// of each that its first parent lacks (which, read with the parent, are
// all named once every span is read).
func (m *manifestSummary) readSpan(dir string, lo, hi int) error {
	rl, err := openStored(dir, "00manifest.i")
	if err != nil {
		return err
	}
	defer rl.Close()
	rl.SetCache(1024, hg.DefaultManifestCache) // as a Repo's
	m.fileNodes = map[string]map[hg.Node]bool{}
	m.nodes, m.links = make([]hg.Node, 0, hi-lo), make([]int, 0, hi-lo)
	return eachRevisionIn(rl, "manifest", lo, hi, func(r int, n hg.Node) error {
		lr, _ := rl.LinkRev(r)
		m.nodes, m.links = append(m.nodes, n), append(m.links, lr)
		text, err := rl.Revision(r)
		if err != nil {
			return streamErrorf("%w", err)
		}
		var base []byte
		if p1, _, _ := rl.Parents(r); p1 >= 0 {
			if base, err = rl.Revision(p1); err != nil {
				return streamErrorf("%w", err)
			}
		}
		// Every line of every manifest is checked: those its parent
		// has were, with the parent.
		return newManifestLines(text, base, func(path string, fn hg.Node) {
			f := m.fileNodes[path]
			if f == nil {
				f = map[hg.Node]bool{}
				m.fileNodes[path] = f
			}
			f[fn] = true
		}, n)
	})
}

// filelogSummary is what the other checks need of a filelog.
type filelogSummary struct {
	nodes []hg.Node
	links []int
}

func (f *filelogSummary) read(dir, path string) error {
	rl, err := openStored(dir, "data/"+path+".i")
	if err != nil {
		return err
	}
	defer rl.Close()
	return eachRevision(rl, path, func(r int, n hg.Node) error {
		lr, _ := rl.LinkRev(r)
		f.nodes, f.links = append(f.nodes, n), append(f.links, lr)
		return nil
	})
}

func containsRev(revs []int, r int) bool {
	i := sort.SearchInts(revs, r)
	return i < len(revs) && revs[i] == r
}

// newManifestLines calls fn with each line of the manifest text that its
// parent's text (base) lacks; both are sorted by path.
func newManifestLines(text, base []byte, fn func(path string, node hg.Node), mn hg.Node) error {
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			return fmt.Errorf("hgwire: stream clone: manifest %s: last line unterminated", mn)
		}
		line := text[:i+1]
		text = text[i+1:]
		path, rest, ok := bytes.Cut(line, []byte{0})
		if !ok || len(rest) < 41 || len(path) == 0 {
			return fmt.Errorf("hgwire: stream clone: manifest %s: malformed line %q", mn, limitio.Clip(string(line), 80))
		}
		// Skip the base's lines before this path.
		same := false
		for len(base) > 0 {
			j := bytes.IndexByte(base, '\n')
			if j < 0 {
				base = nil
				break
			}
			bl := base[:j+1]
			bp, _, _ := bytes.Cut(bl, []byte{0})
			c := bytes.Compare(bp, path)
			if c > 0 {
				break
			}
			base = base[j+1:]
			if c == 0 {
				same = bytes.Equal(bl, line)
				break
			}
		}
		if same {
			continue
		}
		node, err := hg.ParseNode(string(rest[:40]))
		if err != nil {
			return fmt.Errorf("hgwire: stream clone: manifest %s: %w", mn, err)
		}
		fn(string(path), node)
	}
	return nil
}

// checkDataSize checks that a split revlog's data file ends where its
// last revision does (hg verify's "data length off").
func checkDataSize(index string) error {
	f, err := os.Open(index)
	if errors.Is(err, os.ErrNotExist) {
		return nil // an empty revlog
	}
	if err != nil {
		return fmt.Errorf("hgwire: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("hgwire: %w", err)
	}
	var e [64]byte
	if st.Size() < 64 {
		return nil // empty or truncated: the reader says which
	}
	if _, err := f.ReadAt(e[:4], 0); err != nil {
		return fmt.Errorf("hgwire: %w", err)
	}
	if binary.BigEndian.Uint32(e[:4])&(1<<16) != 0 {
		return nil // inline: the reader checks the data
	}
	if st.Size()%64 != 0 {
		return nil // the reader says it is corrupt
	}
	if _, err := f.ReadAt(e[:], st.Size()-64); err != nil {
		return fmt.Errorf("hgwire: %w", err)
	}
	off := int64(binary.BigEndian.Uint64(e[:8]) >> 16)
	if st.Size() == 64 {
		off = 0
	}
	end := off + int64(binary.BigEndian.Uint32(e[8:12]))
	data := strings.TrimSuffix(index, ".i") + ".d"
	var size int64
	if ds, err := os.Stat(data); err == nil {
		size = ds.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("hgwire: %w", err)
	}
	if size != end {
		return fmt.Errorf("data file is %d bytes, the index ends at %d", size, end)
	}
	return nil
}

// checkPhaseRoots checks a phaseroots file: "<phase> <hex node>" lines
// naming changesets.
func checkPhaseRoots(b []byte, csets map[hg.Node]int) error {
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		ph, hx, ok := strings.Cut(line, " ")
		p, err := strconv.Atoi(ph)
		if !ok || err != nil || p < 1 || p > 2 {
			return streamErrorf("phaseroots line %q", limitio.Clip(line, 80))
		}
		if hg.Phase(p) == hg.Secret {
			return &streamDeclined{"secret changesets in the stream"}
		}
		n, err := hg.ParseNode(hx)
		if err != nil {
			return streamErrorf("phaseroots line %q: %w", limitio.Clip(line, 80), err)
		}
		if _, ok := csets[n]; !ok {
			return streamErrorf("phaseroots names %s, which is not in the changelog", n)
		}
	}
	return nil
}

// swapStore makes the checked store at tmp the cache's, under the cache's
// locks, as reclone swaps a re-made store in (recoverSwap finishes or
// undoes an interrupted swap).
// The store's requirements are the cache's and the stream's formats.
func swapStore(hgDir, tmp string, streamReqs []string) error {
	wlock, err := hg.AcquireLock(filepath.Join(hgDir, "wlock"), 30*time.Second)
	if err != nil {
		return err
	}
	defer wlock.Release()
	oldStore := filepath.Join(hgDir, "store")
	lock, err := hg.AcquireLock(filepath.Join(oldStore, "lock"), 30*time.Second)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(filepath.Join(oldStore, "requires"))
	if err != nil {
		lock.Release()
		return fmt.Errorf("hgwire: %w", err)
	}
	reqs := map[string]bool{}
	for _, r := range append(strings.Fields(string(old)), streamReqs...) {
		reqs[r] = true
	}
	list := make([]string, 0, len(reqs))
	for r := range reqs {
		list = append(list, r)
	}
	sort.Strings(list)
	if err := hg.WriteFileAtomic(filepath.Join(tmp, "requires"), []byte(strings.Join(list, "\n")+"\n")); err != nil {
		lock.Release()
		return err
	}
	if err := os.Rename(oldStore, oldStore+strippedSuffix); err != nil {
		lock.Release()
		return fmt.Errorf("hgwire: swap store: %w", err)
	}
	if err := os.Rename(tmp, oldStore); err != nil {
		os.Rename(oldStore+strippedSuffix, oldStore)
		lock.Release()
		return fmt.Errorf("hgwire: swap store: %w", err)
	}
	os.Remove(filepath.Join(oldStore+strippedSuffix, "lock")) // the lock was in the old store
	if err := os.RemoveAll(oldStore + strippedSuffix); err != nil {
		return fmt.Errorf("hgwire: swap store: %w", err)
	}
	return nil
}
