package forge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
)

const (
	botToken   = "ghp_bottoken0123456789"
	adminToken = "ghp_admintoken0123456789"
)

// newGitHubWorld returns a fake GitHub where "bot" has every kind of role on
// alice's repositories.
func newGitHubWorld(t *testing.T, fake *forgetest.GitHub) *forgetest.GitHub {
	t.Helper()
	if fake == nil {
		fake = forgetest.NewGitHub(t)
	}
	addRepoWorld(fake, botToken, adminToken, "read", "triage", "write", "maintain", "admin")
	fake.AddRepo("octo_acme", "tool") // an Enterprise Managed User
	fake.AddCollaborator("octo_acme", "tool", "bot", "write")
	return fake
}

func TestGitHubPreflight(t *testing.T) {
	t.Parallel()
	fake := newGitHubWorld(t, nil)
	configs := botConfigs(fake.URL, fake.URL, fake.URL, botToken, adminToken)
	// want is the answer when the token is the bot's; wantAdmin, when set,
	// the answer when the token is alice's (who sees her own private
	// repositories and may read collaborators' permissions).
	cases := []preflightCase{
		{owner: "nobody", project: "x", want: forge.ErrUserNotFound, msg: "github: nobody/x: user or organisation not found"},
		{owner: "alice", project: "missing", want: forge.ErrRepoNotFound, msg: "github: alice/missing: repository not found"},
		{owner: "acme", project: "missing", want: forge.ErrRepoNotFound, msg: "github: acme/missing: repository not found"},
		// Private repositories the token cannot see look missing, as on GitHub.
		{owner: "alice", project: "secret", want: forge.ErrRepoNotFound, wantAdmin: forge.ErrNotCollaborator, msg: "github: alice/secret: repository not found"},
		{owner: "acme", project: "private-write", wantAdmin: forge.ErrRepoNotFound},
		{owner: "alice", project: "stranger", want: forge.ErrNotCollaborator, msg: "github: alice/stranger: bot is not a collaborator"},
		// On a public repository everyone may pull: the bot's own token
		// cannot tell a read-only collaborator from a stranger.
		{owner: "alice", project: "read", want: forge.ErrNotCollaborator, wantAdmin: forge.ErrNoPush, msg: "github: alice/read: bot is not a collaborator"},
		{owner: "alice", project: "triage", want: forge.ErrNoPush, msg: "github: alice/triage: bot may not push"},
		{owner: "acme", project: "private-read", want: forge.ErrNoPush, wantAdmin: forge.ErrNoPush, // alice administers it
			msg: "github: acme/private-read: bot may not push"},
		{owner: "alice", project: "archived", want: forge.ErrNoPush, msg: "github: alice/archived: bot may not push: the repository is archived"},
		{owner: "alice", project: "write"},
		{owner: "alice", project: "maintain"},
		{owner: "alice", project: "admin"},
		{owner: "ALICE", project: "Write"}, // GitHub names are case-insensitive
		{owner: "octo_acme", project: "tool", wantAdmin: forge.ErrNoPush},
		{owner: "../users", project: "x", want: forge.ErrUserNotFound, msg: "invalid owner name"},
		{owner: "alice", project: "..", want: forge.ErrRepoNotFound, msg: "invalid project name"},
		{owner: "alice", project: "a/b", want: forge.ErrRepoNotFound, msg: "invalid project name"},
	}
	// msg holds under the bot's own token; the errors must name the bot.
	testPreflightMatrix(t, forge.KindGitHub, configs, cases, false, func(t *testing.T, err, want error, tc preflightCase) {
		if (errors.Is(want, forge.ErrNoPush) || errors.Is(want, forge.ErrNotCollaborator)) && tc.project != "archived" {
			if !strings.Contains(err.Error(), `"bot"`) {
				t.Errorf("error %q does not name the bot", err)
			}
		}
	})
}

func TestGitHubPreflightRequests(t *testing.T) {
	t.Parallel()
	fake := newGitHubWorld(t, nil)
	checker := preflightOK(t, forge.KindGitHub, forge.Config{BaseURL: fake.URL, Token: botToken}, "alice", "write", 1)
	// The common case costs one request.
	if n := fake.TotalRequests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	checkRequests(t, fake.Requests, map[string]int{"GET /repos/{owner}/{repo}": 1})
	// A failure names the bot: GET /user once, then cached.
	for range 2 {
		if err := checker.Preflight(context.Background(), "acme", "private-read"); !errors.Is(err, forge.ErrNoPush) {
			t.Fatalf("Preflight: %v, want ErrNoPush", err)
		}
	}
	checkRequests(t, fake.Requests, map[string]int{"GET /user": 1})
}

