package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/config/configtest"
	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/kitrun"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// The real legacy payloads, read in place beside the repository.
const legacyPayloads = "../../../shared/webhooks/bitbucket-legacy"

const (
	e2eBot   = "synchroniser-bot"
	e2eToken = "ghp_E2EsecretTOKEN0123456789abcdef"
	e2eAdmin = "e2e-ADMIN-secret-31337"
)

// e2eCommit appends line i to README.md of the repository in dir and
// commits it as "change i" at a fixed date.
func e2eCommit(t testing.TB, dir string, i int) {
	t.Helper()
	r := hgtest.Open(t, dir)
	old, _ := os.ReadFile(r.Path("README.md"))
	r.Commit(hgtest.WithMessage(fmt.Sprintf("change %d", i)), hgtest.WithDate(fmt.Sprintf("%d 0", 1404939864+60*i)), hgtest.WithFile("README.md", string(old)+fmt.Sprintf("line %d\n", i)))
}

// e2e is the whole service (store, queue with workers, web) on an
// httptest.Server, mirroring a real hg repository served by `hg serve` to
// real bare Git repositories, with the fake GitHub API for preflight.
type e2e struct {
	t       *testing.T
	cfg     *config.Config
	svc     *service
	srv     *httptest.Server
	hgDir   string // the source repository
	hgURL   string // hg serve base URL (canon_url)
	gitRoot string // destination repositories
	gitURL  string // git http-backend base URL
	gh      *forgetest.GitHub
	logs    *kitrun.Buffer
	slug    string // repository slug the payloads name (default hub)
	// seen collects every answer body, for the secrets check.
	seenMu sync.Mutex
	seen   bytes.Buffer
}

// newE2E starts everything. destKind: "http" (git http-backend, GitHub
// preflight against the fake) or "file" (a local bare repository, plain Git
// preflight with ls-remote).
func newE2E(t *testing.T, destKind string, tweak func(*config.Config)) *e2e {
	return newE2EWorkers(t, destKind, tweak, true)
}

// newE2EWorkers is newE2E, with or without in-process workers.
func newE2EWorkers(t *testing.T, destKind string, tweak func(*config.Config), workers bool) *e2e {
	t.Helper()
	e := &e2e{t: t, logs: &kitrun.Buffer{}}
	e.hgDir = filepath.Join(t.TempDir(), "hub")
	hgtest.Run(t, "", "init", "--", e.hgDir)
	for i := 0; i < 3; i++ {
		e2eCommit(t, e.hgDir, i)
	}
	e.hgURL = hgtest.Serve(t, hgtest.Open(t, e.hgDir), hgtest.WithPrefix("elevenbits/hub")).Base
	e.gitRoot = t.TempDir()
	gittest.BareAt(t, filepath.Join(e.gitRoot, "elevenbits/hub.git"))
	e.gh = forgetest.NewGitHub(t)
	e.gh.AddToken(e2eToken, e2eBot)
	e.gh.AddUser("elevenbits")
	e.gh.AddRepo("elevenbits", "hub")
	e.gh.AddCollaborator("elevenbits", "hub", e2eBot, "write")

	gitHost, forgeKind, allowFile := "", "github", "false"
	switch destKind {
	case "http":
		e.gitURL = gittest.HTTPServer(t, e.gitRoot, "").URL
		gitHost = e.gitURL
	case "file":
		gitHost, forgeKind, allowFile = "file://"+e.gitRoot, "", "true"
	case "private": // plain Git over http, token required: ls-remote preflight as the bot
		e.gitURL = gittest.HTTPServer(t, e.gitRoot, e2eToken).URL
		gitHost, forgeKind = e.gitURL, ""
	default:
		t.Fatalf("dest kind %q", destKind)
	}
	toml := fmt.Sprintf(`
data_dir = %q
admin_token = %q
[log]
format = "json"
level = "debug"
[bot]
login = %q
[destination]
token = %q
[source]
schemes = ["https", "http"]
allow_private = true
allow_file = %s
[limits]
concurrent_syncs = 2
subprocess_timeout = "1m"
sync_timeout = "2m"
rate_per_source = 0
[legacy]
wait_timeout = "90s"
[seed]
enabled = true
source_host = %q
git_host = %q
forge = %q
api_url = %q
`, t.TempDir(), e2eAdmin, e2eBot, e2eToken, allowFile, e.hgURL, gitHost, forgeKind, e.gh.URL)
	cfg := configtest.Parse(t, toml, "e2e.toml", tweak)
	e.cfg = cfg
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := newService(context.Background(), cfg, log, workers)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.srv = httptest.NewServer(svc.Handler)
	t.Cleanup(func() { e.srv.Close(); svc.Close(context.Background()) })
	return e
}

