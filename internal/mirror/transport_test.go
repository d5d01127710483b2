package mirror

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// noHg is a Runner whose hg does not exist: a sync that succeeds with it
// never ran hg.
func noHg() *hg.Runner { return &hg.Runner{Path: "/nonexistent/hg", Timeout: time.Minute} }

// transportPair mirrors one source twice, with the native transport (and
// no hg at all) and with the hg transport, each to its own destination.
type transportPair struct {
	t              *testing.T
	native, hgPath *Syncer
	nm, hm         Mirror
	logs           bytes.Buffer // the native syncer's
}

func newTransportPair(t *testing.T, source string, policy RefPolicy) *transportPair {
	p := &transportPair{t: t, native: newSyncer(t), hgPath: newSyncer(t)}
	p.native.Hg = noHg()
	p.native.Logger = slog.New(slog.NewTextHandler(&p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p.nm = Mirror{Name: "pair", SCM: scm.Hg, Source: source, Dest: Destination{URL: gittest.Bare(t)}, Policy: policy}
	p.hm = p.nm
	p.hm.Dest.URL = gittest.Bare(t)
	return p
}

// sync syncs both and checks that they agree: the same destination refs,
// the same source state, the same counts; and that each cache holds the
// source's state (checkCacheState, hg verify included).
func (p *transportPair) sync(step string, src *hgtest.Repo) (native, viaHg *Result) {
	t := p.t
	t.Helper()
	native, err := p.native.Sync(testCtx(t), p.nm, SyncOptions{Transport: TransportNative})
	if err != nil {
		t.Fatalf("%s: native: %v\n%s", step, err, p.logs.String())
	}
	viaHg, err = p.hgPath.Sync(testCtx(t), p.hm, SyncOptions{Transport: TransportHg})
	if err != nil {
		t.Fatalf("%s: hg: %v", step, err)
	}
	if n, h := gittest.Refs(t, p.nm.Dest.URL), gittest.Refs(t, p.hm.Dest.URL); !maps.Equal(n, h) {
		t.Errorf("%s: destination refs\nnative %v\nhg     %v", step, n, h)
	}
	a, b := comparableState(native.Source), comparableState(viaHg.Source)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s: source state\nnative %+v\nhg     %+v", step, a, b)
	}
	if native.Changesets != viaHg.Changesets || len(native.RefsUpdated) != len(viaHg.RefsUpdated) {
		t.Errorf("%s: native converted %d, updated %v; hg %d, %v", step, native.Changesets, native.RefsUpdated, viaHg.Changesets, viaHg.RefsUpdated)
	}
	if src != nil {
		checkCacheState(t, step+" (native)", p.native, p.nm, src, native)
		checkCacheState(t, step+" (hg)", p.hgPath, p.hm, src, viaHg)
	}
	if strings.Contains(p.logs.String(), "using hg") {
		t.Errorf("%s: the native transport fell back to hg:\n%s", step, p.logs.String())
	}
	return native, viaHg
}

// comparableState is st with its markers in a fixed order (each
// transport appends to the obsstore in the order it received them).
func comparableState(st *hg.SourceState) hg.SourceState {
	c := *st
	c.Markers = slices.Clone(st.Markers)
	slices.SortFunc(c.Markers, func(a, b hg.Marker) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return c
}

// TestTransportsAgree: a non-publishing source with evolve and topics
// (bookmarks, named branches, a tag, drafts), served by hg serve, is
// mirrored by the native transport without hg and by the hg transport to
// the same refs and the same source state; then pulled incrementally, then
// after rewrites (amend, prune, a topic published) and a strip.
func TestTransportsAgree(t *testing.T) {
	t.Parallel()
	opts := []hgtest.Option{hgtest.WithEvolve(), hgtest.WithTopics(), hgtest.NonPublishing()}
	src := hgtest.NewRepo(t, opts...)
	srv := hgtest.Serve(t, src, opts...)
	policy := DefaultPolicy()
	policy.Prune = true
	p := newTransportPair(t, srv.URL, policy)

	n := 0
	commit := func(opts ...hgtest.CommitOption) string {
		n++
		src.Write(fmt.Sprintf("f%d", n), fmt.Sprintf("%d\n", n))
		return src.Commit(opts...)
	}
	base := commit(hgtest.WithMessage("base"))
	src.Run("phase", "--public", "-r", base)
	a := commit(hgtest.WithBookmark("main"))
	commit(hgtest.WithParent(base), hgtest.WithBranch("stable"))
	src.Tag("v1", hgtest.WithRev(base))
	commit(hgtest.WithParent(a), hgtest.WithTopic("feat"))
	src.Run("topic", "-q", "--clear")
	src.Update("null")
	first, _ := p.sync("first sync", src)
	if first.Changesets == 0 || len(first.Source.Heads) != 2 {
		t.Errorf("first sync: %d changesets, heads %+v", first.Changesets, first.Source.Heads)
	}
	if !strings.Contains(p.logs.String(), `msg="hg cache cloned"`) || !strings.Contains(p.logs.String(), "transport=native") {
		t.Errorf("the native transport did not clone:\n%s", p.logs.String())
	}

	// Incremental: one new changeset on a bookmark.
	src.Update("main")
	commit(hgtest.WithBookmark("main"))
	src.Update("null")
	inc, _ := p.sync("incremental", src)
	if inc.Changesets != 1 {
		t.Errorf("incremental: %d changesets, want 1", inc.Changesets)
	}

	// Rewritten history: the bookmarked draft amended (main moves to a
	// non-descendant, proven by the marker), the topic amended, a draft
	// pruned.
	src.Update("main")
	src.Amend(hgtest.WithFile("a", "amended\n"))
	src.Update(src.Node("topic(feat)"))
	src.Amend(hgtest.WithFile("feat", "amended\n"))
	pruned := commit(hgtest.WithParent(base))
	src.Update("null")
	p.sync("before the prune", src)
	src.Prune(pruned)
	rw, _ := p.sync("rewrites", src)
	if len(rw.Source.Markers) < 3 || !rw.Source.Hidden[mustParse(t, hg.ParseNode, pruned)] {
		t.Errorf("rewrites: %d markers, pruned hidden %v", len(rw.Source.Markers), rw.Source.Hidden[mustParse(t, hg.ParseNode, pruned)])
	}

	// The topic published; then a changeset stripped at the source.
	src.Run("phase", "--public", "-r", "topic(feat)")
	p.sync("published", src)
	gone := commit(hgtest.WithParent(base), hgtest.WithBookmark("doomed"))
	src.Update("null")
	p.sync("before the strip", src)
	src.Run("bookmark", "-q", "-d", "doomed")
	src.Run("--config", "extensions.strip=", "strip", "-q", "--no-backup", "-r", gone)
	// Each cache keeps, hidden, what the rewrites obsoleted (hg strip
	// removes only what it is told to and its descendants; the native
	// transport carries them over to the cache it makes again).
	st, _ := p.sync("stripped", src)
	if len(st.Source.Stripped) != 1 || st.Source.Stripped[0].String() != gone {
		t.Errorf("stripped: %v, want [%s]", st.Source.Stripped, gone)
	}
	if len(st.Source.Hidden) < 3 || !st.Source.Hidden[mustParse(t, hg.ParseNode, pruned)] {
		t.Errorf("stripped: hidden %v, want the amended and pruned changesets", st.Source.Hidden)
	}
	again, _ := p.sync("nothing new", src)
	if again.Changesets != 0 || len(again.RefsUpdated) != 0 {
		t.Errorf("nothing new: %d changesets, refs %v", again.Changesets, again.RefsUpdated)
	}
}

// TestTransportNativePrivate: HTTP Basic with a token, and ssh with a key
// and known_hosts, through the native transport with no hg installed; the
// token shows in no log, and a wrong host key is a refusal of our
// credentials as with hg.
func TestTransportNativePrivate(t *testing.T) {
	t.Parallel()
	const token = "n4tive-T0KEN-value"
	srv := hgtest.Serve(t, privateRepo(t), hgtest.WithBasicAuth("alice", token), hgtest.WithSSH())
	var logs bytes.Buffer
	s := newSyncer(t)
	s.Hg = noHg()
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, tc := range []struct {
		name, source string
		auth         SourceAuth
		refused      bool
	}{
		{"https no token", srv.URL, SourceAuth{}, true},
		{"https token", srv.URL, SourceAuth{User: "alice", Token: token}, false},
		{"ssh wrong host key", srv.SSHURL, SourceAuth{SSHKey: srv.SSHKey, KnownHosts: srv.WrongKnownHosts(t)}, true},
		{"ssh", srv.SSHURL, SourceAuth{SSHKey: srv.SSHKey, KnownHosts: srv.KnownHosts}, false},
	} {
		m := hgMirror("private-"+strings.ReplaceAll(tc.name, " ", "-"), tc.source, gittest.Bare(t))
		m.SourceAuth = tc.auth
		_, err := s.Sync(testCtx(t), m, SyncOptions{})
		if tc.refused {
			if ClassOf(err) != BadRequest || !strings.Contains(fmt.Sprint(err), "source refused our credentials") {
				t.Errorf("%s: %v (class %v), want a 400 \"source refused our credentials\"", tc.name, err, ClassOf(err))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if gittest.Refs(t, m.Dest.URL)["refs/heads/main"] == "" {
			t.Errorf("%s: main not mirrored", tc.name)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token shows in the logs")
	}
}

// treeSource is a served repository with tree manifests, which the native
// transport does not write (hg can).
func treeSource(t *testing.T) *hgtest.Server {
	repo := hgtest.InitAt(t, filepath.Join(t.TempDir(), "tree"), hgtest.WithConfig("experimental.treemanifest=1"))
	repo.Commit(hgtest.WithMessage("tree"), hgtest.WithBookmark("main"), hgtest.WithFile("dir/a", "1\n"))
	return hgtest.Serve(t, repo)
}

// narrowSource is a served repository whose [narrowacl] makes hg serve
// send every client only dir "inc", with a mandatory Narrow:responsespec
// part saying so; hg with the narrow extension clones it (as a narrow
// repository), the native transport does not.
func narrowSource(t *testing.T) *hgtest.Server {
	repo := hgtest.NewRepo(t)
	repo.Commit(hgtest.WithMessage("narrow"), hgtest.WithBookmark("main"), hgtest.WithFile("inc/a", "1\n"), hgtest.WithFile("exc/b", "1\n"))
	return hgtest.Serve(t, repo, hgtest.WithConfig("extensions.narrow=", "narrowacl.default.includes=inc"))
}

// lfsSource is a served repository with the lfs requirement whose file
// revisions are LFS pointers (revlog flag 0x2000, the contents in the
// blob store), as hg serve gives them with its lfs extension (loaded for
// the requirement); hg clones it (likewise), the native transport does
// not.
func lfsSource(t *testing.T) *hgtest.Server {
	repo := hgtest.NewRepo(t)
	repo.Write("blob.bin", lfsContent)
	repo.Commit(hgtest.WithMessage("lfs"), hgtest.WithBookmark("main"),
		hgtest.WithArgs("--config", "extensions.lfs=", "--config", "lfs.track=all()"))
	if req := repo.Run("debugrequires"); !strings.Contains(req, "\nlfs\n") {
		t.Fatalf("the source has no lfs requirement:\n%s", req)
	}
	if data := repo.Run("debugdata", "blob.bin", "0"); !strings.HasPrefix(data, "version https://git-lfs.github.com/spec/v1\n") {
		t.Fatalf("the file revision is no LFS pointer: %q", data)
	}
	return hgtest.Serve(t, repo)
}

// lfsContent is the file lfsSource stores outside its revlog.
const lfsContent = "stored as an LFS blob\n"

// unknownPartSource is hg serve behind a proxy that answers the native
// transport's getbundle (told apart by its User-Agent) with a bundle whose
// only part is mandatory and of a type nobody knows, as a server extension
// would send to clients with that extension; hg's requests pass through.
func unknownPartSource(t *testing.T) string {
	repo := hgtest.NewRepo(t)
	repo.Commit(hgtest.WithMessage("unknown part"), hgtest.WithBookmark("main"), hgtest.WithFile("a", "1\n"))
	srv := hgtest.Serve(t, repo)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var bundle bytes.Buffer
	bundle.WriteString("HG20\x00\x00\x00\x00")
	const typ = "Test:unknown"
	header := append([]byte{byte(len(typ))}, typ...)
	header = append(header, 0, 0, 0, 0, 0, 0) // part id, no parameters
	binary.Write(&bundle, binary.BigEndian, int32(len(header)))
	bundle.Write(header)
	bundle.Write(make([]byte, 8)) // the part's end, the bundle's end
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cmd") == "getbundle" && strings.Contains(r.UserAgent(), "hgwire") {
			w.Header().Set("Content-Type", "application/mercurial-0.2")
			io.WriteString(w, "\x04none")
			w.Write(bundle.Bytes())
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL + "/"
}

// TestTransportFallback: a source with tree manifests, one that serves a
// narrowed history, one whose files are LFS pointers and one that sends an
// unknown mandatory bundle2 part are pulled with hg, with one log line
// naming the reason, every time; a local path likewise; with no hg
// installed the sync fails (Internal) with that reason. hg's LFS cache
// gives the file's contents (from the source's blob store).
func TestTransportFallback(t *testing.T) {
	t.Parallel()
	srv := treeSource(t)
	local := newHgRepo(t)
	local.commit("a", "1\n", "local")
	for _, tc := range []struct {
		name, source, reason, tip string
		hgConfig                  []string
	}{
		{"treemanifest", srv.URL, "treemanifest", "tree", nil},
		{"narrow", narrowSource(t).URL, "narrow", "narrow", []string{"extensions.narrow="}},
		{"lfs", lfsSource(t).URL, "capability lfs", "lfs", nil},
		{"unknown-part", unknownPartSource(t), "mandatory bundle2 part Test:unknown", "unknown part", nil},
		{"local", local.root, "a local repository", "local", nil},
	} {
		var logs bytes.Buffer
		s := newSyncer(t)
		// hg 6.3 needs changegroup3 for tree manifests.
		s.Hg.Config = append([]string{"experimental.changegroup3=yes"}, tc.hgConfig...)
		s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		m := hgMirror("fallback-"+tc.name, tc.source, gittest.Bare(t))
		root := s.HgRoot(m.Name)
		for i := 1; i <= 2; i++ {
			logs.Reset()
			// The cache is hg's whatever the converter then makes of it
			// (the native one does not read tree manifests either).
			_, err := s.hgSource(testCtx(t), m, filepath.Join(s.CacheDir, m.Name), root, TransportNative, s.Logger)
			if err != nil {
				t.Fatalf("%s, sync %d: %v", tc.name, i, err)
			}
			var lines []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "using hg") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "reason=") || !strings.Contains(lines[0], tc.reason) {
				t.Errorf("%s, sync %d: fallback log lines %q, want one naming %q", tc.name, i, lines, tc.reason)
			}
			var args []string
			for _, c := range tc.hgConfig {
				args = append(args, "--config", c)
			}
			if got := strings.TrimSpace(hgtest.Run(t, root, append(args, "log", "-r", "tip", "-T", "{desc}")...)); got != tc.tip {
				t.Errorf("%s, sync %d: the cache's tip is %q, want %q", tc.name, i, got, tc.tip)
			}
			if tc.name == "lfs" {
				if got := hgtest.Run(t, root, "cat", "-r", "tip", "blob.bin"); got != lfsContent {
					t.Errorf("lfs, sync %d: hg cat of the cache gives %q, want %q", i, got, lfsContent)
				}
			}
		}

		s2 := newSyncer(t)
		s2.Hg = noHg()
		_, err := s2.Sync(testCtx(t), m, SyncOptions{})
		if ClassOf(err) != Internal || !errors.Is(err, hg.ErrNotInstalled) || !strings.Contains(fmt.Sprint(err), tc.reason) {
			t.Errorf("%s without hg: %v (class %v), want an Internal error naming %q and hg.ErrNotInstalled", tc.name, err, ClassOf(err), tc.reason)
		}
	}
}

// TestNativeBrokenConnection: a front that breaks the connection on a
// request with arguments instead of answering it, as hg serve does a
// header line over 64 KiB as often as it answers 431 (closed before an
// answer: the HTTP client's EOF; reset; Python's http.server closes
// without reading the rest, the client then sees a broken pipe or a
// reset), fails the sync with a Transient error, as the hg transport
// classes "connection reset", "broken pipe" and a socket error; the 431
// itself is no network failure (Internal, as hg's "HTTP Error 431").
// Neither falls back to hg.
func TestNativeBrokenConnection(t *testing.T) {
	t.Parallel()
	repo := hgtest.NewRepo(t)
	repo.Write("a", "1\n")
	repo.Commit(hgtest.WithMessage("one"), hgtest.WithBookmark("main"))
	srv := hgtest.Serve(t, repo)
	for _, tc := range []struct {
		name  string
		front func(w http.ResponseWriter)
		want  Class
	}{
		{"closed", func(w http.ResponseWriter) { hijack(t, w).Close() }, Transient},
		{"reset", func(w http.ResponseWriter) {
			c := hijack(t, w)
			if tcp, ok := c.(*net.TCPConn); ok {
				tcp.SetLinger(0) // close with a RST
			}
			c.Close()
		}, Transient},
		{"431", func(w http.ResponseWriter) {
			http.Error(w, "Line too long", http.StatusRequestHeaderFieldsTooLarge)
		}, Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var broken atomic.Int32
			front := hgtest.Proxy(t, srv.Base, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if r.Header.Get("X-HgArg-1") != "" {
					broken.Add(1)
					tc.front(w)
					return
				}
				next.ServeHTTP(w, r)
			})
			s := newSyncer(t)
			s.Hg = noHg()
			m := hgMirror("broken", front+"/", gittest.Bare(t))
			_, err := s.nativeCache(testCtx(t), m, filepath.Join(s.CacheDir, "broken"), s.HgRoot("broken"), slog.New(slog.DiscardHandler))
			if broken.Load() == 0 {
				t.Fatalf("no request with arguments reached the front (%v)", err)
			}
			if _, ok := needsHg(err); ok || ClassOf(err) != tc.want {
				t.Errorf("%v: class %v, needsHg %v; want %v, no fallback", err, ClassOf(err), ok, tc.want)
			}
		})
	}
}

// hijack takes the connection of w from the HTTP server.
func hijack(t *testing.T, w http.ResponseWriter) net.Conn {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return nil
	}
	return c
}

// TestNeedsHg: the decision on a real error of each kind.
func TestNeedsHg(t *testing.T) {
	t.Parallel()
	s := newSyncer(t)
	s.Hg = noHg()
	m := hgMirror("needs", treeSource(t).URL, gittest.Bare(t))
	_, err := s.nativeCache(testCtx(t), m, filepath.Join(s.CacheDir, "needs"), s.HgRoot("needs"), slog.New(slog.DiscardHandler))
	if reason, ok := needsHg(err); !ok || !strings.Contains(reason, "treemanifest") {
		t.Errorf("tree manifests: needsHg(%v) = %q, %v", err, reason, ok)
	}
	m.Source = "http://" + hgtest.ClosedAddr(t) + "/"
	_, err = s.nativeCache(testCtx(t), m, filepath.Join(s.CacheDir, "needs"), s.HgRoot("needs"), slog.New(slog.DiscardHandler))
	if _, ok := needsHg(err); ok || ClassOf(err) != Transient {
		t.Errorf("a server that is down: %v: needsHg %v, class %v; want no fallback, transient", err, ok, ClassOf(err))
	}
}