func TestGitHubPreflightFaults(t *testing.T) {
	t.Parallel()
	cfg := forge.Config{Token: botToken}
	testFaults(t, forge.KindGitHub, func(t *testing.T) (faultyFake, string) {
		fake := newGitHubWorld(t, nil)
		return fake, fake.URL
	}, append(serverFaults(botToken, closedURL(t)+"/"),
		faultCase{name: "token refused", cfg: forge.Config{Token: "ghp_wrong_secret_token"}, want: forge.ErrAuth,
			msg: "github: alice/write: token refused: get repository"},
		faultCase{name: "no token", cfg: forge.Config{}, want: forge.ErrAuth},
		faultCase{name: "rate limited 429", fail: 429, cfg: cfg, want: forge.ErrUnavailable, transient: true},
		faultCase{name: "unexpected 418", fail: 418, cfg: cfg},
		faultCase{name: "caller deadline", delay: 5 * time.Second, cfg: cfg, ctxTO: 100 * time.Millisecond,
			want: forge.ErrUnavailable, also: context.DeadlineExceeded, transient: true},
	), "alice", "write", "alice/write")
}

func TestGitHubEnterprise(t *testing.T) {
	t.Parallel()
	fake := newGitHubWorld(t, forgetest.NewGitHubEnterprise(t))
	if !strings.HasSuffix(fake.URL, "/api/v3/") {
		t.Fatalf("enterprise URL %q", fake.URL)
	}
	for _, base := range []string{fake.URL, strings.TrimSuffix(fake.URL, "/")} {
		checker, err := forge.NewGitHub(forge.Config{BaseURL: base, Token: botToken})
		if err != nil {
			t.Fatal(err)
		}
		if err := checker.Preflight(context.Background(), "alice", "write"); err != nil {
			t.Errorf("BaseURL %s: %v", base, err)
		}
		err = checker.Preflight(context.Background(), "alice", "triage")
		checkErr(t, err, forge.ErrNoPush, botToken)
		err = checker.Preflight(context.Background(), "nobody", "x")
		checkErr(t, err, forge.ErrUserNotFound, botToken)
	}
	// The API root without /api/v3/ is not the API: every route is 404.
	root := strings.TrimSuffix(fake.URL, "api/v3/")
	checker, err := forge.NewGitHub(forge.Config{BaseURL: root, Token: botToken})
	if err != nil {
		t.Fatal(err)
	}
	if err := checker.Preflight(context.Background(), "alice", "write"); err == nil {
		t.Error("Preflight against the server root succeeded")
	}
}

func TestGitHubBadConfig(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"ftp://example.com/", "://", "https://user:pw@example.com/api/v3/", "example.com"} {
		if _, err := forge.NewGitHub(forge.Config{BaseURL: base}); err == nil {
			t.Errorf("NewGitHub(BaseURL %q) succeeded", base)
		}
	}
}

func TestFakeGitHubUnknownRoute(t *testing.T) {
	t.Parallel()
	fake := forgetest.NewGitHub(t)
	resp, err := http.Get(fake.URL + "nope/nothing")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Message != "Not Found" || !strings.HasPrefix(body.DocumentationURL, "https://docs.github.com/") {
		t.Errorf("unknown route body: %+v", body)
	}
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("unknown route: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// Without the repository's permissions object the checker asks the
// collaborator permission endpoint, for the token's own login.
func TestGitHubPreflightPermissionEndpoint(t *testing.T) {
	t.Parallel()
	fake := newGitHubWorld(t, nil)
	fake.HidePermissions()
	cases := []struct {
		token, owner, project string
		want                  error
	}{
		{botToken, "alice", "write", nil},
		{botToken, "alice", "maintain", nil},
		{botToken, "alice", "admin", nil},
		{botToken, "alice", "read", forge.ErrNoPush},                // 403: only pushers may ask
		{botToken, "alice", "stranger", forge.ErrNoPush},            // idem: indistinguishable
		{adminToken, "alice", "read", forge.ErrNoPush},              // "read"
		{adminToken, "alice", "triage", forge.ErrNoPush},            // "read", role triage
		{adminToken, "alice", "stranger", forge.ErrNotCollaborator}, // "none"
		{adminToken, "alice", "write", nil},
	}
	for _, tc := range cases {
		checker, err := forge.NewGitHub(forge.Config{BaseURL: fake.URL, Token: tc.token, Bot: map[string]string{botToken: "", adminToken: "bot"}[tc.token]})
		if err != nil {
			t.Fatal(err)
		}
		err = checker.Preflight(context.Background(), tc.owner, tc.project)
		checkErr(t, err, tc.want, tc.token)
		if tc.want != nil && !strings.Contains(err.Error(), `bot "bot"`) {
			t.Errorf("error %q does not name the bot", err)
		}
	}
	if n := fake.Requests("GET /repos/{owner}/{repo}/collaborators/{username}/permission"); n != len(cases) {
		t.Errorf("permission endpoint asked %d times, want %d", n, len(cases))
	}
}
