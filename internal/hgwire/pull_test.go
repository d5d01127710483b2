package hgwire

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
// changeset hg shows, its phase, bookmarks and whether it is a head.
const logTemplate = "{node} {phase} {ifcontains(rev, revset('heads(all())'), 'head', '-')} {bookmarks}\n"

// logOf lists, sorted, every changeset of dir that hg shows (with evolve:
// obsolete ones hidden).
func logOf(t testing.TB, dir string) string {
	t.Helper()
	out := hgtest.Run(t, dir, "log", "--config", "extensions.evolve=", "--config", "experimental.evolution=all", "-T", logTemplate)
	lines := strings.Split(strings.TrimSpace(out), "\n")
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
		f := strings.Fields(line)
		n := mustNode(t, f[0])
		if got := st.PhaseOf(n).String(); got != f[1] {
			t.Fatalf("state phase of %s: %s, source %s", f[0], got, f[1])
		}
		if f[2] == "head" {
			heads++
		}
		for _, bm := range f[3:] {
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

// smallSource makes a non-publishing evolve repository with branches,
// bookmarks, a copy, a rename, a large file, drafts and an amend.
func smallSource(t testing.TB) *hgtest.Repo {
	src := hgtest.NewRepo(t, hgtest.WithEvolve(), hgtest.NonPublishing())
	src.Write("a", "a\n")
	src.Commit()
	src.Write("b", "b\n")
	src.Commit(hgtest.WithBookmark("bm1"))
	src.Run("cp", "a", "with space.txt")
	src.Run("mv", "b", "Dir/B.TXT")
	src.Write("big.bin", strings.Repeat("0123456789abcdef", 12<<10)) // 192 KiB: a split revlog
	src.Commit()
	src.Run("phase", "-p", ".")
	src.Write("a", "a2\n")
	src.Commit(hgtest.WithBranch("stable"))
	src.Write("a", "a3\n")
	src.Amend()
	return src
}

func TestPullHTTPVariants(t *testing.T) {
	// One source, read by every variant; only the last one changes it.
	src := smallSource(t)
	variants := []struct {
		name string
		opts []hgtest.Option
	}{
		{"zlib", []hgtest.Option{hgtest.WithConfig("server.compressionengines=zlib")}},
		{"none", []hgtest.Option{hgtest.WithConfig("server.compressionengines=none")}},
		{"httppostargs", []hgtest.Option{hgtest.WithConfig("experimental.httppostargs=true")}},
		{"changegroup3", []hgtest.Option{hgtest.WithConfig("experimental.changegroup3=true")}},
	}
	t.Run("variants", func(t *testing.T) {
		for _, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				t.Parallel()
				opts := append([]hgtest.Option{hgtest.WithEvolve(), hgtest.NonPublishing()}, v.opts...)
				srv := hgtest.Serve(t, src, opts...)
				cache := filepath.Join(t.TempDir(), "cache")
				st, stats := pull(t, srv.URL, cache, PullOptions{})
				if stats.Changesets != 4 || len(st.Markers) != 1 {
					t.Fatalf("pull: %d changesets, markers %v; want 4 and the amend's", stats.Changesets, st.Markers)
				}
				sameAsSource(t, src, cache, st)
			})
		}
	})
	// zstd (the default), in several steps.
	srv := hgtest.Serve(t, src, hgtest.WithEvolve(), hgtest.NonPublishing(), hgtest.WithConfig("server.compressionengines=zstd"))
	cache := filepath.Join(t.TempDir(), "cache")
	st, stats := pull(t, srv.URL, cache, PullOptions{})
	if stats.Changesets != 4 {
		t.Fatalf("first pull: %d changesets, want 4", stats.Changesets)
	}
	sameAsSource(t, src, cache, st)
	src.Write("c", "c\n")
	src.Commit(hgtest.WithBookmark("bm2"))
	src.Run("bookmark", "-d", "bm1")
	src.Run("phase", "-p", ".")
	st, stats = pull(t, srv.URL, cache, PullOptions{})
	if stats.Changesets != 1 {
		t.Fatalf("second pull: %d changesets, want 1", stats.Changesets)
	}
	sameAsSource(t, src, cache, st)
	if len(st.Phases) != 0 {
		t.Fatalf("phases %v after the source made everything public", st.Phases)
	}
	// hg and the native writer work on each other's caches.
	hgCache := filepath.Join(t.TempDir(), "hgcache")
	hgtest.Run(t, "", "clone", "-q", "-U", "--", srv.URL, hgCache)
	src.Write("e", "e\n")
	src.Commit()
	st, stats = pull(t, srv.URL, hgCache, PullOptions{})
	if stats.Changesets != 1 {
		t.Fatalf("native pull into hg's clone: %d changesets", stats.Changesets)
	}
	sameAsSource(t, src, hgCache, st)
	hgtest.Run(t, cache, "pull", "-q", "--config", "extensions.evolve=", "--", srv.URL)
	verify(t, cache)
	// A no-op pull writes nothing.
	before := snapshot(t, filepath.Join(cache, ".hg", "store"))
	_, stats = pull(t, srv.URL, cache, PullOptions{})
	if stats.Changesets != 0 {
		t.Fatalf("no-op pull: %d changesets", stats.Changesets)
	}
	if fmt.Sprint(before) != fmt.Sprint(snapshot(t, filepath.Join(cache, ".hg", "store"))) {
		t.Fatal("a no-op pull changed the store")
	}
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
	src.Write("a", "a\n")
	src.Commit()
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