func (e *e2e) dest() string { return filepath.Join(e.gitRoot, "elevenbits/hub.git") }

// payload is the real recorded push, canon_url pointed at hg serve.
func (e *e2e) payload(name string) []byte {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(legacyPayloads, name))
	if err != nil {
		e.t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		e.t.Fatal(err)
	}
	doc["canon_url"] = e.hgURL
	if e.slug != "" {
		repo := doc["repository"].(map[string]any)
		repo["slug"], repo["name"] = e.slug, e.slug
		repo["absolute_url"] = fmt.Sprintf("/%s/%s/", repo["owner"], e.slug)
	}
	out, _ := json.Marshal(doc)
	return out
}

// do sends a request and decodes the JSON answer.
func (e *e2e) do(method, path, ctype string, body []byte, headers ...string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	e.seenMu.Lock()
	e.seen.Write(data)
	e.seenMu.Unlock()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil && resp.Header.Get("Content-Type") != "" && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		e.t.Fatalf("%s %s: bad JSON: %v\n%s", method, path, err, data)
	}
	if v == nil {
		v = map[string]any{"raw": string(data)}
	}
	return resp.StatusCode, v
}

// waitJob polls the job's status URL until it has finished.
func (e *e2e) waitJob(statusURL string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		status, body := e.do(http.MethodGet, statusURL, "", nil)
		if status != 200 {
			e.t.Fatalf("GET %s: %d %v", statusURL, status, body)
		}
		job, _ := body["job"].(map[string]any)
		switch job["state"] {
		case "succeeded", "failed", "cancelled":
			return job
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("job %s did not finish; logs:\n%s", statusURL, e.logs.String())
	return nil
}

func form(payload []byte) []byte { return []byte(url.Values{"payload": {string(payload)}}.Encode()) }

// TestServeEndToEnd is the scenario: the real legacy payload in both
// encodings, a real hg repository behind hg serve, real bare Git
// destinations (over git http-backend with GitHub preflight, and local),
// and a second push that converts only the new changeset.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"http", "file"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newE2E(t, kind, nil)
			hgPush := e.payload("hg-push-elevenbits-hub.json")

			// First push, form-encoded as Bitbucket sent it: queued, then synced.
			status, body := e.do(http.MethodPost, "/synchronise/", "application/x-www-form-urlencoded", form(hgPush))
			if status != http.StatusAccepted || body["status_url"] == nil || !strings.Contains(fmt.Sprint(body["message"]), "elevenbits/hub") {
				t.Fatalf("first push: %d %v\nlogs:\n%s", status, body, e.logs.String())
			}
			job := e.waitJob(body["status_url"].(string))
			if job["state"] != "succeeded" || job["changesets"] != 3.0 {
				t.Fatalf("first job: %v\nlogs:\n%s", job, e.logs.String())
			}
			if n := gittest.Count(t, e.dest(), "refs/heads/master"); n != 3 {
				t.Fatalf("destination master has %d commits, want 3", n)
			}
			hgTip := strings.TrimSpace(hgtest.Run(t, e.hgDir, "log", "-r", "tip", "-T", "{desc}"))
			gitTip := strings.TrimSpace(gittest.Run(t, e.dest(), "log", "-1", "--format=%s", "refs/heads/master"))
			if hgTip != gitTip {
				t.Errorf("tip message: hg %q, git %q", hgTip, gitTip)
			}

			// Mark the cache: a re-clone would lose the marker.
			hgRoot := newSyncer(e.cfg, nil, slog.New(slog.DiscardHandler)).HgRoot("elevenbits.hub")
			marker := filepath.Join(hgRoot, ".hg", "e2e-marker")
			if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
				t.Fatalf("cache not where expected: %v", err)
			}

			// Second push, raw JSON, waiting like the original service.
			e2eCommit(t, e.hgDir, 3)
			status, body = e.do(http.MethodPost, "/synchronise/?wait=1", "application/json", hgPush)
			want := "Synchronised elevenbits/hub to elevenbits/hub: 1 changeset, refs refs/heads/master"
			if status != http.StatusOK || body["message"] != want {
				t.Fatalf("second push: %d %v, want 200 %q\nlogs:\n%s", status, body, want, e.logs.String())
			}
			if n := gittest.Count(t, e.dest(), "refs/heads/master"); n != 4 {
				t.Fatalf("destination master has %d commits, want 4", n)
			}
			if _, err := os.Stat(marker); err != nil {
				t.Errorf("the cache was re-cloned: %v", err)
			}

			// Nothing new: a third push is a no-op sync.
			status, body = e.do(http.MethodPost, "/synchronise/elevenbits/hub/?wait=1", "application/json", hgPush)
			if status != 200 || !strings.Contains(fmt.Sprint(body["message"]), "0 changesets, destination already up to date") {
				t.Errorf("third push: %d %v", status, body)
			}

			// The API and the status page show it.
			status, body = e.do(http.MethodGet, "/api/mirrors/elevenbits.hub", "", nil)
			m, _ := body["mirror"].(map[string]any)
			if status != 200 || m["outcome"] != "success" || m["lag"] != 0.0 || m["configured"] != false {
				t.Errorf("GET /api/mirrors/elevenbits.hub: %d %v", status, body)
			}
			// Every run of the history has the time of its steps.
			runs, _ := body["runs"].([]any)
			for _, r := range runs {
				var names []string
				for _, st := range r.(map[string]any)["steps"].([]any) {
					st := st.(map[string]any)
					if st["seconds"].(float64) <= 0 {
						t.Errorf("run %v: step %v", r.(map[string]any)["id"], st)
					}
					names = append(names, st["name"].(string))
				}
				if fmt.Sprint(names) != "[pull convert push]" {
					t.Errorf("run %v: steps %v", r.(map[string]any)["id"], names)
				}
			}
			if len(runs) != 3 {
				t.Errorf("%d runs in the history, want 3", len(runs))
			}
			status, body = e.do(http.MethodGet, "/metrics", "", nil)
			raw := fmt.Sprint(body["raw"])
			for _, w := range []string{`synchroniser_syncs_total{outcome="success"} 3`, `synchroniser_changesets_converted_total 4`,
				`synchroniser_webhook_requests_total{provider="bitbucket-legacy",status="202"} 1`,
				`synchroniser_webhook_requests_total{provider="bitbucket-legacy",status="200"} 2`,
				`synchroniser_mirror_lag_changesets{mirror="elevenbits.hub"} 0`} {
				if !strings.Contains(raw, w) {
					t.Errorf("metrics lack %q", w)
				}
			}
			if status != 200 {
				t.Errorf("/metrics: %d", status)
			}
		})
	}
}

