package hgwire

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// endpoint is one server of a followed source: its options, and whether
// the source is followed through it over HTTP, over ssh (hg serve --stdio
// through OpenSSH, with the same options) or both.
type endpoint struct {
	serve     []hgtest.Option
	http, ssh bool
}

// following is a source the tests serve and change: its servers (the
// first way of the first server is checked in full, every other must give
// the same cache and state) and the changes made to it between pulls.
type following struct {
	endpoints []endpoint
	steps     []func(src *hgtest.Repo)
}

// target is one native cache following the source through one URL.
type target struct {
	url   string
	opts  PullOptions
	cache string
}

// hgArgs are the options of every hg client command of these tests: evolve,
// so that hg exchanges markers and hides what they obsolete, as the native
// transport does.
var hgArgs = []string{"--config", "extensions.evolve=", "--config", "experimental.evolution=all", "--config", "extensions.strip="}

// follow serves src and pulls it before its first change and after each:
// natively through every endpoint, and with hg into a reference cache, as
// the hg transport does (cloning, then stripping first what the source
// stripped, and moving back to draft what the source did; over the first
// server's HTTP URL). Each time the first native cache passes hg verify
// and matches the source and the returned state (sameAsSource), holds the
// markers and the changesets of the reference, hidden ones included, in
// the same phases (sameHidden), and converting it and the reference gives
// the same map, byte for byte; every other native cache is that cache byte
// for byte, with the same state. At the end a native pull is a no-op that
// writes nothing, and hg pulls into the native cache (which must verify
// again if that changed its store).
func follow(t *testing.T, src *hgtest.Repo, f following) {
	t.Helper()
	dir := t.TempDir()
	var targets []target
	var refURL string
	for _, e := range f.endpoints {
		opts := e.serve
		if e.ssh {
			opts = append(opts[:len(opts):len(opts)], hgtest.WithSSH())
		}
		srv := hgtest.Serve(t, src, opts...)
		if refURL == "" {
			refURL = srv.URL
		}
		cache := func() string { return filepath.Join(dir, "native"+strconv.Itoa(len(targets))) }
		if e.http {
			targets = append(targets, target{url: srv.URL, cache: cache()})
		}
		if e.ssh {
			var opts PullOptions
			opts.SSHCommand = strings.Fields(srv.SSHCommand(srv.KnownHosts))
			targets = append(targets, target{url: srv.SSHURL, opts: opts, cache: cache()})
		}
	}
	native, ref := targets[0], filepath.Join(dir, "ref")
	var want string // the native cache's store after the last step
	for i := 0; i <= len(f.steps); i++ {
		if i > 0 {
			f.steps[i-1](src)
		}
		st, _ := pull(t, native.url, native.cache, native.opts)
		if i == 0 {
			hgtest.Run(t, "", append(hgArgs, "clone", "-q", "-U", "--", refURL, ref)...)
		} else {
			if len(st.Stripped) > 0 {
				strip := append(hgArgs, "strip", "-q", "--no-backup")
				for _, n := range st.Stripped {
					strip = append(strip, "-r", n.String())
				}
				hgtest.Run(t, ref, strip...)
			}
			hgtest.Run(t, ref, append(hgArgs, "pull", "-q", "--", refURL)...)
		}
		demote(t, ref, refURL)
		sameAsSource(t, src, native.cache, st)
		sameMarkers(t, native.cache, ref)
		sameHidden(t, native.cache, ref, st)
		sameMaps(t, native.cache, ref)
		want = storeOf(t, native.cache)
		for _, o := range targets[1:] {
			got, _ := pull(t, o.url, o.cache, o.opts)
			if s := storeOf(t, o.cache); s != want {
				t.Fatalf("step %d: the cache through %s differs from the one through %s:\n%s:\n%s\n%s:\n%s", i, o.url, native.url, native.url, want, o.url, s)
			}
			if !reflect.DeepEqual(got, st) {
				t.Fatalf("step %d: the state through %s differs from the one through %s:\n%+v\n%+v", i, o.url, native.url, got, st)
			}
		}
	}
	if _, stats := pull(t, native.url, native.cache, native.opts); stats.Changesets != 0 || storeOf(t, native.cache) != want {
		t.Fatalf("a no-op pull pulled %d changesets or changed the store", stats.Changesets)
	}
	hgtest.Run(t, native.cache, append(hgArgs, "pull", "-q", "--", refURL)...)
	if storeOf(t, native.cache) != want {
		verify(t, native.cache) // hg wrote to the store (the last step verified it as it was)
	}
}

