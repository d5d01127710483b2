package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/config/configtest"
	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
	"github.com/synchroniser/synchroniser/internal/hook"
	"github.com/synchroniser/synchroniser/internal/kitrun"
	"github.com/synchroniser/synchroniser/internal/store"
)

const (
	botLogin   = "synchroniser-bot"
	botToken   = "ghp_TESTTOKENdoNotLeak0123456789"
	adminToken = "admin-SECRET-token-4242"
	hookSecret = "generic-HOOK-secret-77"
)

// env is a Server on an httptest.Server with a real SQLite store, the real
// queue and the fake GitHub API.
type env struct {
	t      testing.TB
	cfg    *config.Config
	srv    *Server
	http   *httptest.Server
	client *http.Client
	store  *store.Store
	gh     *forgetest.GitHub
	logs   *kitrun.Buffer
}

// baseTOML is the configuration tests start from: seed mapping onto the fake
// GitHub, sources on 127.0.0.1 over http, the generic hook enabled.
func baseTOML(gh *forgetest.GitHub, dataDir string) string {
	return fmt.Sprintf(`
data_dir = %q
admin_token = %q
[bot]
login = %q
[destination]
token = %q
[source]
schemes = ["https", "http", "ssh"]
allow_private = true
[hooks.generic]
enabled = true
secret = %q
[hooks.github]
enabled = true
secret = %q
[limits]
max_body = "64KiB"
rate_per_source = 0
[seed]
enabled = true
git_host = "https://github.com"
forge = "github"
api_url = %q
`, dataDir, adminToken, botLogin, botToken, hookSecret, hookSecret, gh.URL)
}