// TestServeFailures covers the 400 and 500 answers that come from the sync
// itself (after the job ran), each with its message.
func TestServeFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tweak  func(*config.Config)
		setup  func(t *testing.T, e *e2e)
		path   string
		status int
		msg    string
	}{
		// hg missing or failing fails the hg transport (the native one needs no hg).
		{"hg missing", func(c *config.Config) { c.Tools.Hg, c.Tools.Transport = "/nonexistent/hg", "hg" }, nil, "/synchronise/?wait=1", 500, "Synchronising elevenbits/hub to elevenbits/hub failed"},
		{"hg failing", func(c *config.Config) { c.Tools.Hg, c.Tools.Transport = "/bin/false", "hg" }, nil, "/synchronise/?wait=1", 500, "Synchronising elevenbits/hub to elevenbits/hub failed"},
		{"push failing", nil, func(t *testing.T, e *e2e) {
			hook := filepath.Join(e.dest(), "hooks", "pre-receive")
			if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'refusing everything' >&2\nexit 1\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "/synchronise/?wait=1", 500, "push"},
		{"legacy wait configured", func(c *config.Config) { c.Legacy.Wait = true; c.Tools.Hg, c.Tools.Transport = "/nonexistent/hg", "hg" }, nil, "/synchronise/", 500, "failed"},
		{"source repository broken", nil, func(t *testing.T, e *e2e) {
			if err := os.RemoveAll(filepath.Join(e.hgDir, ".hg")); err != nil {
				t.Fatal(err)
			}
		}, "/synchronise/?wait=1", 500, "Internal Server Error"},
		{"source repository missing", nil, func(t *testing.T, e *e2e) { e.slug = "nothere" }, "/synchronise/elevenbits/hub/?wait=1", 400, "Synchronising elevenbits/nothere to elevenbits/hub failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newE2E(t, "http", tc.tweak)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			status, body := e.do(http.MethodPost, tc.path, "application/json", e.payload("hg-push-elevenbits-hub.json"))
			got := fmt.Sprint(body["error"])
			if (tc.status != 0 && status != tc.status) || (tc.status == 0 && status != 400 && status != 500) || !strings.Contains(got, tc.msg) {
				t.Fatalf("%d %v, want %d with error containing %q\nlogs:\n%s", status, body, tc.status, tc.msg, e.logs.String())
			}
			t.Logf("%d %s", status, got)
			if strings.Contains(got, e2eToken) || strings.Contains(got, e.cfg.DataDir) {
				t.Error("token or data dir in the error")
			}
		})
	}
}

