package mirror

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/scm"
)

func TestSyncHgIncremental(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	src := newHgRepo(t)
	src.commit("a.txt", "one\n", "first")
	src.commit("b.txt", "two\n", "second")
	dest := gittest.Bare(t)
	s := newSyncer(t)
	m := hgMirror("inc", src.root, dest)

	res, err := s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changesets != 2 {
		t.Errorf("first sync: Changesets = %d, want 2", res.Changesets)
	}
	refs := gittest.Refs(t, dest)
	if len(res.RefsUpdated) != 1 || res.RefsUpdated[0].Ref != "refs/heads/master" || !res.RefsUpdated[0].Old.IsZero() ||
		res.RefsUpdated[0].New.String() != refs["refs/heads/master"] {
		t.Errorf("first sync: RefsUpdated = %+v, destination %v", res.RefsUpdated, refs)
	}
	if got := subjects(t, dest, "master"); got != "second\nfirst\n" {
		t.Errorf("destination log = %q", got)
	}
	// A file in the cache proves the next sync pulls rather than clones.
	root := s.HgRoot("inc")
	marker := filepath.Join(root, ".hg", "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	first := refs["refs/heads/master"]

	src.commit("a.txt", "one more\n", "third")
	var progress [][2]int
	res, err = s.Sync(ctx, m, SyncOptions{Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changesets != 1 {
		t.Errorf("second sync: Changesets = %d, want 1", res.Changesets)
	}
	checkSteps(t, res, StepPull, StepConvert, StepPush)
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("hg cache was cloned again, not pulled: %v", err)
	}
	refs = gittest.Refs(t, dest)
	want := []RefUpdate{{Ref: "refs/heads/master", Old: mustParse(t, git.ParseHash, first), New: mustParse(t, git.ParseHash, refs["refs/heads/master"])}}
	if fmt.Sprint(res.RefsUpdated) != fmt.Sprint(want) {
		t.Errorf("second sync: RefsUpdated = %+v, want %+v", res.RefsUpdated, want)
	}
	if len(progress) == 0 || progress[len(progress)-1][0] != progress[len(progress)-1][1] {
		t.Errorf("progress = %v, want it to end at total", progress)
	}
	if got := subjects(t, dest, "master"); got != "third\nsecond\nfirst\n" {
		t.Errorf("destination log = %q", got)
	}
	mapData, err := os.ReadFile(filepath.Join(root, ".hg", "git-mapfile"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(mapData), "\n"); n != 3 {
		t.Errorf("git-mapfile has %d lines, want 3:\n%s", n, mapData)
	}

	res, err = s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changesets != 0 || len(res.RefsUpdated) != 0 {
		t.Errorf("third sync did something: %+v", res)
	}
}

// hgPolicyRepo has two bookmarks, a named branch and a tag.
func hgPolicyRepo(t *testing.T) *hgRepo {
	src := newHgRepo(t)
	src.commit("a", "1\n", "base")
	src.Run("bookmark", "--rev", ".", "stable")
	src.Run("tag", "-d", "1600000000 0", "-m", "tag v1.0", "v1.0")
	src.Run("branch", "release")
	src.commit("r", "1\n", "on release")
	src.Run("bookmark", "--rev", ".", "feature")
	return src
}

func TestSyncPolicy(t *testing.T) {
	t.Parallel()
	src := hgPolicyRepo(t)
	nobm := newHgRepo(t)
	nobm.commit("a", "1\n", "base")
	nobm.Run("tag", "-d", "1600000000 0", "-m", "tag it", "v2")

	tests := []struct {
		name   string
		src    *hgRepo
		policy RefPolicy
		want   []string
	}{
		{"bookmarks to branches", src, RefPolicy{TipBranch: "master", Tags: true}, []string{"refs/heads/feature", "refs/heads/stable", "refs/tags/v1.0"}},
		{"no tags", src, RefPolicy{}, []string{"refs/heads/feature", "refs/heads/stable"}},
		{"named branches", src, RefPolicy{NamedBranches: true}, []string{"refs/heads/branches/default", "refs/heads/branches/release", "refs/heads/feature", "refs/heads/stable"}},
		{"globs", src, RefPolicy{Tags: true, NamedBranches: true, Refs: []string{"refs/heads/stable", "refs/tags/*"}}, []string{"refs/heads/stable", "refs/tags/v1.0"}},
		{"tip to master", nobm, DefaultPolicy(), []string{"refs/heads/master", "refs/tags/v2"}},
		{"tip to main", nobm, RefPolicy{TipBranch: "main"}, []string{"refs/heads/main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, dest, s := newSync(t)
			m := hgMirror("policy", tt.src.root, dest)
			m.Policy = tt.policy
			res, err := s.Sync(ctx, m, SyncOptions{})
			if err != nil {
				t.Fatal(err)
			}
			refs := gittest.Refs(t, dest)
			got := sortedKeys(refs)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("destination refs = %v, want %v", got, tt.want)
			}
			if len(res.RefsUpdated) != len(tt.want) {
				t.Errorf("RefsUpdated = %+v, want %d", res.RefsUpdated, len(tt.want))
			}
			for _, u := range res.RefsUpdated {
				if refs[u.Ref] != u.New.String() {
					t.Errorf("RefsUpdated %s = %s, destination has %s", u.Ref, u.New, refs[u.Ref])
				}
			}
		})
	}
}

func TestSyncBookmarkCommits(t *testing.T) {
	t.Parallel()
	src := hgPolicyRepo(t)
	ctx, dest, s := newSync(t)
	if _, err := s.Sync(ctx, hgMirror("bm", src.root, dest), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// The bookmark's commit is the converted changeset it names.
	if got := subjects(t, dest, "-1", "feature"); !strings.HasPrefix(got, "on release") {
		t.Errorf("feature = %q, want the release changeset", got)
	}
	if got := subjects(t, dest, "-1", "stable"); got != "base\n" {
		t.Errorf("stable = %q, want base", got)
	}
}

func TestSyncDivergence(t *testing.T) {
	t.Parallel()
	ctx, src, dest, s := baseSync(t)
	var logs bytes.Buffer
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := hgMirror("div", src.root, dest)
	if _, err := s.Sync(ctx, m, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// Someone pushes a commit unrelated to the source.
	tree := strings.TrimSpace(gittest.Run(t, "", "--git-dir="+dest, "rev-parse", "master^{tree}"))
	other := strings.TrimSpace(gittest.Run(t, "", "--git-dir="+dest, "commit-tree", "-m", "elsewhere", tree))
	gittest.Run(t, "", "--git-dir="+dest, "update-ref", "refs/heads/master", other)
	src.commit("a", "2\n", "next")

	_, err := s.Sync(ctx, m, SyncOptions{JobID: 42})
	if !errors.Is(err, ErrDiverged) || ClassOf(err) != BadRequest || ClassOf(err).Retry() {
		t.Fatalf("Sync after divergence = %v (class %v), want a BadRequest divergence", err, ClassOf(err))
	}
	if !strings.Contains(err.Error(), "refs/heads/master") {
		t.Errorf("error %q does not name the ref", err)
	}
	if got := gittest.Refs(t, dest)["refs/heads/master"]; got != other {
		t.Errorf("destination master moved to %s despite divergence", got)
	}
	if !strings.Contains(logs.String(), "mirror=div job=42") {
		t.Errorf("logs lack the mirror attribute:\n%s", logs.String())
	}

	m.Policy.Force = true
	res, err := s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatalf("forced sync: %v", err)
	}
	if len(res.RefsUpdated) != 1 || res.RefsUpdated[0].Old.String() != other {
		t.Errorf("forced sync: RefsUpdated = %+v, want master from %s", res.RefsUpdated, other)
	}
	if got := subjects(t, dest, "-1", "master"); got != "next\n" {
		t.Errorf("destination master after force = %q", got)
	}
}

func TestSyncRecloneDamagedCache(t *testing.T) {
	t.Parallel()
	ctx, src, dest, s := baseSync(t)
	// What an interrupted clone without the temporary name would leave.
	root := s.HgRoot("damaged")
	if err := os.MkdirAll(filepath.Join(root, ".hg"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := s.Sync(ctx, hgMirror("damaged", src.root, dest), SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changesets != 1 || gittest.Refs(t, dest)["refs/heads/master"] == "" {
		t.Errorf("sync over a damaged cache: %+v, refs %v", res, gittest.Refs(t, dest))
	}
	// A leftover partial clone is cleared too.
	if err := os.MkdirAll(filepath.Join(s.CacheDir, "damaged", "hg.partial", ".hg"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(root)
	if _, err := s.Sync(ctx, hgMirror("damaged", src.root, dest), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestSyncConcurrent(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	src := newHgRepo(t)
	for i := range 5 {
		src.commit("f", fmt.Sprint(i), fmt.Sprint("c", i))
	}
	dest := gittest.Bare(t)
	s := newSyncer(t)
	m := hgMirror("conc", src.root, dest)
	var wg sync.WaitGroup
	var converted atomic.Int64
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Sync(ctx, m, SyncOptions{})
			if err != nil {
				errs <- err
				return
			}
			converted.Add(int64(res.Changesets))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if converted.Load() != 5 {
		t.Errorf("changesets converted across concurrent syncs = %d, want 5 (each once)", converted.Load())
	}
}

func TestSyncErrors(t *testing.T) {
	t.Parallel()
	src := newHgRepo(t)
	src.commit("a", "1\n", "base")
	notHg := t.TempDir()
	closed := hgtest.ClosedAddr(t)
	sshKey, knownHosts := filepath.Join(notHg, "id_ed25519"), filepath.Join(notHg, "known_hosts")
	writeFile(t, sshKey, "")
	writeFile(t, knownHosts, "")
	tests := []struct {
		name   string
		change func(*Syncer, *Mirror)
		class  Class
	}{
		{"hg missing", func(s *Syncer, m *Mirror) { s.Hg = &hg.Runner{Path: "/nonexistent/hg"} }, Internal},
		{"git missing", func(s *Syncer, m *Mirror) { s.Git = &git.Runner{Path: "/nonexistent/git"} }, Internal},
		{"git missing from PATH", func(s *Syncer, m *Mirror) { s.Git = &git.Runner{Path: "no-such-git-program"} }, Internal},
		{"git source missing", func(s *Syncer, m *Mirror) { m.SCM = scm.Git; m.Source = filepath.Join(notHg, "nope.git") }, BadRequest},
		{"unreachable source", func(s *Syncer, m *Mirror) { m.Source = "http://" + closed + "/repo" }, Transient},
		{"source not a repository", func(s *Syncer, m *Mirror) { m.Source = notHg }, BadRequest},
		{"source missing", func(s *Syncer, m *Mirror) { m.Source = filepath.Join(notHg, "nope") }, BadRequest},
		{"file not allowed", func(s *Syncer, m *Mirror) { s.AllowFile = false }, BadRequest},
		{"http not allowed", func(s *Syncer, m *Mirror) { s.AllowHTTP = false; m.Source = "http://" + closed + "/" }, BadRequest},
		{"ssh without key", func(s *Syncer, m *Mirror) { m.Dest.URL = "ssh://git@127.0.0.1/x.git" }, BadRequest},
		{"destination missing", func(s *Syncer, m *Mirror) { m.Dest.URL = filepath.Join(notHg, "none.git") }, BadRequest},
		{"bad name", func(s *Syncer, m *Mirror) { m.Name = "../x" }, BadRequest},
		{"ssh destination unreachable", func(s *Syncer, m *Mirror) {
			m.Dest = Destination{URL: "ssh://git@" + closed + "/x.git", SSHKey: sshKey, KnownHosts: knownHosts}
		}, Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSyncer(t)
			m := hgMirror("err", src.root, gittest.Bare(t))
			tt.change(s, &m)
			res, err := s.Sync(testCtx(t), m, SyncOptions{})
			if err == nil {
				t.Fatalf("Sync = %+v, want an error", res)
			}
			if c := ClassOf(err); c != tt.class {
				t.Errorf("ClassOf(%v) = %v, want %v", err, c, tt.class)
			}
			t.Logf("%v: %v", ClassOf(err), err)
		})
	}
}

func TestSyncHgServe(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	src := newHgRepo(t)
	src.commit("a", "1\n", "over http")
	url := hgtest.Serve(t, src.Repo).URL
	dest := gittest.Bare(t)
	s := newSyncer(t)
	m := hgMirror("served", url, dest)
	res, err := s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changesets != 1 {
		t.Errorf("Changesets = %d, want 1", res.Changesets)
	}
	src.commit("a", "2\n", "again")
	if res, err = s.Sync(ctx, m, SyncOptions{}); err != nil || res.Changesets != 1 {
		t.Fatalf("second sync over http = %+v, %v; want 1 changeset", res, err)
	}
	if got := subjects(t, dest, "master"); got != "again\nover http\n" {
		t.Errorf("destination log = %q", got)
	}
}

func TestSyncHTTPDestination(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	src := newHgRepo(t)
	src.commit("a", "1\n", "to http")
	root := t.TempDir()
	dest := filepath.Join(root, "dest.git")
	gittest.BareAt(t, dest)
	const token = "s3cr3t-t0ken-value"
	srv := gittest.HTTPServer(t, root, token)

	var logs bytes.Buffer
	s := newSyncer(t)
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := hgMirror("http", src.root, srv.URL+"/dest.git")
	m.Dest.Token = token
	res, err := s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RefsUpdated) != 1 || gittest.Refs(t, dest)["refs/heads/master"] != res.RefsUpdated[0].New.String() {
		t.Errorf("RefsUpdated = %+v, destination %v", res.RefsUpdated, gittest.Refs(t, dest))
	}
	if srv.Authed.Load() == 0 || srv.Pushes.Load() != 1 {
		t.Errorf("%d requests carried the token, %d pushes; want some and 1", srv.Authed.Load(), srv.Pushes.Load())
	}
	// Nothing new: nothing pushed.
	res, err = s.Sync(ctx, m, SyncOptions{})
	if err != nil || len(res.RefsUpdated) != 0 || srv.Pushes.Load() != 1 {
		t.Errorf("sync with nothing new = %+v, %v; %d pushes, want 1", res, err, srv.Pushes.Load())
	}
	if err := s.CheckDestination(ctx, m.Dest); err != nil {
		t.Errorf("CheckDestination: %v", err)
	}

	// A wrong token is refused: Permanent, and the token is in no message.
	bad := m
	bad.Dest.Token = "wrong-" + token
	src.commit("a", "2\n", "more")
	_, err = s.Sync(ctx, bad, SyncOptions{})
	if ClassOf(err) != Permanent {
		t.Errorf("wrong token: %v (class %v), want Permanent", err, ClassOf(err))
	}
	err2 := s.CheckDestination(ctx, bad.Dest)
	if ClassOf(err2) != Permanent {
		t.Errorf("CheckDestination with a wrong token: %v (class %v), want Permanent", err2, ClassOf(err2))
	}
	// A repository that does not exist is the request's fault.
	missing := m.Dest
	missing.URL = srv.URL + "/missing.git"
	err3 := s.CheckDestination(ctx, missing)
	if ClassOf(err3) != BadRequest {
		t.Errorf("CheckDestination of a missing repository: %v (class %v), want BadRequest", err3, ClassOf(err3))
	}
	for _, text := range []string{logs.String(), fmt.Sprint(err), fmt.Sprint(err2), fmt.Sprint(err3)} {
		if strings.Contains(text, token) {
			t.Errorf("token leaked: %s", text)
		}
	}
}

func TestCheckDestinationLocal(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := newSyncer(t)
	if err := s.CheckDestination(ctx, Destination{URL: gittest.Bare(t)}); err != nil {
		t.Errorf("existing repository: %v", err)
	}
	err := s.CheckDestination(ctx, Destination{URL: filepath.Join(t.TempDir(), "none.git")})
	if ClassOf(err) != BadRequest {
		t.Errorf("missing repository: %v (class %v), want BadRequest", err, ClassOf(err))
	}
}

func TestSyncGitSource(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	work := t.TempDir()
	gittest.Run(t, "", "init", "--quiet", "-b", "main", "--", work)
	commit := func(msg string) {
		if err := os.WriteFile(filepath.Join(work, "f"), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Run(t, work, "add", "--", "f")
		gittest.Run(t, work, "commit", "--quiet", "-m", msg)
	}
	commit("one")
	commit("two")
	gittest.Run(t, work, "tag", "v1")
	dest := gittest.Bare(t)
	s := newSyncer(t)
	m := Mirror{Name: "gitsrc", SCM: scm.Git, Source: work, Dest: Destination{URL: dest}, Policy: DefaultPolicy()}
	res, err := s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changesets != 2 || len(res.RefsUpdated) != 2 {
		t.Errorf("first sync = %+v, want 2 commits, main and v1", res)
	}
	commit("three")
	res, err = s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(gittest.Run(t, work, "rev-parse", "HEAD"))
	if res.Changesets != 1 || len(res.RefsUpdated) != 1 || res.RefsUpdated[0].Ref != "refs/heads/main" || res.RefsUpdated[0].New.String() != head {
		t.Errorf("second sync = %+v, want 1 commit and main → %s", res, head)
	}
	checkSteps(t, res, StepPull, StepPush)
	if got := gittest.Refs(t, dest); got["refs/heads/main"] != head || got["refs/tags/v1"] == "" {
		t.Errorf("destination refs = %v", got)
	}
}

func TestSyncHgGitBackend(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	src := hgPolicyRepo(t)
	native, hggitDest := gittest.Bare(t), gittest.Bare(t)
	s := newSyncer(t)
	if _, err := s.Sync(ctx, hgMirror("native", src.root, native), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	s2 := newSyncer(t)
	if _, err := s2.Sync(ctx, hgMirror("hggit", src.root, hggitDest), SyncOptions{Converter: &hggit.Converter{Runner: s2.Hg}}); err != nil {
		t.Fatal(err)
	}
	// hg-git itself wrote the map (its gexport leaves .hg/git-mapfile).
	if _, err := os.Stat(filepath.Join(s2.HgRoot("hggit"), ".hg", "git-mapfile")); err != nil {
		t.Error(err)
	}
	// Both backends give the same commits.
	if a, b := gittest.Refs(t, native), gittest.Refs(t, hggitDest); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("native refs %v != hg-git refs %v", a, b)
	}
}

// TestSyncHTTPStatusClasses checks how answers of an HTTP source or
// destination are classified.
func TestSyncHTTPStatusClasses(t *testing.T) {
	t.Parallel()
	src := newHgRepo(t)
	src.commit("a", "1\n", "base")
	// A source refusing our credentials is the mirror's configuration's
	// fault (400, never retried); a destination refusing them is Permanent.
	tests := []struct {
		status        int
		source, class Class
	}{
		{http.StatusUnauthorized, BadRequest, Permanent},
		{http.StatusForbidden, BadRequest, Permanent},
		{http.StatusNotFound, BadRequest, BadRequest},
		{http.StatusInternalServerError, Transient, Transient},
		{http.StatusServiceUnavailable, Transient, Transient},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				}
				http.Error(w, http.StatusText(tt.status), tt.status)
			}))
			defer srv.Close()
			ctx := testCtx(t)
			s := newSyncer(t)
			// As a Mercurial source.
			_, err := s.Sync(ctx, hgMirror("status", srv.URL+"/repo", gittest.Bare(t)), SyncOptions{})
			if ClassOf(err) != tt.source {
				t.Errorf("hg source answering %d: %v (class %v), want %v", tt.status, err, ClassOf(err), tt.source)
			}
			if tt.status == http.StatusUnauthorized && !strings.Contains(fmt.Sprint(err), "source refused our credentials") {
				t.Errorf("hg source answering 401: %v", err)
			}
			// As a Git destination.
			err = s.CheckDestination(ctx, Destination{URL: srv.URL + "/dest.git", Token: "t0ken"})
			if ClassOf(err) != tt.class {
				t.Errorf("destination answering %d: %v (class %v), want %v", tt.status, err, ClassOf(err), tt.class)
			}
			if strings.Contains(fmt.Sprint(err), "t0ken") {
				t.Errorf("token in error: %v", err)
			}
		})
	}
}

// TestSyncCacheRepairs damages the cache in the ways an interrupted run
// can and checks that the next sync still succeeds, pulling when it can.
func TestSyncCacheRepairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, root string)
		pulled bool // the cache survives (pull), or is cloned afresh
	}{
		{"interrupted transaction", func(t *testing.T, root string) {
			writeFile(t, filepath.Join(root, ".hg", "store", "journal"), "")
		}, true},
		{"garbage changelog", func(t *testing.T, root string) {
			writeFile(t, filepath.Join(root, ".hg", "store", "00changelog.i"), "garbage")
		}, false},
		{"no requires", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, ".hg", "requires")); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(root, ".hg", "store")); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, src, dest, s := baseSync(t)
			m := hgMirror("repair", src.root, dest)
			if _, err := s.Sync(ctx, m, SyncOptions{}); err != nil {
				t.Fatal(err)
			}
			root := s.HgRoot("repair")
			marker := filepath.Join(root, ".hg", "marker")
			writeFile(t, marker, "")
			tt.damage(t, root)
			src.commit("a", "2\n", "next")
			if _, err := s.Sync(ctx, m, SyncOptions{}); err != nil {
				t.Fatalf("sync over a damaged cache: %v", err)
			}
			if got := subjects(t, dest, "master"); got != "next\nbase\n" {
				t.Errorf("destination log = %q", got)
			}
			if _, err := os.Stat(marker); (err == nil) != tt.pulled {
				t.Errorf("cache kept = %v, want %v", err == nil, tt.pulled)
			}
		})
	}
}

