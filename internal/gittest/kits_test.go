package gittest

import (
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestBareCommitRefs(t *testing.T) {
	t.Parallel()
	work := filepath.Join(t.TempDir(), "work")
	Run(t, "", "init", "-q", "--initial-branch=master", "--", work)
	h := Commit(t, work, "a/b", "1\n", "first")
	if got := Run(t, work, "log", "-1", "--format=%an <%ae> %ad|%cn <%ce> %cd", "--date=raw"); got != "Test Author <author@example.com> 1700000000 +0100|Test Committer <committer@example.com> 1700000100 -0230\n" {
		t.Errorf("identity and date = %q", got)
	}
	bare := Bare(t)
	Run(t, work, "push", "-q", bare, "master")
	if refs := Refs(t, bare); len(refs) != 1 || refs["refs/heads/master"] != h {
		t.Errorf("Refs = %v, want master %s", refs, h)
	}
	if n := Count(t, bare, "master"); n != 1 {
		t.Errorf("Count = %d", n)
	}
}

func TestHTTPServerToken(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dest := BareAt(t, filepath.Join(root, "o", "r.git"))
	work := filepath.Join(t.TempDir(), "work")
	Run(t, "", "init", "-q", "--initial-branch=master", "--", work)
	h := Commit(t, work, "f", "x", "m")
	const token = "tok-123"
	s := HTTPServer(t, root, token)
	basic := func(user, pw string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	push := func(header string) error {
		args := []string{"push", "-q"}
		if header != "" {
			args = append([]string{"-c", "http.extraHeader=" + header}, args...)
		}
		_, err := RunErr(work, append(args, s.URL+"/o/r.git", "master")...)
		return err
	}
	if err := push(""); err == nil {
		t.Error("push without the token succeeded")
	}
	if err := push(basic("x-access-token", "wrong")); err == nil {
		t.Error("push with a wrong token succeeded")
	}
	if s.Denied.Load() == 0 || s.Pushes.Load() != 0 {
		t.Errorf("denied %d pushes %d", s.Denied.Load(), s.Pushes.Load())
	}
	if err := push(basic("x-access-token", token)); err != nil {
		t.Fatalf("push with the token: %v", err)
	}
	if err := push("Authorization: Bearer " + token); err != nil {
		t.Errorf("bearer token refused: %v", err)
	}
	if Refs(t, dest)["refs/heads/master"] != h || s.Pushes.Load() != 1 {
		t.Errorf("refs %v, %d pushes", Refs(t, dest), s.Pushes.Load())
	}
}

func TestHTTPServerOpen(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	BareAt(t, filepath.Join(root, "x.git"))
	s := HTTPServer(t, root, "", WithFailures(func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	}))
	if _, err := RunErr("", "ls-remote", s.URL+"/x.git"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("first request: %v, want 503", err)
	}
	if _, err := RunErr("", "ls-remote", s.URL+"/x.git"); err != nil {
		t.Errorf("second request: %v", err)
	}
}
