package git

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// commitChain writes n commits on top of parent (ZeroHash for a root) into
// gitDir and returns their hashes, oldest first.
func commitChain(t *testing.T, gitDir string, parent Hash, n int, label string) []Hash {
	t.Helper()
	pw, err := NewPackWriter(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []Hash
	for i := range n {
		blob, _ := pw.Add(BlobObject, fmt.Appendf(nil, "%s %d\n", label, i))
		tree, _ := pw.Add(TreeObject, EncodeTree([]TreeEntry{{ModeFile, "file", blob}}))
		c := &Commit{Tree: tree, Author: "A <a@example.com> 1700000000 +0000",
			Committer: "A <a@example.com> 1700000000 +0000", Message: fmt.Sprintf("%s %d\n", label, i)}
		if !parent.IsZero() {
			c.Parents = []Hash{parent}
		}
		parent, err = pw.Add(CommitObject, EncodeCommit(c))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, parent)
	}
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// localSource is what local push and seed tests start from: a context, a
// Runner that takes file remotes, and a bare repository holding a chain of
// n commits labelled label, oldest first.
func localSource(t *testing.T, n int, label string) (context.Context, *Runner, string, []Hash) {
	t.Helper()
	src := newBare(t)
	return testCtx(t), &Runner{AllowFile: true}, src, commitChain(t, src, ZeroHash, n, label)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestRunnerLocal(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	r := &Runner{AllowFile: true, Timeout: time.Minute}
	src, dst := newBare(t), newBare(t)
	base := commitChain(t, src, ZeroHash, 3, "base")
	tip := base[2]
	if err := r.UpdateRefs(ctx, src, map[string]Hash{"refs/heads/master": tip, "refs/tags/v1": base[0]}); err != nil {
		t.Fatal(err)
	}
	refs, err := r.Refs(ctx, src)
	if err != nil || refs["refs/heads/master"] != tip || refs["refs/tags/v1"] != base[0] || len(refs) != 2 {
		t.Fatalf("Refs = %v, %v", refs, err)
	}

	for _, remote := range []string{dst, "file://" + dst} {
		if err := r.Push(ctx, src, remote, []string{"refs/heads/master:refs/heads/master", "refs/tags/v1:refs/tags/v1"}, PushOptions{Atomic: true}); err != nil {
			t.Fatalf("push to %s: %v", remote, err)
		}
		got, err := r.LsRemote(ctx, remote)
		if err != nil {
			t.Fatal(err)
		}
		if got["refs/heads/master"] != tip || got["refs/tags/v1"] != base[0] || got["HEAD"] != tip {
			t.Errorf("ls-remote %s = %v", remote, got)
		}
	}

	// A diverging history is refused unless forced.
	other := commitChain(t, src, base[0], 1, "other")[0]
	if err := r.UpdateRefs(ctx, src, map[string]Hash{"refs/heads/other": other}); err != nil {
		t.Fatal(err)
	}
	err = r.Push(ctx, src, dst, []string{"refs/heads/other:refs/heads/master"}, PushOptions{})
	if !errors.Is(err, ErrNonFastForward) {
		t.Fatalf("non-fast-forward push: %v", err)
	}
	if Retryable(err) {
		t.Error("non-fast-forward is retryable")
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "push" || e.ExitCode != 1 || !strings.Contains(e.Stderr, "rejected") {
		t.Errorf("error fields: %#v", e)
	}
	if len(e.Refs) != 1 || e.Refs[0] != (PushRef{'!', "refs/heads/other", "refs/heads/master", "[rejected]", "non-fast-forward"}) {
		t.Errorf("push refs: %+v", e.Refs)
	}
	// An existing tag moved is refused too.
	if err := r.Push(ctx, src, dst, []string{other.String() + ":refs/tags/v1"}, PushOptions{}); !errors.Is(err, ErrNonFastForward) {
		t.Errorf("moving a tag: %v", err)
	}
	// A lease on a value the destination no longer has refuses the push.
	err = r.Push(ctx, src, dst, []string{"+refs/heads/other:refs/heads/master"}, PushOptions{Lease: map[string]Hash{"refs/heads/master": base[0]}})
	if !errors.Is(err, ErrStaleRef) || !Retryable(err) {
		t.Fatalf("push with a stale lease: %v", err)
	}
	err = r.Push(ctx, src, dst, []string{"+refs/heads/other:refs/heads/master"}, PushOptions{Lease: map[string]Hash{"refs/heads/master": ZeroHash}})
	if !errors.Is(err, ErrStaleRef) {
		t.Fatalf("push with a must-not-exist lease on an existing ref: %v", err)
	}
	if err := r.Push(ctx, src, dst, []string{"+refs/heads/other:refs/heads/leased"}, PushOptions{Lease: map[string]Hash{"refs/heads/leased": ZeroHash}}); err != nil {
		t.Fatalf("push with a must-not-exist lease on a new ref: %v", err)
	}
	if err := r.Push(ctx, src, dst, []string{"refs/heads/master"}, PushOptions{Lease: map[string]Hash{"refs/heads/bad name": ZeroHash}}); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Errorf("lease on a bad ref name: %v", err)
	}
	if err := r.Push(ctx, src, dst, []string{"refs/heads/other:refs/heads/master"}, PushOptions{Force: true, Lease: map[string]Hash{"refs/heads/master": tip}}); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Errorf("Force with Lease: %v", err)
	}
	if got, _ := r.LsRemote(ctx, dst); got["refs/heads/master"] != tip {
		t.Fatalf("refused pushes moved master to %s", got["refs/heads/master"])
	}
	if err := r.Push(ctx, src, dst, []string{"+refs/heads/other:refs/heads/master"}, PushOptions{Lease: map[string]Hash{"refs/heads/master": tip}}); err != nil {
		t.Fatalf("forced push with a current lease: %v", err)
	}
	if err := r.Push(ctx, src, dst, []string{"refs/heads/other:refs/heads/master"}, PushOptions{Force: true}); err != nil {
		t.Fatalf("forced push: %v", err)
	}
	if got, _ := r.LsRemote(ctx, dst); got["refs/heads/master"] != other {
		t.Errorf("after forced push master = %s", got["refs/heads/master"])
	}

	// Fetch back into a third repository.
	third := newBare(t)
	if err := r.Fetch(ctx, third, dst, []string{"+refs/heads/*:refs/remotes/dst/*"}); err != nil {
		t.Fatal(err)
	}
	if refs, _ := r.Refs(ctx, third); refs["refs/remotes/dst/master"] != other || refs["refs/remotes/dst/leased"] != other {
		t.Errorf("fetched refs %v", refs)
	}
	if err := r.FetchWithOptions(ctx, third, "file://"+src, []string{"+refs/heads/*:refs/remotes/dst/*"}, FetchOptions{Prune: true, NoTags: true}); err != nil {
		t.Fatal(err)
	}
	if refs, _ := r.Refs(ctx, third); refs["refs/remotes/dst/master"] != tip || refs["refs/remotes/dst/other"] != other || len(refs) != 3 {
		t.Errorf("fetched with prune: %v", refs)
	}
	if err := r.Fetch(ctx, third, dst, []string{"refs/heads/missing:refs/heads/missing"}); err == nil {
		t.Error("fetching a missing ref succeeded")
	}

	// Ancestry.
	for _, tc := range []struct {
		a, b Hash
		want bool
	}{{base[0], tip, true}, {tip, tip, true}, {tip, base[0], false}, {other, tip, false}, {base[0], other, true}} {
		got, err := r.IsAncestor(ctx, src, tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("IsAncestor(%s, %s) = %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
		}
	}
	if _, err := r.IsAncestor(ctx, src, HashObject(BlobObject, []byte("none")), tip); err == nil {
		t.Error("IsAncestor of a missing object succeeded")
	}

	// Checked ref updates: all or none.
	err = r.UpdateRefsChecked(ctx, src, []RefChange{
		{Name: "refs/heads/new", New: tip, CheckOld: true}, // must not exist: fine
		{Name: "refs/heads/master", New: other, Old: base[0], CheckOld: true},
	})
	if !errors.Is(err, ErrStaleRef) || !Retryable(err) {
		t.Fatalf("stale update: %v", err)
	}
	if refs, _ := r.Refs(ctx, src); refs["refs/heads/new"] != ZeroHash || refs["refs/heads/master"] != tip {
		t.Errorf("failed transaction changed refs: %v", refs)
	}
	err = r.UpdateRefsChecked(ctx, src, []RefChange{
		{Name: "refs/heads/new", New: tip, CheckOld: true},
		{Name: "refs/heads/master", New: other, Old: tip, CheckOld: true},
		{Name: "refs/tags/v1", New: ZeroHash, Old: base[0], CheckOld: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if refs, _ := r.Refs(ctx, src); refs["refs/heads/new"] != tip || refs["refs/heads/master"] != other || len(refs) != 3 {
		t.Errorf("refs after update: %v", refs)
	}
	if err := r.UpdateRefs(ctx, src, map[string]Hash{"refs/heads/bad name": tip}); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Errorf("bad ref name: %v", err)
	}
	if err := r.UpdateRefs(ctx, src, map[string]Hash{"refs/heads/x": HashObject(BlobObject, []byte("missing"))}); err == nil {
		t.Error("update to a missing object succeeded")
	}

	// Not a repository.
	err = r.Push(ctx, src, filepath.Join(t.TempDir(), "missing.git"), []string{"refs/heads/master"}, PushOptions{})
	if !errors.Is(err, ErrNotFound) || Retryable(err) {
		t.Errorf("push to a missing repository: %v", err)
	}
	if _, err := r.LsRemote(ctx, "file:///nonexistent/repo.git"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ls-remote of a missing repository: %v", err)
	}

	if v, err := r.Version(ctx); err != nil || !strings.HasPrefix(v, "git version ") {
		t.Errorf("Version = %q, %v", v, err)
	}
	out, err := r.run(ctx, "cat-file", "", src, nil, []string{"cat-file", "-t", tip.String()})
	if err != nil || strings.TrimSpace(string(out)) != "commit" {
		t.Errorf("run cat-file = %q, %v", out, err)
	}
}

func TestRunnerRefusesRemotes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	src := newBare(t)
	strict := &Runner{}
	permissive := &Runner{AllowFile: true, AllowHTTP: true}
	for _, tc := range []struct {
		r      *Runner
		remote string
	}{
		{permissive, "ext::sh -c touch% " + marker},
		{permissive, "ext::sh -c touch% " + marker + " >&2"},
		{permissive, "fd::0"},
		{permissive, "-oProxyCommand=touch " + marker},
		{permissive, "--upload-pack=touch " + marker},
		{permissive, "ssh://-oProxyCommand=touch%20" + marker + "/x"},
		{permissive, "-oProxyCommand=touch:x"},
		{permissive, "git://127.0.0.1/x"},
		{permissive, "ftp://127.0.0.1/x"},
		{permissive, "relative/path"},
		{permissive, "https://127.0.0.1/x\n--upload-pack=x"},
		{permissive, ""},
		{strict, "file://" + src},
		{strict, src},
		{strict, "http://127.0.0.1/x"},
		{strict, "git@example.com:owner/repo.git"},       // ssh needs a key and known_hosts
		{strict, "ssh://git@example.com/owner/repo.git"}, // likewise
		{strict.WithCredentials(Credentials{SSHKey: "/k", KnownHosts: "/kh"}), "-x@host:path"},
		{strict.WithCredentials(Credentials{SSHKey: "/k", KnownHosts: "/kh"}), "ssh://-host/path"},
	} {
		checks := []struct {
			name string
			err  error
		}{
			{"push", tc.r.Push(ctx, src, tc.remote, []string{"refs/heads/master"}, PushOptions{})},
			{"fetch", tc.r.Fetch(ctx, src, tc.remote, nil)},
		}
		_, lsErr := tc.r.LsRemote(ctx, tc.remote)
		checks = append(checks, struct {
			name string
			err  error
		}{"ls-remote", lsErr})
		for _, c := range checks {
			if !errors.Is(c.err, ErrRemoteNotAllowed) {
				t.Errorf("%s %q: error %v, want ErrRemoteNotAllowed", c.name, tc.remote, c.err)
			}
		}
	}
	// Option-like refspecs.
	for _, spec := range []string{"--receive-pack=touch " + marker, "-f", "", "a\nb"} {
		if err := permissive.Push(ctx, src, src, []string{spec}, PushOptions{}); !errors.Is(err, ErrRemoteNotAllowed) {
			t.Errorf("refspec %q: %v", spec, err)
		}
	}
	// run does not check remotes, but git's protocol allowlist still refuses.
	for _, remote := range []string{"ext::sh -c touch% " + marker, "fd::0"} {
		if _, err := permissive.run(ctx, "ls-remote", "", "", nil, []string{"ls-remote", "--", remote}); err == nil {
			t.Errorf("run ls-remote %q succeeded", remote)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a refused remote ran a command")
	}
}

func TestRunnerSSHCommand(t *testing.T) {
	t.Parallel()
	r := (&Runner{}).WithCredentials(Credentials{SSHKey: "/etc/sync/id_ed25519", KnownHosts: "/etc/sync/known_hosts"})
	env, _, err := r.environ("git@example.com:o/r.git", "/tmp/h", "/tmp/h")
	if err != nil {
		t.Fatal(err)
	}
	want := "GIT_SSH_COMMAND=ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/sync/known_hosts -i /etc/sync/id_ed25519"
	found := false
	for _, e := range env {
		found = found || e == want
	}
	if !found {
		t.Errorf("environment lacks %q:\n%s", want, strings.Join(env, "\n"))
	}
	if err := r.remoteAllowed("git@example.com:o/r.git"); err != nil {
		t.Errorf("scp-like ssh remote refused: %v", err)
	}
	if err := r.remoteAllowed("ssh://git@example.com:2222/o/r.git"); err != nil {
		t.Errorf("ssh URL refused: %v", err)
	}
	for _, bad := range []Credentials{
		{SSHKey: "relative/key", KnownHosts: "/kh"},
		{SSHKey: "/key; touch /tmp/x", KnownHosts: "/kh"},
		{SSHKey: "/key", KnownHosts: "/k h"},
		{SSHKey: "/key", KnownHosts: "/x/-oProxyCommand=y"},
		{SSHKey: "/key$(id)", KnownHosts: "/kh"},
	} {
		if _, _, err := r.WithCredentials(bad).environ("git@example.com:o/r.git", "/tmp/h", "/tmp/h"); err == nil {
			t.Errorf("ssh credentials %+v accepted", bad)
		}
	}
}

// gitHTTPServer serves the bare repositories under root with
// `git http-backend` on 127.0.0.1, requiring an Authorization header equal to
// want (when not "").
func gitHTTPServer(t *testing.T, root, want string) *gittest.Server {
	t.Helper()
	if want == "" {
		return gittest.HTTPServer(t, root, "")
	}
	return gittest.HTTPServer(t, root, "", gittest.WithAuthorization(want))
}

func newServedRepo(t *testing.T, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := Init(context.Background(), dir, true); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, nil, "config", "http.receivepack", "true")
	return dir
}

func TestRunnerHTTP(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const token = "s3cr3t-T0KEN-value"
	root := t.TempDir()
	served := newServedRepo(t, root, "repo.git")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
	srv := gitHTTPServer(t, root, basic)
	bearerSrv := gitHTTPServer(t, root, "Bearer "+token)
	openSrv := gitHTTPServer(t, root, "")

	src := newBare(t)
	tip := commitChain(t, src, ZeroHash, 2, "http")[1]
	if err := (&Runner{}).UpdateRefs(ctx, src, map[string]Hash{"refs/heads/main": tip}); err != nil {
		t.Fatal(err)
	}
	remote := srv.URL + "/repo.git"
	r := (&Runner{AllowHTTP: true, Timeout: 30 * time.Second}).WithCredentials(Credentials{Token: token})

	if err := r.Push(ctx, src, remote, []string{"refs/heads/main:refs/heads/main"}, PushOptions{Atomic: true}); err != nil {
		t.Fatalf("push with token: %v", err)
	}
	refs, err := r.LsRemote(ctx, remote)
	if err != nil || refs["refs/heads/main"] != tip {
		t.Fatalf("ls-remote with token = %v, %v", refs, err)
	}
	if refs, _ := (&Runner{}).Refs(ctx, served); refs["refs/heads/main"] != tip {
		t.Errorf("served repository refs %v", refs)
	}
	fetched := newBare(t)
	if err := r.Fetch(ctx, fetched, remote, []string{"refs/heads/main:refs/heads/main"}); err != nil {
		t.Fatalf("fetch with token: %v", err)
	}
	bearer := (&Runner{AllowHTTP: true}).WithCredentials(Credentials{Token: token, Bearer: true})
	if _, err := bearer.LsRemote(ctx, bearerSrv.URL+"/repo.git"); err != nil {
		t.Errorf("ls-remote with bearer token: %v", err)
	}
	// User and password in the URL become the Basic header.
	withUserinfo := strings.Replace(remote, "http://", "http://x-access-token:"+token+"@", 1)
	if _, err := (&Runner{AllowHTTP: true}).LsRemote(ctx, withUserinfo); err != nil {
		t.Errorf("ls-remote with userinfo: %v", err)
	}

	// http is refused unless allowed.
	if _, err := (&Runner{}).WithCredentials(Credentials{Token: token}).LsRemote(ctx, remote); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Errorf("http without AllowHTTP: %v", err)
	}

	failures := []struct {
		name   string
		r      *Runner
		remote string
		kind   error
	}{
		{"wrong token", r.WithCredentials(Credentials{Token: token + "-wrong"}), remote, ErrAuth},
		{"no token", &Runner{AllowHTTP: true}, remote, ErrAuth},
		{"wrong user", r.WithCredentials(Credentials{Token: token, Username: "oauth2"}), remote, ErrAuth},
		{"bearer to basic server", bearer, remote, ErrAuth},
		{"wrong password in URL", &Runner{AllowHTTP: true}, strings.Replace(withUserinfo, token, token+"x", 1), ErrAuth},
		{"missing repository", r, srv.URL + "/missing.git", ErrNotFound},
		{"missing repository, open server", r, openSrv.URL + "/missing.git", ErrNotFound},
		{"closed port", r, "http://" + hgtest.ClosedAddr(t) + "/repo.git", ErrNetwork},
	}
	for _, f := range failures {
		errs := map[string]error{
			"push":  f.r.Push(ctx, src, f.remote, []string{"refs/heads/main:refs/heads/main"}, PushOptions{}),
			"fetch": f.r.Fetch(ctx, newBare(t), f.remote, []string{"refs/heads/main:refs/heads/main"}),
		}
		_, errs["ls-remote"] = f.r.LsRemote(ctx, f.remote)
		for op, err := range errs {
			if !errors.Is(err, f.kind) {
				t.Errorf("%s: %s: error %v, want %v", f.name, op, err, f.kind)
			}
			t.Logf("%s: %s: %v", f.name, op, err)
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("%s: %s: error shows the token: %v", f.name, op, err)
			}
			if err != nil && strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))) {
				t.Errorf("%s: %s: error shows the encoded token: %v", f.name, op, err)
			}
		}
		if f.kind == ErrNetwork && !Retryable(errs["push"]) {
			t.Errorf("%s: not retryable", f.name)
		}
		if f.kind != ErrNetwork && Retryable(errs["push"]) {
			t.Errorf("%s: retryable", f.name)
		}
	}
}

