package forge_test

import (
	"context"
	"strings"
	"testing"

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
	addRepoWorld(fake, gtBotToken, gtAdminToken, "read", "write", "admin")
	fake.AddCollaborator("acme", "private-write", "alice", "admin")
	return fake
}

func TestGiteaPreflight(t *testing.T) {
	t.Parallel()
	fake := newGiteaWorld(t)
	configs := botConfigs(fake.URL, fake.URL+"api/v1/", strings.TrimSuffix(fake.URL, "/"), gtBotToken, gtAdminToken)
	cases := []preflightCase{
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
	testPreflightMatrix(t, forge.KindGitea, configs, cases, true, nil)
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
	preflightOK(t, forge.KindGitea, forge.Config{BaseURL: fake.URL, Token: gtBotToken}, "alice", "write", 3)
	checkRequests(t, fake.Requests, map[string]int{
		"GET /api/v1/repos/{owner}/{repo}": 3,
		"GET /api/v1/user":                 1, // cached
		"GET /api/v1/version":              0, // the SDK is told not to ask
		"GET *":                            0,
	})
}

func TestGiteaPreflightFaults(t *testing.T) {
	t.Parallel()
	testFaults(t, forge.KindGitea, func(t *testing.T) (faultyFake, string) {
		fake := newGiteaWorld(t)
		return fake, fake.URL
	}, append(serverFaults(gtBotToken, closedURL(t)),
		faultCase{name: "token refused", cfg: forge.Config{Token: "wrong-secret-token"}, want: forge.ErrAuth, msg: "401"},
	), "alice", "write", "gitea: alice/write")
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
