package hgwire

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	hgtest.Cleanup()
	os.Exit(code)
}

func pull(t testing.TB, source, cache string, opts PullOptions) (*hg.SourceState, *Stats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	st, stats, err := Pull(ctx, source, cache, opts)
	t.Logf("pull %s: %v", source, time.Since(start))
	if err != nil {
		t.Fatalf("pull %s: %v", source, err)
	}
	return st, stats
}

// verify runs hg verify on the cache.
func verify(t testing.TB, cache string) {
	t.Helper()
	out, err := hgtest.RunErr(cache, "verify", "-q")
	if err != nil {
		t.Fatalf("hg verify %s: %v\n%s", cache, err, out)
	}
}

// logTemplate lists what the cache must agree on with the source: every
// changeset hg shows, its phase, whether it is a head and its bookmarks,
// joined by ":" (which hg refuses in a name; a name may hold spaces).
const logTemplate = "{node} {phase} {ifcontains(rev, revset('heads(all())'), 'head', '-')} {join(bookmarks, ':')}\n"

// logOf lists, sorted, every changeset of dir that hg shows (with evolve:
// obsolete ones hidden).
func logOf(t testing.TB, dir string) string {
	t.Helper()
	out := hgtest.Run(t, dir, "log", "--config", "extensions.evolve=", "--config", "experimental.evolution=all", "-T", logTemplate)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n") // a line without bookmarks ends in a space
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// sameAsSource checks the cache against the source: hg verify passes, hg
// shows the same changesets with the same phases, heads and bookmarks,
// and the state says so too.
func sameAsSource(t testing.TB, src *hgtest.Repo, cache string, st *hg.SourceState) {
	t.Helper()
	verify(t, cache)
	want, got := logOf(t, src.Dir), logOf(t, cache)
	if want != got {
		t.Fatalf("cache differs from source:\nsource:\n%s\ncache:\n%s", want, got)
	}
	heads, marks := 0, 0
	for _, line := range strings.Split(want, "\n") {
		f := strings.SplitN(line, " ", 4)
		n := mustNode(t, f[0])
		if got := st.PhaseOf(n).String(); got != f[1] {
			t.Fatalf("state phase of %s: %s, source %s", f[0], got, f[1])
		}
		if f[2] == "head" {
			heads++
		}
		for _, bm := range strings.Split(f[3], ":") {
			if bm == "" {
				continue
			}
			marks++
			if st.Bookmarks[bm] != n {
				t.Fatalf("state bookmark %s: %s, source %s", bm, st.Bookmarks[bm], n)
			}
		}
	}
	if heads != len(st.Heads) || marks != len(st.Bookmarks) {
		t.Fatalf("state: %d heads, %d bookmarks; source %d, %d", len(st.Heads), len(st.Bookmarks), heads, marks)
	}
}

// firstSteps commits what the test sources begin with: a file, a second
// one under bookmark bm1, then a copy and a rename pending in the working
// directory.
func firstSteps(src *hgtest.Repo) {
	src.Commit(hgtest.WithFile("a", "a\n"))
	src.Commit(hgtest.WithBookmark("bm1"), hgtest.WithFile("b", "b\n"))
	src.Run("cp", "a", "with space.txt")
	src.Run("mv", "b", "Dir/B.TXT")
}

// smallSource makes a non-publishing evolve repository with branches,
// bookmarks, a copy, a rename, a large file, drafts and an amend.
func smallSource(t testing.TB) *hgtest.Repo {
	src := hgtest.NewRepo(t, hgtest.WithEvolve(), hgtest.NonPublishing())
	firstSteps(src)
	src.Write("big.bin", strings.Repeat("0123456789abcdef", 12<<10)) // 192 KiB: a split revlog
	src.Commit()
	src.Run("phase", "-p", ".")
	src.Commit(hgtest.WithBranch("stable"), hgtest.WithFile("a", "a2\n"))
	src.Amend(hgtest.WithFile("a", "a3\n"))
	return src
}

// TestPullInterop pulls natively into a cache hg cloned (follow has hg
// pull into native caches).
func TestPullInterop(t *testing.T) {
	t.Parallel()
	src := smallSource(t)
	srv := hgtest.Serve(t, src, hgtest.WithEvolve(), hgtest.NonPublishing())
	hgCache := filepath.Join(t.TempDir(), "hgcache")
	hgtest.Run(t, "", "clone", "-q", "-U", "--", srv.URL, hgCache)
	pullOne(t, src, srv.URL, hgCache)
}

// pullOne commits one changeset at src and pulls it natively from url into
// cache, which must then agree with src.
func pullOne(t testing.TB, src *hgtest.Repo, url, cache string) {
	t.Helper()
	src.Commit(hgtest.WithFile("pulled-one", "one new changeset\n"))
	st, stats := pull(t, url, cache, PullOptions{})
	if stats.Changesets != 1 {
		t.Fatalf("pull into %s: %d changesets, want 1", filepath.Base(cache), stats.Changesets)
	}
	sameAsSource(t, src, cache, st)
}

func mustNode(t testing.TB, s string) hg.Node {
	t.Helper()
	n, err := hg.ParseNode(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPullEmpty pulls an empty source, then its first changeset (with
// Basic credentials through the kit's proxy, never in the URL).
func TestPullEmpty(t *testing.T) {
	t.Parallel()
	src := hgtest.NewRepo(t)
	srv := hgtest.Serve(t, src, hgtest.WithBasicAuth("alice", "s3cret-token"))
	cache := filepath.Join(t.TempDir(), "cache")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := Pull(ctx, srv.URL, cache, PullOptions{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("pull without credentials: %v", err)
	}
	opts := PullOptions{Options: Options{Username: "alice", Password: "s3cret-token"}}
	st, stats := pull(t, srv.URL, cache, opts)
	if stats.Changesets != 0 || len(st.Heads) != 0 {
		t.Fatalf("empty source: %d changesets, heads %v", stats.Changesets, st.Heads)
	}
	src.Commit(hgtest.WithFile("a", "a\n"))
	// Through a redirect that drops the query: the client follows the
	// new base URL.
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL, http.StatusFound)
	}))
	defer moved.Close()
	st, stats = pull(t, moved.URL+"/old/", cache, opts)
	if stats.Changesets != 1 || len(st.Heads) != 1 || st.Heads[0].Branch != "default" || !st.Publishing {
		t.Fatalf("first changeset: %d changesets, state %+v", stats.Changesets, st)
	}
	verify(t, cache)
}

// TestPullManyHeads: when the source's heads and the cache's common heads do
// not fit together in hg serve's request headers (as twisted's 1,702 heads
// against the default header length; here the length is made small), the
// pull leaves the heads out instead of failing with HTTP 431.
func TestPullManyHeads(t *testing.T) {
	t.Parallel()
	src := hgtest.NewRepo(t)
	src.Run("debugbuilddag", "+1:r"+strings.Repeat(" *r", 120))
	src.Run("phase", "--public", "-r", "all()") // as a publishing server shows them
	srv := hgtest.Serve(t, src, hgtest.WithConfig("server.maxhttpheaderlen=100"))
	cache := filepath.Join(t.TempDir(), "cache")
	st, stats := pull(t, srv.URL, cache, PullOptions{})
	if stats.Changesets != 121 || len(st.Heads) != 120 {
		t.Fatalf("clone: %d changesets, %d heads", stats.Changesets, len(st.Heads))
	}
	src.Write("a", "a\n")
	src.Commit() // a new root: 121 heads, 120 of them common
	src.Run("phase", "--public", "-r", "all()")
	st, stats = pull(t, srv.URL, cache, PullOptions{})
	if stats.Changesets != 1 || len(st.Heads) != 121 {
		t.Fatalf("pull: %d changesets, %d heads", stats.Changesets, len(st.Heads))
	}
	sameAsSource(t, src, cache, st)
	verify(t, cache)
}

// TestPullManyCacheHeads: a cache with more heads than one request's
// arguments hold (hg serve answers 431 to more header lines than it takes;
// here the header length is made small, so that 400 heads weigh as much
// as 4,400 at the default) asks known in several requests, and so does
// discovery's sampling when the source pruned half of them; the common
// heads are exact, and getbundle's common list is cut to fit.
func TestPullManyCacheHeads(t *testing.T) {
	t.Parallel()
	opts := []hgtest.Option{hgtest.WithEvolve(), hgtest.NonPublishing()}
	src := hgtest.NewRepo(t, opts...)
	src.Run("debugbuilddag", "+1:r"+strings.Repeat(" *r", 400))
	srv := hgtest.Serve(t, src, append(opts, hgtest.WithConfig("server.maxhttpheaderlen=100"))...)
	cache := filepath.Join(t.TempDir(), "cache")
	st, stats := pull(t, srv.URL, cache, PullOptions{})
	if stats.Changesets != 401 || len(st.Heads) != 400 {
		t.Fatalf("clone: %d changesets, %d heads", stats.Changesets, len(st.Heads))
	}
	src.Prune("heads(all()) - last(heads(all()), 200)")
	src.Write("a", "a\n")
	src.Commit() // a new root
	pruned := map[hg.Node]bool{}
	for _, f := range strings.Fields(src.Run("log", "--hidden", "-r", "obsolete()", "-T", "{node}\n")) {
		pruned[mustNode(t, f)] = true
	}
	if len(pruned) != 200 {
		t.Fatalf("%d changesets pruned at the source, want 200", len(pruned))
	}

	ctx, peer := dialTest(t, srv.URL)
	if b := peer.t.argBudget(); b == 0 || 400*nodeArgLen < 2*b {
		t.Fatalf("argument budget %d: 400 heads do not need several requests", b)
	}
	cl, err := hg.OpenRevlogAppender(filepath.Join(cache, ".hg", "store"), "00changelog.i")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	heads := localHeadNodes(cl)
	known, err := peer.Known(ctx, heads)
	if err != nil {
		t.Fatalf("known of %d heads: %v", len(heads), err)
	}
	want := map[hg.Node]bool{}
	for i, h := range heads {
		if known[i] == pruned[h] {
			t.Fatalf("known %s: %v, pruned at the source: %v", h, known[i], pruned[h])
		}
		if !pruned[h] {
			want[h] = true
		}
	}
	common, err := discover(ctx, peer, cl, heads, known, &Stats{})
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if len(common) != len(want) {
		t.Fatalf("discovery: %d common heads, want %d", len(common), len(want))
	}
	for _, n := range common {
		if !want[n] {
			t.Fatalf("discovery: common head %s is pruned at the source", n)
		}
	}
	cl.Close()

	st, stats = pull(t, srv.URL, cache, PullOptions{})
	if stats.Changesets != 1 || len(st.Heads) != 201 {
		t.Fatalf("pull: %d changesets, %d heads", stats.Changesets, len(st.Heads))
	}
	sameAsSource(t, src, cache, st)
}

// argRequest is what a request carried in X-HgArg headers.
type argRequest struct {
	cmd     string
	headers int  // X-HgArg-N headers
	longest int  // bytes of the longest of their lines, CRLF included
	gap     bool // they are not numbered 1 to headers
}

// argRecorder is a proxy in front of hg serve that records the X-HgArg
// headers of every request on their way to it.
type argRecorder struct {
	url  string
	mu   sync.Mutex
	seen []argRequest
}

func recordArgs(t *testing.T, srv *hgtest.Server) *argRecorder {
	rec := &argRecorder{}
	rec.url = hgtest.Proxy(t, srv.Base, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		req := argRequest{cmd: r.URL.Query().Get("cmd")}
		for name, vs := range r.Header {
			if strings.HasPrefix(name, "X-Hgarg-") {
				req.headers++
				for _, v := range vs {
					req.longest = max(req.longest, len(name+": "+v+"\r\n"))
				}
			}
		}
		for i := 1; i <= req.headers; i++ {
			if r.Header.Get("X-HgArg-"+strconv.Itoa(i)) == "" {
				req.gap = true
			}
		}
		rec.mu.Lock()
		rec.seen = append(rec.seen, req)
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	}) + "/"
	return rec
}