// TestRunnerTimeout checks that a server that never answers gives a
// network error once the Runner's timeout passes.
func TestRunnerTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold the connection open without answering
		}
	}()
	r := &Runner{AllowHTTP: true, Timeout: time.Second}
	start := time.Now()
	_, err = r.LsRemote(testCtx(t), "http://"+ln.Addr().String()+"/repo.git")
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging server: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("timeout took %s", d)
	}
}

// TestRemoteArg: the redaction itself is command.RedactText's (tested there).
func TestRemoteArg(t *testing.T) {
	t.Parallel()
	if got := remoteArg("https://u:p@host:8443/x.git"); got != "https://host:8443/x.git" {
		t.Errorf("remoteArg = %q", got)
	}
	if got := remoteArg("https://u@host/x.git"); got != "https://u@host/x.git" {
		t.Errorf("remoteArg without password = %q", got)
	}
	if got := httpScope("https://u:p@Host.example:8443/a/b.git"); got != "https://Host.example:8443/" {
		t.Errorf("httpScope = %q", got)
	}
}

// TestRunnerHTTPStatus classifies server answers other than 401.
func TestRunnerHTTPStatus(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	for _, tc := range []struct {
		status int
		kind   error
	}{
		{http.StatusForbidden, ErrAuth},
		{http.StatusNotFound, ErrNotFound},
		{http.StatusInternalServerError, ErrNetwork},
		{http.StatusBadGateway, ErrNetwork},
		{http.StatusServiceUnavailable, ErrNetwork},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			http.Error(w, "status", tc.status)
		}))
		r := (&Runner{AllowHTTP: true}).WithCredentials(Credentials{Token: "tok"})
		_, err := r.LsRemote(ctx, srv.URL+"/repo.git")
		if !errors.Is(err, tc.kind) {
			t.Errorf("HTTP %d: %v, want %v", tc.status, err, tc.kind)
		}
		srv.Close()
	}
}

