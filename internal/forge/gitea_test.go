package forge_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
)

const (
	gtBotToken   = "0123456789abcdef0123456789abcdefbot00000"
	gtAdminToken = "0123456789abcdef0123456789abcdefadmin000"
)

func newGiteaWorld(t *testing.T) *forgetest.Gitea {
	t.Helper()
	fake := forgetest.NewGitea(t)
	fake.AddToken(gtBotToken, "bot")
	fake.AddToken(gtAdminToken, "alice")
	fake.AddOrg("acme")
	for _, perm := range []string{"read", "write", "admin"} {
		fake.AddRepo("alice", perm)
		fake.AddCollaborator("alice", perm, "bot", perm)
	}
	fake.AddRepo("alice", "stranger")
	fake.AddRepo("alice", "archived")
	fake.AddCollaborator("alice", "archived", "bot", "admin")
	fake.Archive("alice", "archived")
	fake.AddPrivateRepo("alice", "secret")
	fake.AddPrivateRepo("acme", "private-write")
	fake.AddCollaborator("acme", "private-write", "bot", "write")
	fake.AddCollaborator("acme", "private-write", "alice", "admin")
	fake.AddPrivateRepo("acme", "private-read")
	fake.AddCollaborator("acme", "private-read", "bot", "read")
	fake.AddCollaborator("acme", "private-read", "alice", "admin")
	return fake
}

func TestGiteaPreflight(t *testing.T) {
	t.Parallel()
	fake := newGiteaWorld(t)
	configs := []struct {
		name string
		cfg  forge.Config
	}{
		{"token is bot", forge.Config{BaseURL: fake.URL, Token: gtBotToken}},
		{"bot named, API URL", forge.Config{BaseURL: fake.URL + "api/v1/", Token: gtBotToken, Bot: "bot"}},
		{"bot named, admin token", forge.Config{BaseURL: strings.TrimSuffix(fake.URL, "/"), Token: gtAdminToken, Bot: "bot"}},
	}
	cases := []struct {
		owner, project string
		want           error
		msg            string
	}{
		{owner: "nobody", project: "x", want: forge.ErrUserNotFound, msg: "gitea: nobody/x: user or organisation not found"},
		{owner: "alice", project: "missing", want: forge.ErrRepoNotFound, msg: "gitea: alice/missing: repository not found"},
		{owner: "acme", project: "missing", want: forge.ErrRepoNotFound},
		{owner: "alice", project: "stranger", want: forge.ErrNotCollaborator, msg: `gitea: alice/stranger: bot is not a collaborator: bot "bot" is not a collaborator`},
		{owner: "alice", project: "read", want: forge.ErrNoPush, msg: `gitea: alice/read: bot may not push: bot "bot" has permission "read", needs write`},
		{owner: "acme", project: "private-read", want: forge.ErrNoPush},
		{owner: "alice", project: "archived", want: forge.ErrNoPush, msg: "gitea: alice/archived: bot may not push: the repository is archived"},
		{owner: "alice", project: "write"},
		{owner: "alice", project: "admin"},
		{owner: "acme", project: "private-write"},
		{owner: "ALICE", project: "Write"},
		{owner: "..", project: "x", want: forge.ErrUserNotFound, msg: "invalid owner name"},
		{owner: "alice", project: "a?b", want: forge.ErrRepoNotFound, msg: "invalid project name"},
	}
	for _, c := range configs {
		checker, err := forge.NewGitea(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(c.name+"/"+tc.owner+"/"+tc.project, func(t *testing.T) {
				t.Parallel()
				err := checker.Preflight(context.Background(), tc.owner, tc.project)
				checkErr(t, err, tc.want, c.cfg.Token)
				if tc.want != nil && !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not contain %q", err, tc.msg)
				}
				if tc.want != nil && !forge.IsBadRequest(err) {
					t.Errorf("IsBadRequest(%v) = false", err)
				}
			})
		}
	}
	// alice's private repository: invisible to the bot's token, visible to
	// alice's, where the bot is found to have no role.
	bot, _ := forge.NewGitea(forge.Config{BaseURL: fake.URL, Token: gtBotToken})
	checkErr(t, bot.Preflight(context.Background(), "alice", "secret"), forge.ErrRepoNotFound, gtBotToken)
	admin, _ := forge.NewGitea(forge.Config{BaseURL: fake.URL, Token: gtAdminToken, Bot: "bot"})
	checkErr(t, admin.Preflight(context.Background(), "alice", "secret"), forge.ErrNotCollaborator, gtAdminToken)
	ghost, _ := forge.NewGitea(forge.Config{BaseURL: fake.URL, Token: gtAdminToken, Bot: "ghost"})
	checkErr(t, ghost.Preflight(context.Background(), "alice", "write"), forge.ErrNotCollaborator, gtAdminToken)
}