// take returns the requests recorded since the last take.
func (rec *argRecorder) take() []argRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.seen
	rec.seen = nil
	return out
}

// checkArgHeaders requires every request of reqs to have at most argHeaders X-HgArg
// headers, numbered without a gap, of lines at most limit bytes, and
// returns how many had several, by command.
func checkArgHeaders(t *testing.T, reqs []argRequest, limit int) map[string]int {
	t.Helper()
	several := map[string]int{}
	for _, r := range reqs {
		if r.headers > argHeaders || r.longest > limit || r.gap {
			t.Errorf("%s request: %d X-HgArg headers (at most %d), longest line %d bytes (at most %d), gap %v", r.cmd, r.headers, argHeaders, r.longest, limit, r.gap)
		}
		if r.headers > 1 {
			several[r.cmd]++
		}
	}
	return several
}

// TestPullHeaderLength: at hg serve's default header length (httpheader
// 1024) a cache of 3,000 heads asks known in batches of several X-HgArg
// headers, more than one batch, and getbundle's common list is cut to
// fit; every request stays within what hg serve takes (lines of at most
// 1,024 bytes, numbered from 1, at most argHeaders of them), as a proxy in
// front of it sees them. Arguments that cannot fit are refused before
// anything is sent; a 431 ends a pull at once, the cache unchanged. A
// server whose httpheader (70,000) is more than hg serve reads in one line
// (65,536; it answers 431, or the client sees a broken pipe) gets lines it
// reads.
func TestPullHeaderLength(t *testing.T) {
	t.Parallel()
	src := hgtest.NewRepo(t)
	src.Run("debugbuilddag", "+1:r"+strings.Repeat(" *r", 3000))
	src.Run("phase", "--public", "-r", "all()")
	srv := hgtest.Serve(t, src)
	rec := recordArgs(t, srv)
	cache := filepath.Join(t.TempDir(), "cache")
	st, stats := pull(t, rec.url, cache, PullOptions{})
	if stats.Changesets != 3001 || len(st.Heads) != 3000 {
		t.Fatalf("clone: %d changesets, %d heads", stats.Changesets, len(st.Heads))
	}
	checkArgHeaders(t, rec.take(), 1024)
	src.Write("a", "a\n")
	src.Commit() // a new root: 3,001 heads, 3,000 of them common
	src.Run("phase", "--public", "-r", "all()")
	st, stats = pull(t, rec.url, cache, PullOptions{})
	if stats.Changesets != 1 || len(st.Heads) != 3001 {
		t.Fatalf("pull: %d changesets, %d heads", stats.Changesets, len(st.Heads))
	}
	sameAsSource(t, src, cache, st)
	if several := checkArgHeaders(t, rec.take(), 1024); several["batch"] < 2 || several["getbundle"] != 1 {
		t.Errorf("requests of several X-HgArg headers: %v; want 2 batch or more, 1 getbundle", several)
	}

	heads := make([]hg.Node, len(st.Heads))
	for i, h := range st.Heads {
		heads[i] = h.Node
	}
	ctx, peer := dialTest(t, rec.url)
	rec.take()
	if _, err := peer.Batch(ctx, []BatchCall{{Cmd: "known", Args: map[string]string{"nodes": joinNodes(heads)}}}); !errors.Is(err, ErrArgsTooLong) {
		t.Errorf("one known call of %d nodes: %v, want ErrArgsTooLong", len(heads), err)
	}
	if _, err := peer.GetBundle(ctx, GetBundleArgs{Heads: heads, Common: heads}); !errors.Is(err, ErrArgsTooLong) {
		t.Errorf("getbundle of %d heads and common nodes: %v, want ErrArgsTooLong", len(heads), err)
	}
	if reqs := rec.take(); len(reqs) > 0 {
		t.Errorf("arguments too long were sent: %+v", reqs)
	}

	// A front that takes fewer header lines than hg serve (as a proxy
	// may) refuses the known batch: the pull ends at once with its 431,
	// the cache as it was.
	src.Commit(hgtest.WithFile("b", "b\n"))
	src.Run("phase", "--public", "-r", "all()")
	front := hgtest.Proxy(t, srv.Base, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Header.Get("X-HgArg-41") != "" {
			http.Error(w, "too many headers", http.StatusRequestHeaderFieldsTooLarge)
			return
		}
		next.ServeHTTP(w, r)
	}) + "/"
	before := storeOf(t, cache)
	pctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, _, err := Pull(pctx, front, cache, PullOptions{})
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusRequestHeaderFieldsTooLarge || time.Since(start) > 30*time.Second {
		t.Errorf("pull through a front refusing 41 headers: %v after %v, want HTTP 431 at once", err, time.Since(start))
	}
	if storeOf(t, cache) != before {
		t.Error("the refused pull changed the cache")
	}

	long := recordArgs(t, hgtest.Serve(t, src, hgtest.WithConfig("server.maxhttpheaderlen=70000")))
	if st, stats = pull(t, long.url, cache, PullOptions{}); stats.Changesets != 1 || len(st.Heads) != 3001 {
		t.Fatalf("pull: %d changesets, %d heads", stats.Changesets, len(st.Heads))
	}
	sameAsSource(t, src, cache, st)
	if several := checkArgHeaders(t, long.take(), maxHeaderLine); several["batch"] < 1 {
		t.Errorf("requests of several X-HgArg headers: %v; want a batch", several)
	}
}