// TestRunnerTokenScopedToHost checks that the token header is sent only to
// the remote's own scheme, host and port, not to a server it redirects to.
func TestRunnerTokenScopedToHost(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const token = "scoped-token"
	root := t.TempDir()
	newServedRepo(t, root, "repo.git")
	backend := gittest.Backend(root)
	leaked := make(chan string, 100)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if h := req.Header.Get("Authorization"); h != "" {
			leaked <- h
		}
		backend.ServeHTTP(w, req)
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, other.URL+req.URL.RequestURI(), http.StatusFound)
	}))
	defer redirector.Close()
	r := (&Runner{AllowHTTP: true}).WithCredentials(Credentials{Token: token})
	_, err := r.LsRemote(ctx, redirector.URL+"/repo.git")
	t.Logf("ls-remote through a redirect: %v", err)
	if !errors.Is(err, ErrRedirected) || Retryable(err) {
		t.Errorf("ls-remote with a token through a redirect: %v", err)
	}
	select {
	case h := <-leaked:
		t.Errorf("redirect target received Authorization %q", h)
	default:
	}
	// The same server directly does receive it.
	if _, err := r.LsRemote(ctx, other.URL+"/repo.git"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leaked:
	default:
		t.Error("the remote itself did not receive the token")
	}
}