// sameHidden requires the native cache to hold what hg keeps in ref,
// hidden changesets included, each in the phase hg has it in (and the
// same phaseroots file), and the state to list as hidden those hg hides.
func sameHidden(t *testing.T, native, ref string, st *hg.SourceState) {
	t.Helper()
	all := func(dir string) []string {
		out := hgtest.Run(t, dir, append(hgArgs, "log", "--hidden", "-T", "{node} {phase}\n")...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		sort.Strings(lines)
		return lines
	}
	want := all(ref)
	if got := all(native); !reflect.DeepEqual(want, got) {
		t.Fatalf("changesets and phases, hidden ones included, differ:\nhg pull:\n%s\nnative:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	// The phases as hg stores them, byte for byte (a missing file is
	// an empty one).
	if want, got := readOptional(t, filepath.Join(ref, ".hg", "store", "phaseroots")), readOptional(t, filepath.Join(native, ".hg", "store", "phaseroots")); !bytes.Equal(want, got) {
		t.Fatalf("phaseroots differ:\nhg pull: %q\nnative: %q", want, got)
	}
	visible := map[string]bool{}
	for _, n := range strings.Fields(hgtest.Run(t, ref, append(hgArgs, "log", "-T", "{node}\n")...)) {
		visible[n] = true
	}
	hidden := 0
	for _, line := range want {
		if n, _, _ := strings.Cut(line, " "); !visible[n] {
			hidden++
			if !st.Hidden[mustNode(t, n)] {
				t.Fatalf("hg hides %s; the state does not", n)
			}
		}
	}
	if hidden != len(st.Hidden) {
		t.Fatalf("hg hides %d changesets; the state %d", hidden, len(st.Hidden))
	}
}

// readOptional reads path; a missing file reads as empty.
func readOptional(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return b
}

// sameMarkers requires the native cache to hold the obsolescence markers
// hg pulled into ref.
func sameMarkers(t *testing.T, native, ref string) {
	t.Helper()
	if !hasMarkers(t, native) && !hasMarkers(t, ref) {
		return // neither has an obsstore with a marker: nothing to list
	}
	if want, got := markers(t, ref), markers(t, native); want != got {
		t.Fatalf("markers differ:\nhg pull:\n%s\nnative:\n%s", want, got)
	}
}

// hasMarkers reports whether the cache's obsstore holds more than its
// version byte.
func hasMarkers(t *testing.T, cache string) bool {
	t.Helper()
	fi, err := os.Stat(filepath.Join(cache, ".hg", "store", "obsstore"))
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size() > 1
}

// markers lists the cache's obsolescence markers, sorted.
func markers(t testing.TB, cache string) string {
	t.Helper()
	lines := strings.Split(hgtest.Run(t, cache, append(hgArgs, "debugobsolete")...), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// storeOf lists the cache's store and bookmarks: every file and its
// digest, sorted.
func storeOf(t *testing.T, cache string) string {
	t.Helper()
	var lines []string
	for p, sum := range snapshot(t, filepath.Join(cache, ".hg", "store")) {
		lines = append(lines, strings.TrimPrefix(p, cache)+" "+sum)
	}
	if b, err := os.ReadFile(filepath.Join(cache, ".hg", "bookmarks")); err == nil {
		lines = append(lines, "bookmarks "+string(b))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// sameMaps converts the native cache and the reference (incrementally, from
// their last conversion, at the same time) and requires the same map, byte
// for byte.
func sameMaps(t *testing.T, native, ref string) {
	t.Helper()
	// Generous: under -race on a loaded machine a corpus conversion takes
	// minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dirs := [2]string{native, ref}
	var maps [2][]byte
	var errs [2]error
	var wg sync.WaitGroup
	for i, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errs[i] = (&convert.Native{}).Convert(ctx, dir, convert.Options{}); errs[i] == nil {
				maps[i], errs[i] = os.ReadFile(convert.MapPath(dir))
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("convert %s: %v", dirs[i], err)
		}
	}
	if !bytes.Equal(maps[0], maps[1]) {
		t.Fatalf("maps differ: native %d bytes, hg %d bytes", len(maps[0]), len(maps[1]))
	}
}

// growing serves the history of origin in parts: a clone of it up to the
// first of revs (revision numbers of origin), then pulled up to each next
// one, then all of it.
func growing(t *testing.T, origin *hgtest.Repo, revs ...int) (*hgtest.Repo, []func(*hgtest.Repo)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "served")
	hgtest.Run(t, "", "clone", "-q", "-U", "-r", strconv.Itoa(revs[0]), "--", origin.Dir, dir)
	var steps []func(*hgtest.Repo)
	for _, rev := range append(revs[1:], -1) {
		args := []string{"pull", "-q"}
		if rev >= 0 {
			args = append(args, "-r", strconv.Itoa(rev))
		}
		args = append(args, "--", origin.Dir)
		steps = append(steps, func(src *hgtest.Repo) { src.Run(args...) })
	}
	return hgtest.Open(t, dir), steps
}

// tipRev is the revision number of origin's tip (read from its changelog:
// one hg command less per repository).
func tipRev(t *testing.T, origin *hgtest.Repo) int {
	t.Helper()
	r, err := hg.Open(origin.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Changelog().Len() - 1
}

// TestCorpus serves flask in two parts over HTTP and click in three over
// ssh. The two run one after the other in one parallel slot, started
// first (they take longest; subtests marked parallel would queue behind
// those of the other tests).
func TestCorpus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		parts int
		via   endpoint
	}{{"flask.hg", 2, endpoint{http: true}}, {"click.hg", 3, endpoint{ssh: true}}} {
		t.Run(strings.TrimSuffix(c.name, ".hg"), func(t *testing.T) {
			origin := hgtest.Unbundle(t, c.name)
			var revs []int
			for i := 1; i < c.parts; i++ {
				revs = append(revs, tipRev(t, origin)*i/c.parts)
			}
			src, steps := growing(t, origin, revs...)
			follow(t, src, following{endpoints: []endpoint{c.via}, steps: steps})
		})
	}
}

// conformanceOverSSH are the conformance repositories followed over ssh as
// well as HTTP (the others over HTTP only): odd bookmark names, store paths
// and many files through the ssh framing.
var conformanceOverSSH = map[string]bool{"bookmarks": true, "store-encoding": true, "many-files": true}

// TestConformanceRepos serves every conformance repository of hgtest in two
// parts, over HTTP, and some over ssh too.
func TestConformanceRepos(t *testing.T) {
	t.Parallel()
	overSSH := 0
	for _, tc := range hgtest.ConformanceRepos {
		via := endpoint{http: true, ssh: conformanceOverSSH[tc.Name]}
		if via.ssh {
			overSSH++
		}
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			origin := hgtest.NewScript(t, tc.Init...)
			tc.Build(origin)
			src, steps := growing(t, origin.Repo, tipRev(t, origin.Repo)/2)
			follow(t, src, following{endpoints: []endpoint{via}, steps: steps})
		})
	}
	if overSSH != len(conformanceOverSSH) {
		t.Fatalf("%d of the conformance repositories to follow over ssh exist, want %d", overSSH, len(conformanceOverSSH))
	}
}

// TestServerVariants follows the small source (branches, bookmarks, a copy,
// a rename, a file over 128 KiB, drafts and an amend) through changes of
// each kind.
//
// "wire": from one source, served in every way at once: zstd, zlib and no
// compression, each with httppostargs off and on, and changegroup 3 over
// HTTP and ssh; the source's own hgrc has neither evolve's exchange nor
// drafts, so that the ssh server must get them from the kit. It grows,
// then exchanges phases and markers (amends, a prune, drafts published, a
// public changeset made draft again), then strips its tip and rewrites
// what was below it, publishes that, and makes it draft again as it
// rewrites it once more (hidden at the source, public in the cache).
//
// "files": split (non-inline) revlogs (the big file changes, a second one
// starts over 128 KiB, an inline one grows past it), then renames and
// copies.
func TestServerVariants(t *testing.T) {
	t.Parallel()
	base := smallSource(t)
	evolve := []hgtest.Option{hgtest.WithEvolve(), hgtest.NonPublishing()}
	served := func(settings ...string) []hgtest.Option {
		return append([]hgtest.Option{hgtest.WithConfig(settings...)}, evolve...)
	}
	variants := []struct {
		name      string
		source    []hgtest.Option // the source's own hgrc
		endpoints []endpoint
		steps     []func(*hgtest.Repo)
	}{
		{name: "wire", source: []hgtest.Option{hgtest.WithEvolve()}, endpoints: []endpoint{
			{serve: served("server.compressionengines=zstd"), http: true},
			{serve: served("server.compressionengines=zlib"), http: true},
			{serve: served("server.compressionengines=none"), http: true},
			{serve: served("server.compressionengines=zstd", "experimental.httppostargs=true"), http: true},
			{serve: served("server.compressionengines=zlib", "experimental.httppostargs=true"), http: true},
			{serve: served("server.compressionengines=none", "experimental.httppostargs=true"), http: true},
			{serve: served("experimental.changegroup3=true"), http: true, ssh: true},
		}, steps: []func(*hgtest.Repo){
			func(src *hgtest.Repo) {
				src.Commit(hgtest.WithBookmark("bm2"), hgtest.WithFile("c", "c\n"))
				src.Run("bookmark", "-d", "bm1")
			},
			func(src *hgtest.Repo) {
				src.Amend(hgtest.WithFile("a", "a4\n"))
				src.Commit(hgtest.WithFile("d", "d\n"))
			},
			func(src *hgtest.Repo) {
				src.Prune(".")
				src.Run("phase", "-p", "stable")
			},
			func(src *hgtest.Repo) { src.Run("phase", "-q", "--force", "--draft", "-r", "1") },
			func(src *hgtest.Repo) {
				src.Commit(hgtest.WithFile("e", "e\n"))
				src.Commit(hgtest.WithFile("f", "f\n"))
			},
			func(src *hgtest.Repo) {
				src.Run(append(hgArgs, "strip", "-q", "--no-backup", "-r", "tip")...)
			},
			func(src *hgtest.Repo) {
				src.Update("tip")
				src.Amend(hgtest.WithFile("e", "e rewritten\n"))
			},
			func(src *hgtest.Repo) { src.Run("phase", "-p", "tip") },
			func(src *hgtest.Repo) {
				// Only the source's draft roots say that the changeset
				// the cache has public, now hidden, is a draft.
				src.Run("phase", "-q", "--force", "--draft", "-r", "tip")
				src.Amend(hgtest.WithFile("e", "e rewritten again\n"))
			},
		}},
		{name: "files", source: evolve, endpoints: []endpoint{{serve: evolve, http: true}}, steps: []func(*hgtest.Repo){
			func(src *hgtest.Repo) {
				src.Commit(hgtest.WithFile("big.bin", strings.Repeat("fedcba9876543210", 12<<10)), hgtest.WithFile("big2.bin", strings.Repeat("0123456789", 20<<10)))
			},
			func(src *hgtest.Repo) {
				src.Commit(hgtest.WithFile("a", strings.Repeat("line of a\n", 20<<10)), hgtest.WithFile("big.bin", strings.Repeat("x", 300<<10)))
			},
			func(src *hgtest.Repo) {
				src.Run("mv", "Dir/B.TXT", "moved/b again.txt")
				src.Run("cp", "big.bin", "big copy.bin")
				src.Commit()
			},
			func(src *hgtest.Repo) {
				src.Run("mv", "big copy.bin", "big moved.bin")
				src.Write("big moved.bin", strings.Repeat("changed ", 20<<10))
				src.Run("cp", "a", "a copy")
				src.Commit()
			},
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			src := base.Clone(t, v.source...)
			src.Update("tip")
			follow(t, src, following{endpoints: v.endpoints, steps: v.steps})
		})
	}
}

// demote moves back to draft in the reference cache what the source has
// as drafts and the cache as public, as the hg transport does after a pull
// (a pull alone never makes a public changeset draft).
func demote(t *testing.T, ref, url string) {
	t.Helper()
	var args []string
	for _, line := range strings.Split(hgtest.Run(t, "", append(hgArgs, "debugpushkey", "--", url, "phases")...), "\n") {
		k, v, _ := strings.Cut(line, "\t")
		if v != "1" {
			continue
		}
		if out, err := hgtest.RunErr(ref, append(hgArgs, "log", "--hidden", "-r", k, "-T", "{phase}")...); err == nil && out == "public" {
			args = append(args, "-r", k)
		}
	}
	if len(args) > 0 {
		hgtest.Run(t, ref, append(append(hgArgs, "phase", "--force", "--draft"), args...)...)
	}
}
