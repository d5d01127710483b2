package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/store"
)

// TestMain removes the template database after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if tmplDB.dir != "" {
		os.RemoveAll(tmplDB.dir)
	}
	os.Exit(code)
}

// tmplDB is a SQLite database with the store's and River's migrations
// applied once; each test gets a copy (River's migrations take seconds
// under -race).
var tmplDB struct {
	once sync.Once
	dir  string
	err  error
}

// migratedDB returns the path of a fresh, migrated SQLite database.
func migratedDB(t testing.TB) string {
	t.Helper()
	tmplDB.once.Do(func() {
		tmplDB.dir, tmplDB.err = os.MkdirTemp("", "synchroniser-web-test-")
		if tmplDB.err != nil {
			return
		}
		ctx := context.Background()
		st, err := store.Open(ctx, store.Config{Driver: store.SQLite, Path: filepath.Join(tmplDB.dir, "synchroniser.db")})
		if err != nil {
			tmplDB.err = err
			return
		}
		defer st.Close()
		_, tmplDB.err = queue.New(ctx, queue.Config{Store: st})
	})
	if tmplDB.err != nil {
		t.Fatalf("template database: %v", tmplDB.err)
	}
	dst := filepath.Join(t.TempDir(), "synchroniser.db")
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(filepath.Join(tmplDB.dir, "synchroniser.db"+suffix))
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// sharedWebhooks holds the real payloads recorded for the project, read in
// place beside the repository.
const sharedWebhooks = "../../../shared/webhooks/bitbucket-legacy"

// cmdTimeout bounds every hg and git run in tests.
const cmdTimeout = 60 * time.Second

// hgEnv is the environment for hg in tests: plain output, no user
// configuration, a fixed user.
func hgEnv() []string {
	return append(os.Environ(), "HGPLAIN=1", "HGRCPATH=", "HGUSER=Test <test@example.org>", "HGENCODING=utf-8")
}

// gitEnv is the environment for git in tests: no user or system config.
func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.org", "GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.org")
}

// run runs a program (hg or git) in dir and returns its stdout.
func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	if name == "hg" {
		cmd.Env = hgEnv()
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// hgRepo creates a Mercurial repository with n changesets on default.
func hgRepo(t testing.TB, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	run(t, "", "hg", "init", "--", dir)
	for i := 0; i < n; i++ {
		hgCommit(t, dir, i)
	}
	return dir
}

// hgCommit adds changeset number i (fixed date) to the repository in dir.
func hgCommit(t testing.TB, dir string, i int) {
	t.Helper()
	f := filepath.Join(dir, "README.md")
	old, _ := os.ReadFile(f)
	if err := os.WriteFile(f, append(old, fmt.Sprintf("line %d\n", i)...), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "hg", "commit", "-A", "-m", fmt.Sprintf("change %d", i), "-d", fmt.Sprintf("%d 0", 1404939864+i*60))
}

var listening = regexp.MustCompile(`bound to 127\.0\.0\.1:(\d+)`)

// hgServe serves the repository at dir with `hg serve` on 127.0.0.1 under
// the path /prefix/ and returns the server's base URL (http://127.0.0.1:P).
func hgServe(t testing.TB, dir, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "hg", "serve", "-R", dir, "-a", "127.0.0.1", "-p", "0", "--prefix", prefix)
	cmd.Env = hgEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case port := <-found:
		return "http://127.0.0.1:" + port
	case <-time.After(20 * time.Second):
		t.Fatal("hg serve did not start")
	}
	return ""
}

// bareGit creates a bare Git repository at root/rel (e.g. "user/project.git").
func bareGit(t testing.TB, root, rel string) string {
	t.Helper()
	dir := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", "git", "init", "--bare", "-q", "--", dir)
	run(t, dir, "git", "config", "http.receivepack", "true")
	return dir
}

// gitHTTP serves the bare repositories under root with the real `git
// http-backend` (CGI) on 127.0.0.1 and returns the base URL.
func gitHTTP(t testing.TB, root string) string {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	h := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "REMOTE_USER=test"},
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// gitRefs lists the refs of the bare repository at dir.
func gitRefs(t testing.TB, dir string) map[string]string {
	t.Helper()
	refs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, dir, "git", "for-each-ref", "--format=%(refname) %(objectname)")), "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			refs[name] = sha
		}
	}
	return refs
}

// gitCount counts the commits reachable from ref in dir.
func gitCount(t testing.TB, dir, ref string) int {
	t.Helper()
	var n int
	fmt.Sscan(run(t, dir, "git", "rev-list", "--count", ref, "--"), &n)
	return n
}

// legacyPayload reads a recorded legacy Bitbucket payload and points its
// canon_url at base.
func legacyPayload(t testing.TB, name, base string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedWebhooks, name))
	if err != nil {
		t.Fatalf("read shared payload: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if base != "" {
		doc["canon_url"] = base
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// post sends body to url with a content type and returns status and decoded JSON.
func post(t testing.TB, client *http.Client, u, contentType string, body []byte, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	return do(t, client, req)
}

func get(t testing.TB, client *http.Client, u string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, client, req)
}

func do(t testing.TB, client *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s %s: %d, body is not a JSON object: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, data)
	}
	return resp.StatusCode, v
}

// form encodes a legacy payload as Bitbucket sent it.
func form(payload []byte) []byte { return []byte(url.Values{"payload": {string(payload)}}.Encode()) }

func mustConfig(t testing.TB, toml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(toml), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