// TestRunnerTokenNotInArgv looks at the command lines of the running git
// processes while they wait on a server that never answers: the token (also
// given in the URL) must be in no process's argv.
func TestRunnerTokenNotInArgv(t *testing.T) {
	t.Parallel()
	const token = "argv-probe-token-5d41402abc4b2a76"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	r := (&Runner{AllowHTTP: true}).WithCredentials(Credentials{Token: token})
	remote := "http://user:" + token + "@" + ln.Addr().String() + "/repo.git"
	done := make(chan error, 1)
	go func() { _, err := r.LsRemote(ctx, remote); done <- err }()
	var conn net.Conn
	select {
	case conn = <-accepted:
		defer conn.Close()
	case err := <-done:
		t.Fatalf("ls-remote returned before connecting: %v", err)
	}
	encoded := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	sawGit, sawEnv := false, false
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), ln.Addr().String()) {
			sawGit = true
			if env, err := os.ReadFile(strings.TrimSuffix(p, "cmdline") + "environ"); err == nil && strings.Contains(string(env), encoded) {
				sawEnv = true
			}
		}
		if strings.Contains(string(cmdline), token) || strings.Contains(string(cmdline), encoded) {
			t.Errorf("%s shows the token: %q", p, cmdline)
		}
	}
	if !sawGit || !sawEnv {
		t.Errorf("probe did not find git's process (%v) or the header in its environment (%v)", sawGit, sawEnv)
	}
	cancel()
	if err := <-done; err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("cancelled ls-remote: %v", err)
	}
}