func newEnv(t testing.TB, tweak func(c *config.Config)) *env {
	t.Helper()
	gh := forgetest.NewGitHub(t)
	gh.AddToken(botToken, botLogin)
	gh.AddUser("elevenbits")
	gh.AddRepo("elevenbits", "hub")
	gh.AddCollaborator("elevenbits", "hub", botLogin, "write")
	dir := t.TempDir()
	cfg := configtest.Parse(t, baseTOML(gh, dir), "test.toml", tweak)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Driver: store.SQLite, Path: migratedDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &kitrun.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q := newTestQueue(t, cfg, st, log)
	srv, err := New(Options{
		Config: cfg, Store: st, Queue: q, Logger: log,
		Ready: map[string]func(context.Context) error{
			"database": func(ctx context.Context) error { return st.DB().PingContext(ctx) },
			"hg":       func(context.Context) error { _, err := exec.LookPath(cfg.Tools.Hg); return err },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &env{t: t, cfg: cfg, srv: srv, http: hs, client: hs.Client(), store: st, gh: gh, logs: logs}
}

func (e *env) url(path string) string { return e.http.URL + path }

// page gets path and returns the response (its body read and closed) and
// the body.
func (e *env) page(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, data := send(t, e.client, req)
	return resp, string(data)
}

// wantGet gets path and checks the answer as wantJSON does; it returns
// the body.
func (e *env) wantGet(t *testing.T, what, path string, wantStatus int, key, want string) map[string]any {
	t.Helper()
	status, body := get(t, e.client, e.url(path))
	wantJSON(t, what, status, body, wantStatus, key, want)
	return body
}

// wantJSON checks status and that key's value contains want.
func wantJSON(t *testing.T, what string, status int, body map[string]any, wantStatus int, key, want string) {
	t.Helper()
	got, _ := body[key].(string)
	if status != wantStatus || !strings.Contains(got, want) {
		t.Errorf("%s: %d %v, want %d with %s containing %q", what, status, body, wantStatus, key, want)
	}
}

func TestLegacyRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	hg := legacyPayload(t, "hg-push-elevenbits-hub.json", "")
	withCanon := func(canon string) []byte {
		return bytes.Replace(hg, []byte(`"canon_url":"https://bitbucket.org"`), []byte(`"canon_url":`+fmt.Sprintf("%q", canon)), 1)
	}
	if !bytes.Contains(hg, []byte(`"canon_url":"https://bitbucket.org"`)) {
		t.Fatalf("payload shape changed: %s", hg)
	}
	big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 70<<10)...)
	big = append(big, `"}`...)
	cases := []struct {
		name, path, ctype string
		body              []byte
		status            int
		key, msg          string
	}{
		{"empty POST", "/synchronise/", "", nil, 400, "error", "no JSON payload"},
		{"empty form", "/synchronise/", "application/x-www-form-urlencoded", nil, 400, "error", "no JSON payload"},
		{"invalid json document", "/synchronise/", "application/json", []byte(`{ "invalid": "json" }`), 400, "error", "repository"},
		{"invalid json as form", "/synchronise/", "application/x-www-form-urlencoded", form([]byte(`{ "invalid": "json" }`)), 400, "error", "repository"},
		{"broken json text/plain", "/synchronise/", "text/plain", []byte(`{ "invalid": "json }`), 400, "error", "invalid JSON"},
		{"truncated json", "/synchronise/", "application/json", hg[:len(hg)/2], 400, "error", "invalid JSON"},
		{"malformed form", "/synchronise/", "application/x-www-form-urlencoded", []byte("payload=%zz%"), 400, "error", "malformed form encoding"},
		{"git push larhauga", "/synchronise/", "application/x-www-form-urlencoded", form(legacyPayload(t, "git-push-larhauga-posthooktest.json", "")), 400, "error", `scm "git"`},
		{"git push arifsetiawan", "/synchronise/", "application/json", legacyPayload(t, "git-push-arifsetiawan-jepretdummy.json", ""), 400, "error", `scm "git"`},
		{"huge body", "/synchronise/", "application/json", big, 413, "error", "too large"},
		{"proxycommand", "/synchronise/", "application/json", withCanon("ssh://-oProxyCommand=touch /tmp/pwned"), 400, "error", "invalid repository URL in payload"},
		{"proxycommand host", "/synchronise/", "application/json", withCanon("ssh://-oProxyCommand=x"), 400, "error", "invalid repository URL in payload"},
		{"ext transport", "/synchronise/", "application/json", withCanon("ext::sh -c touch% /tmp/pwned"), 400, "error", "invalid repository URL in payload"},
		{"file url", "/synchronise/", "application/json", withCanon("file:///etc"), 400, "error", "invalid repository URL in payload"},
		{"destination user missing", "/synchronise/nobody/hub/", "application/json", hg, 400, "error", `destination user "nobody" does not exist on github`},
		{"destination project missing", "/synchronise/elevenbits/nothere/", "application/json", hg, 400, "error", "destination repository elevenbits/nothere does not exist on github"},
		{"invalid destination user", "/synchronise/-x/hub/", "application/json", hg, 400, "error", "invalid destination user"},
		{"wrong method", "/synchronise/", "", nil, 405, "error", "method not allowed"},
	}
	for _, tc := range cases {
		method := http.MethodPost
		if tc.status == 405 {
			method = http.MethodGet
		}
		req, _ := http.NewRequest(method, e.url(tc.path), bytes.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		status, body := do(t, e.client, req)
		wantJSON(t, tc.name, status, body, tc.status, tc.key, tc.msg)
		if tc.status >= 400 && body["error"] == "" {
			t.Errorf("%s: empty error message", tc.name)
		}
	}

	// The bot is not a collaborator.
	e.gh.AddRepo("elevenbits", "public")
	status, body := post(t, e.client, e.url("/synchronise/elevenbits/public/"), "application/json", hg)
	wantJSON(t, "bot not collaborator", status, body, 400, "error", `"synchroniser-bot" is not a collaborator on elevenbits/public`)
	e.gh.AddPrivateRepo("elevenbits", "secret")
	e.gh.AddCollaborator("elevenbits", "secret", botLogin, "read")
	status, body = post(t, e.client, e.url("/synchronise/elevenbits/secret/"), "application/json", hg)
	wantJSON(t, "bot read-only", status, body, 400, "error", `"synchroniser-bot" may not push to elevenbits/secret`)

	// The forge is down: a server fault.
	e.gh.Fail(http.StatusServiceUnavailable)
	status, body = post(t, e.client, e.url("/synchronise/"), "application/json", hg)
	wantJSON(t, "forge down", status, body, 500, "error", "cannot check destination elevenbits/hub on github")
	if strings.Contains(fmt.Sprint(body), botToken) || strings.Contains(e.logs.String(), botToken) {
		t.Error("token leaked")
	}
}

// TestSourcePolicy: URLs the payload syntax allows but the deployment's
// source policy does not.
func TestSourcePolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.Source.AllowPrivate = false
		c.Source.Schemes = []string{"https"}
		c.Source.Hosts = []string{"bitbucket.org", "10.0.0.1", "127.0.0.1"}
	})
	hg := legacyPayload(t, "hg-push-elevenbits-hub.json", "")
	for _, tc := range []struct{ canon, msg string }{
		{"https://10.0.0.1", "address not public"},
		{"https://127.0.0.1:8443", "address not public"},
		{"http://bitbucket.org", "scheme not allowed"},
		{"https://evil.example.org", "host not allowed"},
	} {
		body := bytes.Replace(hg, []byte(`"canon_url":"https://bitbucket.org"`), []byte(`"canon_url":"`+tc.canon+`"`), 1)
		status, answer := post(t, e.client, e.url("/synchronise/"), "application/json", body)
		wantJSON(t, tc.canon, status, answer, 400, "error", "source URL refused")
		wantJSON(t, tc.canon, status, answer, 400, "error", tc.msg)
	}
}