// TestServeNoSecrets runs a sync with a destination token and an admin
// token configured, then looks for either in every log line, every API
// answer, the status page and the metrics.
func TestServeNoSecrets(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "http", nil)
	status, body := e.do(http.MethodPost, "/synchronise/?wait=1", "application/x-www-form-urlencoded", form(e.payload("hg-push-elevenbits-hub.json")))
	if status != 200 {
		t.Fatalf("sync: %d %v\n%s", status, body, e.logs.String())
	}
	job := body["job"]
	status, body = e.do(http.MethodPost, "/api/mirrors/elevenbits.hub/sync", "", nil, "Authorization: Bearer "+e2eAdmin)
	if status != 202 {
		t.Fatalf("admin sync: %d %v", status, body)
	}
	e.waitJob(body["status_url"].(string))
	for _, p := range []string{"/", "/api/mirrors", "/api/mirrors/elevenbits.hub", fmt.Sprintf("/api/jobs/%v", job), "/metrics", "/readyz", "/healthz"} {
		if status, _ := e.do(http.MethodGet, p, "", nil); status != 200 {
			t.Errorf("GET %s: %d", p, status)
		}
	}
	e.do(http.MethodPost, "/synchronise/nobody/x/", "application/json", e.payload("hg-push-elevenbits-hub.json"))
	e.do(http.MethodPost, "/api/mirrors/elevenbits.hub/sync", "", nil, "Authorization: Bearer wrong")
	e.seenMu.Lock()
	answers := e.seen.String()
	e.seenMu.Unlock()
	logs := e.logs.String()
	if !strings.Contains(logs, "sync") || !strings.Contains(answers, "Synchronised") {
		t.Fatal("nothing captured")
	}
	for _, secret := range []string{e2eToken, e2eAdmin} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret:\n%s", logs)
		}
		if strings.Contains(answers, secret) {
			t.Errorf("answers contain a secret:\n%s", answers)
		}
	}
}

// TestServeCommand starts `synchroniser serve` itself on the built-in
// defaults (plus environment), checks its one summary line, /healthz and
// the header size limit, and stops it with a signal-like cancel.
func TestServeCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "s.toml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n[limits]\nmax_header_bytes = \"4KiB\"\n", filepath.Join(dir, "data"))), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, "serve", "--config", cfgFile)
	addr, out := srv.addr, srv.out
	lines := strings.Count(out.String(), "synchroniser serving")
	if lines != 1 || !strings.Contains(out.String(), "database=sqlite") || !strings.Contains(out.String(), "mirrors=0") {
		t.Errorf("summary line:\n%s", out.String())
	}
	resp, err := http.Get(addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, addr+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 8<<10))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("big header: %v %v", err, resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "synchroniser.db")); err != nil {
		t.Errorf("no SQLite database in the data dir: %v", err)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve exited %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("no clean stop:\n%s", out.String())
	}

	// A bad configuration stops it at once with a clear message.
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("listen = \"nope\"\n[log]\nformat = \"xml\"\n"), 0o600)
	errOut := &kitrun.Buffer{}
	if code := run(context.Background(), []string{"serve", "--config", bad}, io.Discard, errOut); code != 2 ||
		!strings.Contains(errOut.String(), "listen") || !strings.Contains(errOut.String(), "log.format") {
		t.Errorf("bad config: exit %d\n%s", code, errOut.String())
	}
}