func TestRunnerBoundsOutput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := newBare(t)
	pw, _ := NewPackWriter(dir)
	h, _ := pw.Add(BlobObject, bytes.Repeat([]byte("x"), 1<<20))
	if err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	r := &Runner{MaxOutput: 1000}
	if _, err := r.run(ctx, "cat-file", "", dir, nil, []string{"cat-file", "blob", h.String()}); err == nil || !strings.Contains(err.Error(), "exceeds 1000 bytes") {
		t.Errorf("oversized output: %v", err)
	}
	out, err := (&Runner{}).run(ctx, "cat-file", "", dir, nil, []string{"cat-file", "blob", h.String()})
	if err != nil || len(out) != 1<<20 {
		t.Errorf("default bound: %d bytes, %v", len(out), err)
	}
	// (Standard error keeps its end: internal/command TestStderrTail.)
}

// TestRunnerPushRemoteRejected pushes atomically to a non-bare repository
// whose checked-out branch the remote refuses to update.
func TestRunnerPushRemoteRejected(t *testing.T) {
	t.Parallel()
	ctx, r, src, chain := localSource(t, 1, "rejected")
	tip := chain[0]
	if err := r.UpdateRefs(ctx, src, map[string]Hash{"refs/heads/master": tip, "refs/heads/side": tip}); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := Init(ctx, filepath.Join(work, ".git"), false); err != nil {
		t.Fatal(err)
	}
	err := r.Push(ctx, src, work, []string{"refs/heads/side:refs/heads/side", "refs/heads/master:refs/heads/master"}, PushOptions{Atomic: true})
	var e *Error
	if !errors.Is(err, ErrRemoteRejected) || !errors.As(err, &e) || Retryable(err) {
		t.Fatalf("push to a checked-out branch: %v", err)
	}
	t.Logf("%v; refs %+v", err, e.Refs)
	if refs, _ := r.Refs(ctx, filepath.Join(work, ".git")); len(refs) != 0 {
		t.Errorf("atomic push left refs %v", refs)
	}
}