func TestLegacyDisabledAndNoMirror(t *testing.T) {
	t.Parallel()
	hg := legacyPayload(t, "hg-push-elevenbits-hub.json", "")
	off := newEnv(t, func(c *config.Config) { c.Legacy.Enabled = false })
	status, body := post(t, off.client, off.url("/synchronise/"), "application/json", hg)
	wantJSON(t, "legacy disabled", status, body, 404, "error", "disabled")

	noSeed := newEnv(t, func(c *config.Config) { c.Seed.Enabled = false })
	status, body = post(t, noSeed.client, noSeed.url("/synchronise/"), "application/json", hg)
	wantJSON(t, "no mirror", status, body, 400, "error", "no mirror is configured for this repository: elevenbits/hub")

	tok := newEnv(t, func(c *config.Config) { c.Legacy.Token = "legacy-token" })
	status, body = post(t, tok.client, tok.url("/synchronise/"), "application/json", hg)
	wantJSON(t, "legacy token missing", status, body, 401, "error", "token")
}

func TestNotFoundAndMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.wantGet(t, "unknown route", "/nothing/here", 404, "error", "not found")
	req, _ := http.NewRequest(http.MethodDelete, e.url("/api/mirrors"), nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "GET") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("DELETE /api/mirrors: %d Allow=%q type=%q", resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"))
	}
	e.wantGet(t, "GET hook", "/hooks/github", 405, "error", "method not allowed")
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.wantGet(t, "healthz", "/healthz", 200, "status", "ok")
	e.wantGet(t, "readyz", "/readyz", 200, "status", "ready")

	bad := newEnv(t, func(c *config.Config) { c.Tools.Hg = "/nonexistent/hg" })
	body := bad.wantGet(t, "readyz without hg", "/readyz", 503, "status", "not ready")
	if checks, _ := body["checks"].(map[string]any); checks["database"] != "ok" || !strings.Contains(fmt.Sprint(checks["hg"]), "/nonexistent/hg") {
		t.Errorf("checks = %v", body["checks"])
	}
}

func TestHooksRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	gen := []byte(`{"repository":"team/repo","url":"http://127.0.0.1:1/team/repo","scm":"hg"}`)
	cases := []struct {
		name, path string
		body       []byte
		headers    []string
		status     int
		key, msg   string
	}{
		{"disabled provider", "/hooks/gitlab", gen, nil, 404, "error", `"gitlab" is not enabled`},
		{"unknown provider", "/hooks/myspace", gen, nil, 404, "error", "not enabled"},
		{"generic without token", "/hooks/generic", gen, nil, 401, "error", "missing bearer token"},
		{"generic wrong token", "/hooks/generic", gen, []string{"Authorization: Bearer nope"}, 401, "error", "bearer token"},
		{"github bad signature", "/hooks/github", []byte(`{"zen":"x"}`), []string{"X-GitHub-Event: ping", "X-Hub-Signature-256: sha256=00"}, 401, "error", "signature"},
		{"github ping", "/hooks/github", []byte(`{"zen":"x"}`), []string{"X-GitHub-Event: ping", "X-Hub-Signature-256: sha256=" + hmacHex(hookSecret, []byte(`{"zen":"x"}`))}, 200, "message", "pong"},
		{"github issues", "/hooks/github", []byte(`{"action":"opened"}`), []string{"X-GitHub-Event: issues", "X-Hub-Signature-256: sha256=" + hmacHex(hookSecret, []byte(`{"action":"opened"}`))}, 202, "message", "ignored"},
		{"generic truncated", "/hooks/generic", gen[:10], []string{"Authorization: Bearer " + hookSecret}, 400, "error", "JSON"},
		{"generic huge", "/hooks/generic", bytes.Repeat([]byte("x"), 65<<10), []string{"Authorization: Bearer " + hookSecret}, 413, "error", "too large"},
		{"generic ext url", "/hooks/generic", []byte(`{"repository":"a/b","url":"ext::sh -c id","scm":"hg"}`), []string{"Authorization: Bearer " + hookSecret}, 400, "error", "URL"},
		{"generic no mirror for git", "/hooks/generic", []byte(`{"repository":"a/b","url":"http://127.0.0.1:1/a/b","scm":"git"}`), []string{"Authorization: Bearer " + hookSecret}, 400, "error", "git"},
	}
	for _, tc := range cases {
		status, body := post(t, e.client, e.url(tc.path), "application/json", tc.body, tc.headers...)
		wantJSON(t, tc.name, status, body, tc.status, tc.key, tc.msg)
	}
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.Mirror = []config.MirrorConfig{{Name: "m", SCM: "hg", Source: "http://127.0.0.1:1/m", Destination: config.DestinationConfig{URL: "/nonexistent/m.git"}}}
	})
	status, body := post(t, e.client, e.url("/api/mirrors/m/sync"), "", nil)
	wantJSON(t, "no token", status, body, 403, "error", "cross-origin")
	status, body = post(t, e.client, e.url("/api/mirrors/m/sync"), "", nil, "Authorization: Bearer wrong")
	wantJSON(t, "wrong bearer", status, body, 401, "error", "invalid admin token")
	status, body = post(t, e.client, e.url("/api/mirrors/m/sync"), "application/x-www-form-urlencoded",
		[]byte("token="+adminToken), "Origin: https://evil.example")
	wantJSON(t, "cross-origin form", status, body, 403, "error", "cross-origin")
	status, body = post(t, e.client, e.url("/api/mirrors/m/sync"), "application/x-www-form-urlencoded",
		[]byte("token="+adminToken), "Sec-Fetch-Site: cross-site")
	wantJSON(t, "cross-site fetch", status, body, 403, "error", "cross-origin")
	status, body = post(t, e.client, e.url("/api/mirrors/m/sync"), "application/x-www-form-urlencoded",
		[]byte("token=wrong"), "Origin: "+e.http.URL)
	wantJSON(t, "same-origin wrong token", status, body, 401, "error", "invalid admin token")
	status, body = post(t, e.client, e.url("/api/mirrors/nope/sync"), "", nil, "Authorization: Bearer "+adminToken)
	wantJSON(t, "unknown mirror", status, body, 404, "error", "no mirror")

	disabled := newEnv(t, func(c *config.Config) { c.AdminToken = "" })
	status, body = post(t, disabled.client, disabled.url("/api/mirrors/x/sync"), "", nil, "Authorization: Bearer x")
	wantJSON(t, "admin disabled", status, body, 403, "error", "disabled")
}

func TestAPIRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.Mirror = []config.MirrorConfig{{Name: "m", SCM: "hg", Source: "http://user:pw@127.0.0.1:1/m",
			Destination: config.DestinationConfig{URL: "https://x-token:SECRETURL@example.org/m.git"}}}
	})
	ctx := context.Background()
	id, err := e.store.StartRun(ctx, store.Run{Mirror: "m", JobID: 77, Attempt: 1, TriggerKind: store.TriggerPoll})
	if err != nil {
		t.Fatal(err)
	}
	steps := []store.Step{{Name: "pull", Duration: 1500 * time.Millisecond}, {Name: "convert", Duration: 250 * time.Millisecond}, {Name: "push", Duration: 2 * time.Second}}
	if err := e.store.FinishRun(ctx, id, store.Finish{Outcome: store.OutcomeFailed, Error: "push: refused", Lag: 3, Steps: steps}); err != nil {
		t.Fatal(err)
	}
	// A seed mirror known only from the history (synced before a restart).
	if _, err := e.store.StartRun(ctx, store.Run{Mirror: "elevenbits.hub", JobID: 78, Attempt: 1, TriggerKind: store.TriggerPush}); err != nil {
		t.Fatal(err)
	}
	status, body := get(t, e.client, e.url("/api/mirrors"))
	if status != 200 {
		t.Fatalf("GET /api/mirrors: %d %v", status, body)
	}
	ms, _ := body["mirrors"].([]any)
	if len(ms) != 2 || ms[1].(map[string]any)["name"] != "elevenbits.hub" || ms[1].(map[string]any)["outcome"] != "running" {
		t.Fatalf("mirrors = %v", body)
	}
	m := ms[0].(map[string]any)
	if m["name"] != "m" || m["outcome"] != "failed" || m["last_error"] != "push: refused" || m["lag"] != 3.0 || m["last_sync"] == nil {
		t.Errorf("mirror = %v", m)
	}
	all := fmt.Sprint(body)
	if strings.Contains(all, "SECRETURL") || strings.Contains(all, "pw@") {
		t.Errorf("credentials shown: %s", all)
	}
	status, body = get(t, e.client, e.url("/api/mirrors/m"))
	if runs, _ := body["runs"].([]any); status != 200 || len(runs) != 1 {
		t.Errorf("GET /api/mirrors/m: %d %v", status, body)
	} else if got := fmt.Sprint(runs[0].(map[string]any)["steps"]); got != "[map[duration:1.5s name:pull seconds:1.5] map[duration:250ms name:convert seconds:0.25] map[duration:2s name:push seconds:2]]" {
		t.Errorf("run steps = %s", got)
	}
	if _, page := e.page(t, "/"); !strings.Contains(page, `<span class="step">pull 1.5s</span> · <span class="step">convert 250ms</span> · <span class="step">push 2s</span>`) {
		t.Errorf("status page lacks the run's steps:\n%s", page)
	}
	e.wantGet(t, "unknown mirror", "/api/mirrors/nope", 404, "error", "no mirror")
	e.wantGet(t, "bad job id", "/api/jobs/abc", 400, "error", "positive integer")
	e.wantGet(t, "unknown job", "/api/jobs/999999", 404, "error", "no job 999999")
}

func TestBodyLimitAndRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Limits.RatePerSource = 3; c.Limits.RateWindow = time.Minute })
	// Chunked (no Content-Length): cut by MaxBytesReader.
	big := io.MultiReader(strings.NewReader(`{"repository":"`), strings.NewReader(strings.Repeat("a", 200<<10)), strings.NewReader(`"}`))
	req, _ := http.NewRequest(http.MethodPost, e.url("/synchronise/"), big)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	status, body := do(t, e.client, req)
	wantJSON(t, "chunked huge body", status, body, 413, "error", "")
	for i := 0; i < 5; i++ {
		status, body = get(t, e.client, e.url("/api/mirrors"))
	}
	wantJSON(t, "rate limit", status, body, 429, "error", "too many requests")
	if status, _ := get(t, e.client, e.url("/healthz")); status != 200 {
		t.Errorf("healthz rate limited: %d", status)
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	h := e.srv.logRequests(e.srv.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal error") {
		t.Errorf("panic: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(e.logs.String(), "boom") {
		t.Error("panic not logged")
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Limits.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8"} })
	cases := []struct{ remote, xff, want string }{
		{"192.0.2.1:5", "198.51.100.7", "192.0.2.1"},                           // untrusted peer: header ignored
		{"127.0.0.1:5", "198.51.100.7", "198.51.100.7"},                        // nginx in front
		{"127.0.0.1:5", "203.0.113.9, 198.51.100.7, 10.1.2.3", "198.51.100.7"}, // rightmost untrusted
		{"127.0.0.1:5", "garbage", "127.0.0.1"},
		{"127.0.0.1:5", "", "127.0.0.1"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := e.srv.clientIP(r); got != tc.want {
			t.Errorf("clientIP(%s, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	scrape := func() string {
		_, metrics := e.page(t, "/metrics")
		return metrics
	}
	before := scrape()
	if strings.Contains(before, `synchroniser_webhook_requests_total{provider="bitbucket-legacy",status="400"}`) {
		t.Fatal("counter set before any request")
	}
	post(t, e.client, e.url("/synchronise/"), "", nil)
	post(t, e.client, e.url("/synchronise/"), "", nil)
	e.srv.Metrics().ObserveSync("m", "success", 1500*time.Millisecond, 11, 0)
	after := scrape()
	for _, want := range []string{
		`synchroniser_webhook_requests_total{provider="bitbucket-legacy",status="400"} 2`,
		`synchroniser_syncs_total{outcome="success"} 1`,
		`synchroniser_sync_duration_seconds_count{outcome="success"} 1`,
		`synchroniser_changesets_converted_total 11`,
		`synchroniser_mirror_lag_changesets{mirror="m"} 0`,
		`synchroniser_queue_depth `,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestStatusPageRenders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.Mirror = []config.MirrorConfig{{Name: "m", SCM: "hg", Source: "http://127.0.0.1:1/m<script>", Destination: config.DestinationConfig{URL: "/x.git"}}}
	})
	resp, page := e.page(t, "/")
	if resp.StatusCode != 200 || !strings.Contains(page, "Synchroniser") || !strings.Contains(page, "Sign in") {
		t.Errorf("status page: %d\n%s", resp.StatusCode, page)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Error("no CSP")
	}
	css, err := e.client.Get(e.url("/static/style.css"))
	if err != nil || css.StatusCode != 200 {
		t.Fatalf("style.css: %v %v", err, css.Status)
	}
	css.Body.Close()
	// Login: wrong token redirects with a notice, right one sets the cookie.
	jar := newJarClient(t, e)
	resp = formPost(t, jar, e.url("/login"), url.Values{"token": {"wrong"}}, e.http.URL)
	if resp.Request.URL.Query().Get("login") != "failed" {
		t.Errorf("wrong login landed on %s", resp.Request.URL)
	}
	resp = formPost(t, jar, e.url("/login"), url.Values{"token": {adminToken}}, e.http.URL)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Sign out") || !strings.Contains(string(body), "Sync now") {
		t.Errorf("after login:\n%s", body)
	}
	if strings.Contains(string(body), "m<script>") || !strings.Contains(string(body), "m&lt;script&gt;") {
		t.Error("mirror name not escaped")
	}
	if strings.Contains(string(body), adminToken) {
		t.Error("admin token on the page")
	}
}

func newJarClient(t *testing.T, e *env) *http.Client {
	t.Helper()
	c := *e.client
	jar, err := newCookieJar()
	if err != nil {
		t.Fatal(err)
	}
	c.Jar = jar
	return &c
}

func formPost(t *testing.T, c *http.Client, u string, v url.Values, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Origin", origin)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

var _ = os.Getenv

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestHooksQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	push := []byte(`{"repository":"elevenbits/hub","url":"https://bitbucket.org/elevenbits/hub","scm":"hg","refs":["default"]}`)
	auth := "Authorization: Bearer " + hookSecret
	status, body := post(t, e.client, e.url("/hooks/generic"), "application/json", push, auth, "X-Delivery-ID: d-1")
	wantJSON(t, "generic push", status, body, 202, "message", "elevenbits.hub")
	job := body["job"]
	if job == nil || body["status_url"] != fmt.Sprintf("/api/jobs/%v", job) {
		t.Fatalf("202 body %v", body)
	}
	status, body = post(t, e.client, e.url("/hooks/generic"), "application/json", push, auth, "X-Delivery-ID: d-1")
	wantJSON(t, "replayed delivery", status, body, 200, "message", "duplicate delivery")
	if body["job"] != job {
		t.Errorf("replay answered job %v, want %v", body["job"], job)
	}
	status, body = post(t, e.client, e.url("/hooks/generic"), "application/json", push, auth, "X-Delivery-ID: d-2")
	wantJSON(t, "second delivery", status, body, 202, "message", "Queued")
	if body["job"] != job {
		t.Errorf("a second push while the job waits should join it: job %v, want %v", body["job"], job)
	}
	if n, err := e.srv.queue.Depth(context.Background()); err != nil || n != 1 {
		t.Errorf("queue depth %d, %v; want 1 (one job per mirror)", n, err)
	}
	status, body = get(t, e.client, e.url(fmt.Sprintf("/api/jobs/%v", job)))
	if j, _ := body["job"].(map[string]any); status != 200 || j["mirror"] != "elevenbits.hub" || j["state"] != JobQueued {
		t.Errorf("GET job: %d %v", status, body)
	}
	// The seed mirror is now listed and can be looked up by name.
	status, body = get(t, e.client, e.url("/api/mirrors/elevenbits.hub"))
	if m, _ := body["mirror"].(map[string]any); status != 200 || m["configured"] != false || m["source"] != "https://bitbucket.org/elevenbits/hub" {
		t.Errorf("GET seed mirror: %d %v", status, body)
	}
	// The legacy endpoint queues too, and joins the same job.
	status, body = post(t, e.client, e.url("/synchronise/"), "application/x-www-form-urlencoded", form(legacyPayload(t, "hg-push-elevenbits-hub.json", "")))
	wantJSON(t, "legacy push", status, body, 202, "message", "Queued synchronisation of elevenbits/hub to elevenbits/hub")
	if body["job"] != job {
		t.Errorf("legacy push: job %v, want %v", body["job"], job)
	}
}

func TestAdminSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.Mirror = []config.MirrorConfig{{Name: "m", SCM: "hg", Source: "http://127.0.0.1:1/m", Destination: config.DestinationConfig{URL: "/nonexistent/m.git"}}}
	})
	status, body := post(t, e.client, e.url("/api/mirrors/m/sync"), "", nil, "Authorization: Bearer "+adminToken)
	wantJSON(t, "bearer sync", status, body, 202, "message", "Queued synchronisation of mirror m")
	// A browser: sign in, then the form posts with the session cookie.
	jar := newJarClient(t, e)
	formPost(t, jar, e.url("/login"), url.Values{"token": {adminToken}}, e.http.URL).Body.Close()
	resp := formPost(t, jar, e.url("/api/mirrors/m/sync"), url.Values{}, e.http.URL)
	resp.Body.Close()
	if resp.Request.URL.Path != "/" || resp.Request.URL.Query().Get("job") != fmt.Sprint(body["job"]) {
		t.Errorf("browser sync landed on %s", resp.Request.URL)
	}
	// The cookie alone, cross-origin, is refused.
	resp = formPost(t, jar, e.url("/api/mirrors/m/sync"), url.Values{}, "https://evil.example")
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin with cookie: %d", resp.StatusCode)
	}
}

// TestProvidersRegistered: every provider the configuration accepts has a
// parser, so an enabled provider never answers "not supported".
func TestProvidersRegistered(t *testing.T) {
	t.Parallel()
	for _, p := range config.Providers {
		if _, ok := hook.Lookup(p); !ok {
			t.Errorf("provider %q is configurable but has no parser", p)
		}
	}
}