// TestServeDefaults starts serve with no configuration file at all: the
// built-in defaults (data under ./data, SQLite) with only the listen
// address moved by the environment.
func TestServeDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("SYNCHRONISER_CONFIG", "")
	t.Setenv("SYNCHRONISER_LISTEN", "127.0.0.1:0")
	srv := startServe(t, "serve")
	addr, out := srv.addr, srv.out
	for _, want := range []string{`config="built-in defaults"`, "database=sqlite", "data_dir=./data", "providers=synchronise", "mirrors=0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %s:\n%s", want, out.String())
		}
	}
	resp, err := http.Get(addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "synchroniser.db")); err != nil {
		t.Errorf("no ./data/synchroniser.db: %v", err)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
}

// serving is `synchroniser serve` run in the test process.
type serving struct {
	addr   string         // http://127.0.0.1:P, as logged
	out    *kitrun.Buffer // its log
	cancel context.CancelFunc
	done   chan int
}

// startServe runs `synchroniser args...` and waits (30 s at most) until it
// logs the address it serves on.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{out: &kitrun.Buffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { s.done <- run(ctx, args, io.Discard, s.out) }()
	re := regexp.MustCompile(`address=(http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && s.addr == ""; time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(s.out.String()); m != nil {
			s.addr = m[1]
		}
	}
	if s.addr == "" {
		cancel()
		t.Fatalf("no address logged:\n%s", s.out.String())
	}
	return s
}

// stop cancels the command (as SIGTERM does) and returns its exit code.
func (s *serving) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
		return -1
	}
}

// TestServePostgres runs one synchronisation with the store and the queue
// on PostgreSQL.
func TestServePostgres(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	e := newE2E(t, "file", func(c *config.Config) { c.DatabaseURL = config.Secret(dbURL) })
	if e.cfg.DatabaseKind() != "postgres" {
		t.Fatal("not on PostgreSQL")
	}
	status, body := e.do(http.MethodPost, "/synchronise/?wait=1", "application/json", e.payload("hg-push-elevenbits-hub.json"))
	if status != 200 || !strings.Contains(fmt.Sprint(body["message"]), "3 changesets") {
		t.Fatalf("%d %v\nlogs:\n%s", status, body, e.logs.String())
	}
	if n := gittest.Count(t, e.dest(), "refs/heads/master"); n != 3 {
		t.Errorf("destination has %d commits, want 3", n)
	}
	status, body = e.do(http.MethodGet, "/api/mirrors", "", nil)
	if ms, _ := body["mirrors"].([]any); status != 200 || len(ms) != 1 {
		t.Errorf("GET /api/mirrors: %d %v", status, body)
	}
}

// TestServeCacheQuota: with a tiny cache quota, syncing a second mirror
// removes the first one's cache (least recently used, idle), never the
// cache just used.
func TestServeCacheQuota(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "file", func(c *config.Config) { c.Limits.CacheQuota = 1 })
	gittest.BareAt(t, filepath.Join(e.gitRoot, "elevenbits/hub2.git"))
	cache := e.cfg.CacheDir()
	for _, dest := range []string{"hub", "hub2"} {
		status, body := e.do(http.MethodPost, "/synchronise/elevenbits/"+dest+"/?wait=1", "application/json", e.payload("hg-push-elevenbits-hub.json"))
		if status != 200 {
			t.Fatalf("sync to %s: %d %v\n%s", dest, status, body, e.logs.String())
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "elevenbits.hub")); !os.IsNotExist(err) {
		t.Errorf("the least recently used cache is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "elevenbits.hub.elevenbits.hub2", "hg", ".hg")); err != nil {
		t.Errorf("the cache just used was removed: %v", err)
	}
	if !strings.Contains(e.logs.String(), "removed the least recently used cache") {
		t.Error("eviction not logged")
	}
	// The evicted mirror syncs again (a fresh clone, nothing to push).
	status, body := e.do(http.MethodPost, "/synchronise/?wait=1", "application/json", e.payload("hg-push-elevenbits-hub.json"))
	if status != 200 || !strings.Contains(fmt.Sprint(body["message"]), "destination already up to date") {
		t.Errorf("sync after eviction: %d %v", status, body)
	}
}

// TestServeWaitTimeout: with no worker to run it (serve --no-workers and
// none elsewhere), a waiting request gives up after wait_timeout with a 500
// that points at the job, which stays queued.
func TestServeWaitTimeout(t *testing.T) {
	t.Parallel()
	e := newE2EWorkers(t, "file", func(c *config.Config) { c.Legacy.WaitTimeout = 300 * time.Millisecond }, false)
	status, body := e.do(http.MethodPost, "/synchronise/?wait=1", "application/json", e.payload("hg-push-elevenbits-hub.json"))
	msg := fmt.Sprint(body["error"])
	if status != 500 || !strings.Contains(msg, "did not finish within 300ms; it goes on, see /api/jobs/") {
		t.Fatalf("%d %v", status, body)
	}
	status, body = e.do(http.MethodGet, "/api/jobs/1", "", nil)
	if j, _ := body["job"].(map[string]any); status != 200 || j["state"] != "queued" {
		t.Errorf("job after the timeout: %d %v", status, body)
	}
}

// TestServeHookConfiguredMirror: a configured [[mirror]] synced from a
// generic webhook (what an hgweb changegroup hook sends), replays
// recognised by their delivery id.
func TestServeHookConfiguredMirror(t *testing.T) {
	t.Parallel()
	const secret = "generic-e2e-SECRET"
	e := newE2E(t, "file", func(c *config.Config) {
		c.Seed.Enabled = false
		c.Hooks = map[string]config.Provider{"generic": {Enabled: true, Secret: secret}}
		c.Mirror = []config.MirrorConfig{{
			Name: "hub", SCM: "hg", Source: c.Seed.SourceHost + "/elevenbits/hub", TipBranch: "main",
			Destination: config.DestinationConfig{URL: strings.TrimPrefix(c.Seed.GitHost, "file://") + "/elevenbits/hub.git"},
		}}
	})
	push := []byte(fmt.Sprintf(`{"repository":"elevenbits/hub","url":%q,"scm":"hg","refs":["default"]}`, e.hgURL+"/elevenbits/hub"))
	status, body := e.do(http.MethodPost, "/hooks/generic", "application/json", push, "Authorization: Bearer "+secret, "X-Delivery-ID: abc-1")
	if status != 202 {
		t.Fatalf("hook: %d %v\n%s", status, body, e.logs.String())
	}
	job := e.waitJob(body["status_url"].(string))
	if job["state"] != "succeeded" || job["mirror"] != "hub" {
		t.Fatalf("job: %v\n%s", job, e.logs.String())
	}
	if n := gittest.Count(t, e.dest(), "refs/heads/main"); n != 3 {
		t.Errorf("destination main has %d commits, want 3 (tip_branch = main)", n)
	}
	status, body = e.do(http.MethodPost, "/hooks/generic", "application/json", push, "Authorization: Bearer "+secret, "X-Delivery-ID: abc-1")
	if status != 200 || !strings.Contains(fmt.Sprint(body["message"]), "duplicate delivery") || body["job"] != job["id"] {
		t.Errorf("replay: %d %v (first job %v)", status, body, job["id"])
	}
	status, body = e.do(http.MethodPost, "/hooks/generic", "application/json", push, "Authorization: Bearer wrong")
	if status != 401 {
		t.Errorf("wrong token: %d %v", status, body)
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("hook secret in the logs")
	}
}

// TestServePrivatePlainGit: a plain Git destination that needs the token is
// checked (ls-remote) and pushed to with it; with a wrong token the
// preflight refuses the request.
func TestServePrivatePlainGit(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "private", nil)
	status, body := e.do(http.MethodPost, "/synchronise/?wait=1", "application/json", e.payload("hg-push-elevenbits-hub.json"))
	if status != 200 || !strings.Contains(fmt.Sprint(body["message"]), "3 changesets") {
		t.Fatalf("%d %v\n%s", status, body, e.logs.String())
	}
	if n := gittest.Count(t, e.dest(), "refs/heads/master"); n != 3 {
		t.Errorf("destination has %d commits, want 3", n)
	}
	bad := newE2E(t, "private", func(c *config.Config) { c.Destination.Token = "wrong-token" })
	status, body = bad.do(http.MethodPost, "/synchronise/", "application/json", bad.payload("hg-push-elevenbits-hub.json"))
	if status != 400 || !strings.Contains(fmt.Sprint(body["error"]), "is not a reachable Git repository") {
		t.Errorf("wrong token: %d %v", status, body)
	}
	if strings.Contains(fmt.Sprint(body), "wrong-token") || strings.Contains(bad.logs.String(), "wrong-token") {
		t.Error("token shown")
	}
}

// TestWorkerCommand runs `synchroniser worker` on each driver: a job queued
// by another store handle (the hook side) is synced with the worker's own
// cache (--data-dir), and cancelling the context (SIGTERM) stops it cleanly.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	storetest.EachDriver(t, testWorkerCommand)
}

func testWorkerCommand(t *testing.T, driver string) {
	dir := t.TempDir()
	r := hgtest.InitAt(t, filepath.Join(dir, "src"))
	r.Commit(hgtest.WithMessage("first"), hgtest.WithDate("1600000000 0"), hgtest.WithFile("a.txt", "a\n"))
	src := r.Dir
	dest := filepath.Join(dir, "dest.git")
	gittest.Run(t, "", "init", "-q", "--bare", "--", dest)

	dataDir := filepath.Join(dir, "data")
	scfg := store.Config{Driver: store.SQLite, Path: filepath.Join(dataDir, "synchroniser.db")}
	dbURL := ""
	if driver == store.Postgres {
		dbURL = storetest.NewDatabase(t)
		scfg = store.Config{Driver: store.Postgres, URL: dbURL}
	}
	cacheRoot := filepath.Join(dir, "worker-data")
	conf := filepath.Join(dir, "synchroniser.toml")
	toml := fmt.Sprintf(`data_dir = %q
database_url = %q

[source]
allow_file = true

[limits]
concurrent_syncs = 2

[[mirror]]
name = "demo"
scm = "hg"
source = %q
[mirror.destination]
url = %q
`, dataDir, dbURL, src, dest)
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr kitrun.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"worker", "--config", conf, "--data-dir", cacheRoot, "--id", "w1"}, &stderr, &stderr)
	}()

	// The worker creates the database; the hook side opens it when it exists.
	var st *store.Store
	var err error
	deadline := time.Now().Add(time.Minute)
	for {
		if _, serr := os.Stat(scfg.Path); driver == store.Postgres || serr == nil {
			if st, err = store.Open(context.Background(), scfg); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("open the database: %v\nworker log:\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer st.Close()
	q, err := queue.New(context.Background(), queue.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	id, err := q.Enqueue(context.Background(), "demo", queue.Push("generic", "d-1"))
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer wcancel()
	j, err := q.Wait(wctx, id)
	if err != nil {
		t.Fatalf("wait: %v\nworker log:\n%s", err, stderr.String())
	}
	if !j.Succeeded() || len(j.Runs) != 1 || j.Runs[0].Worker != "w1" {
		t.Fatalf("job = state %s err %v runs %+v\nworker log:\n%s", j.State, j.Err(), j.Runs, stderr.String())
	}
	if got := strings.TrimSpace(gittest.Run(t, "", "--git-dir="+dest, "log", "-1", "--format=%s", "refs/heads/master")); got != "first" {
		t.Fatalf("destination master message = %q", got)
	}
	if _, err := os.Stat(filepath.Join(cacheRoot, "cache", "demo")); err != nil {
		t.Fatalf("the worker's cache is not under --data-dir: %v", err)
	}

	cancel() // SIGTERM
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("worker exited with %d\n%s", c, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("worker did not stop within a minute of SIGTERM")
	}
	if log := stderr.String(); !strings.Contains(log, "worker stopped") || (dbURL != "" && strings.Contains(log, dbURL)) {
		t.Fatalf("worker log (must say it stopped and never print the database URL):\n%s", log)
	}
}

func TestWorkerCommandErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"worker", "extra"}, 2},
		{[]string{"worker", "--bogus"}, 2},
		{[]string{"worker", "--config", "/nonexistent/synchroniser.toml"}, 2},
		{[]string{"worker", "--help"}, 0},
	} {
		var out bytes.Buffer
		if got := run(context.Background(), tt.args, &out, &out); got != tt.want {
			t.Errorf("%v: exit %d, want %d\n%s", tt.args, got, tt.want, out.String())
		}
	}
}