// TestRunnerNamedLocalCommands covers the commands that replaced the raw
// Run: rev-list counting and HEAD.
func TestRunnerNamedLocalCommands(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	r := &Runner{}
	dir := newBare(t)
	chain := commitChain(t, dir, ZeroHash, 3, "count") // oldest first
	base, tip := chain[0], chain[len(chain)-1]
	for _, tc := range []struct {
		include, exclude []Hash
		want             int
	}{
		{[]Hash{tip}, nil, 3},
		{[]Hash{tip}, []Hash{base}, 2},
		{[]Hash{tip, tip}, []Hash{tip}, 0},
		{nil, []Hash{tip}, 0},
	} {
		if n, err := r.CountCommits(ctx, dir, tc.include, tc.exclude); err != nil || n != tc.want {
			t.Errorf("CountCommits(%v, %v) = %d, %v; want %d", tc.include, tc.exclude, n, err, tc.want)
		}
	}
	if _, err := r.CountCommits(ctx, dir, []Hash{{0xde, 0xad}}, nil); err == nil {
		t.Error("CountCommits of a missing commit succeeded")
	}

	if err := r.UpdateRefs(ctx, dir, map[string]Hash{"refs/heads/main": tip}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetHead(ctx, dir, "refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	if head, err := r.Head(ctx, dir); err != nil || head != "refs/heads/main" {
		t.Errorf("Head = %q, %v", head, err)
	}
	for _, bad := range []string{"--help", "HEAD", "refs/heads/a b", "-q"} {
		if err := r.SetHead(ctx, dir, bad); !errors.Is(err, ErrRemoteNotAllowed) {
			t.Errorf("SetHead(%q) = %v, want refused", bad, err)
		}
	}
	if head, _ := r.Head(ctx, dir); head != "refs/heads/main" {
		t.Errorf("a refused SetHead changed HEAD to %q", head)
	}
}