// writeFile replaces path (never writing through a hard link: a local
// clone shares its store files with the source).
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSyncSourceChanged: a mirror pointed at another repository gets a
// fresh cache rather than a pull of unrelated changesets.
func TestSyncSourceChanged(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	a, b := newHgRepo(t), newHgRepo(t)
	a.commit("a", "1\n", "in a")
	b.commit("b", "1\n", "in b")
	s := newSyncer(t)
	if _, err := s.Sync(ctx, hgMirror("moved", a.root, gittest.Bare(t)), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	dest := gittest.Bare(t)
	res, err := s.Sync(ctx, hgMirror("moved", b.root, dest), SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(t, dest, "master"); got != "in b\n" || res.Changesets != 1 {
		t.Errorf("after the source changed: %d changesets, destination log %q", res.Changesets, got)
	}
}

// TestSyncUnsupportedFormat: a source in a format the native reader refuses
// is the request's fault, and the cache is kept (pulled, not re-cloned).
func TestSyncUnsupportedFormat(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "tree")
	hgtest.Run(t, "", "init", "--config", "experimental.treemanifest=True", "--", root)
	writeFile(t, filepath.Join(root, "a"), "a\n")
	hgtest.Run(t, root, "commit", "--config", "experimental.treemanifest=True", "-A", "-m", "a", "-d", "1600000000 0")
	s := newSyncer(t)
	m := hgMirror("tree", root, gittest.Bare(t))
	_, err := s.Sync(ctx, m, SyncOptions{})
	var unsup *hg.UnsupportedError
	if ClassOf(err) != BadRequest || !errors.As(err, &unsup) || unsup.Requirement != "treemanifest" {
		t.Fatalf("Sync = %v (class %v), want a BadRequest unsupported treemanifest", err, ClassOf(err))
	}
	if strings.Contains(err.Error(), "convert: convert:") {
		t.Errorf("op repeated: %v", err)
	}
	marker := filepath.Join(s.HgRoot("tree"), ".hg", "marker")
	writeFile(t, marker, "")
	if _, err := s.Sync(ctx, m, SyncOptions{}); ClassOf(err) != BadRequest {
		t.Fatalf("second Sync = %v, want BadRequest", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("cache of an unsupported repository was cloned again: %v", err)
	}
}

// TestSyncCombinesPacks checks that the small packs one conversion each
// writes into the cache are combined once there are more than
// MaxSmallPacks, without losing an object or the incremental path.
func TestSyncCombinesPacks(t *testing.T) {
	t.Parallel()
	src := newHgRepo(t)
	ctx, dest, s := newSync(t)
	s.MaxSmallPacks = 2
	m := hgMirror("packs", src.root, dest)
	gitDir := convert.GitDir(s.HgRoot("packs"))
	var counts []int
	for i := range 5 {
		src.commit("a.txt", fmt.Sprintf("version %d\n", i), fmt.Sprintf("change %d", i))
		res, err := s.Sync(ctx, m, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Changesets != 1 {
			t.Fatalf("sync %d: Changesets = %d, want 1", i, res.Changesets)
		}
		packs, err := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "pack-*.pack"))
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, len(packs))
	}
	// One pack a sync; the third makes three, combined into one.
	if want := []int{1, 2, 1, 2, 1}; !slices.Equal(counts, want) {
		t.Errorf("packs in the cache after each sync: %v, want %v", counts, want)
	}
	gittest.Run(t, "", "--git-dir="+gitDir, "fsck", "--strict", "--no-dangling")
	if got := gittest.Count(t, dest, "master"); got != 5 {
		t.Errorf("destination master has %d commits, want 5", got)
	}
}