func TestGiteaPreflightRequests(t *testing.T) {
	t.Parallel()
	fake := newGiteaWorld(t)
	checker, err := forge.NewGitea(forge.Config{BaseURL: fake.URL, Token: gtBotToken})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := checker.Preflight(context.Background(), "alice", "write"); err != nil {
			t.Fatal(err)
		}
	}
	for route, want := range map[string]int{
		"GET /api/v1/repos/{owner}/{repo}": 3,
		"GET /api/v1/user":                 1, // cached
		"GET /api/v1/version":              0, // the SDK is told not to ask
		"GET *":                            0,
	} {
		if n := fake.Requests(route); n != want {
			t.Errorf("%s: %d requests, want %d", route, n, want)
		}
	}
}

func TestGiteaPreflightFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		setup     func(*forgetest.Gitea)
		token     string
		url       string
		timeout   time.Duration
		want      error
		also      error
		transient bool
		msg       string
	}{
		{name: "token refused", token: "wrong-secret-token", want: forge.ErrAuth, msg: "401"},
		{name: "server 500", setup: func(g *forgetest.Gitea) { g.Fail(500) }, token: gtBotToken, want: forge.ErrUnavailable, transient: true, msg: "500"},
		{name: "server 503", setup: func(g *forgetest.Gitea) { g.Fail(503) }, token: gtBotToken, want: forge.ErrUnavailable, transient: true},
		{name: "unreachable", url: closedURL(t), token: gtBotToken, want: forge.ErrUnavailable, transient: true},
		{name: "timeout", setup: func(g *forgetest.Gitea) { g.Delay(5 * time.Second) }, token: gtBotToken,
			timeout: 100 * time.Millisecond, want: forge.ErrUnavailable, also: context.DeadlineExceeded, transient: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newGiteaWorld(t)
			if tc.setup != nil {
				tc.setup(fake)
			}
			cfg := forge.Config{BaseURL: fake.URL, Token: tc.token, Timeout: tc.timeout}
			if tc.url != "" {
				cfg.BaseURL = tc.url
			}
			checker, err := forge.NewGitea(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = checker.Preflight(context.Background(), "alice", "write")
			if time.Since(start) > 3*time.Second {
				t.Errorf("Preflight took %v", time.Since(start))
			}
			checkErr(t, err, tc.want, tc.token)
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("error %v is not %v", err, tc.also)
			}
			if forge.IsBadRequest(err) || forge.IsTransient(err) != tc.transient {
				t.Errorf("IsBadRequest = %v, IsTransient = %v for %v", forge.IsBadRequest(err), forge.IsTransient(err), err)
			}
			if !strings.Contains(err.Error(), "gitea: alice/write") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not name alice/write or lacks %q", err, tc.msg)
			}
		})
	}
}

func TestGiteaSDKVersionProbe(t *testing.T) {
	t.Parallel()
	// The fake answers the SDK's version probe, for code that lets it ask.
	fake := forgetest.NewGitea(t)
	fake.SetVersion("11.0.1+gitea-1.22.0")
	resp, err := fake.Server.Client().Get(fake.URL + "api/v1/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || fake.Requests("GET /api/v1/version") != 1 {
		t.Errorf("version: %d, %d requests", resp.StatusCode, fake.Requests("GET /api/v1/version"))
	}
}
