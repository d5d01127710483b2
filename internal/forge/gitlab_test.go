package forge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
)

const (
	glBotToken   = "glpat-bottoken0123456789"
	glAdminToken = "glpat-admintoken0123456789"
)

func newGitLabWorld(t *testing.T) *forgetest.GitLab {
	t.Helper()
	fake := forgetest.NewGitLab(t)
	fake.AddToken(glBotToken, "bot")
	fake.AddToken(glAdminToken, "alice")
	levels := map[string]int{
		"guest": forgetest.GitLabGuest, "reporter": forgetest.GitLabReporter, "developer": forgetest.GitLabDeveloper,
		"maintainer": forgetest.GitLabMaintainer, "owner": forgetest.GitLabOwner,
	}
	for name, level := range levels {
		fake.AddProject("alice", name, "public")
		fake.AddMember("alice/"+name, "bot", level)
	}
	fake.AddProject("alice", "stranger", "public")
	fake.AddProject("alice", "archived", "public")
	fake.AddMember("alice/archived", "bot", forgetest.GitLabMaintainer)
	fake.Archive("alice/archived")
	fake.AddProject("alice", "secret", "private")
	fake.AddGroup("acme")
	fake.AddGroup("acme/tools")
	fake.AddGroupMember("acme", "bot", forgetest.GitLabDeveloper)
	fake.AddProject("acme/tools", "inherited", "private")
	fake.AddGroup("other")
	fake.AddGroupMember("other", "bot", forgetest.GitLabReporter)
	fake.AddProject("other", "private-reporter", "private")
	return fake
}

func TestGitLabPreflight(t *testing.T) {
	t.Parallel()
	fake := newGitLabWorld(t)
	configs := botConfigs(fake.URL, fake.APIURL, fake.URL, glBotToken, glAdminToken)
	// wantAdmin ErrRepoNotFound: the admin token cannot see it.
	cases := []preflightCase{
		{owner: "nobody", project: "x", want: forge.ErrUserNotFound, msg: "gitlab: nobody/x: user or organisation not found"},
		{owner: "acme/nothing", project: "x", want: forge.ErrUserNotFound},
		{owner: "alice", project: "missing", want: forge.ErrRepoNotFound, msg: "gitlab: alice/missing: repository not found"},
		{owner: "acme", project: "missing", want: forge.ErrRepoNotFound},
		{owner: "acme/tools", project: "missing", want: forge.ErrRepoNotFound},
		{owner: "alice", project: "secret", want: forge.ErrRepoNotFound, wantAdmin: forge.ErrNotCollaborator}, // alice sees it; bot does not
		{owner: "alice", project: "stranger", want: forge.ErrNotCollaborator, msg: `gitlab: alice/stranger: bot is not a collaborator: bot "bot" is not a member`},
		{owner: "alice", project: "guest", want: forge.ErrNoPush, msg: `gitlab: alice/guest: bot may not push: bot "bot" has access level 10 (Guest), needs Developer (30)`},
		{owner: "alice", project: "reporter", want: forge.ErrNoPush, msg: "access level 20 (Reporter)"},
		{owner: "other", project: "private-reporter", want: forge.ErrNoPush, wantAdmin: forge.ErrRepoNotFound},
		{owner: "alice", project: "archived", want: forge.ErrNoPush, msg: "gitlab: alice/archived: bot may not push: the project is archived"},
		{owner: "alice", project: "developer"},
		{owner: "alice", project: "maintainer"},
		{owner: "alice", project: "owner"},
		{owner: "acme/tools", project: "inherited", wantAdmin: forge.ErrRepoNotFound},
		{owner: "Alice", project: "Developer"},
		{owner: "../x", project: "y", want: forge.ErrUserNotFound, msg: "invalid owner name"},
		{owner: "alice", project: "a%2Fb", want: forge.ErrRepoNotFound, msg: "invalid project name"},
	}
	testPreflightMatrix(t, forge.KindGitLab, configs, cases, true, nil)
}

func TestGitLabPreflightRequests(t *testing.T) {
	t.Parallel()
	fake := newGitLabWorld(t)
	preflightOK(t, forge.KindGitLab, forge.Config{BaseURL: fake.URL, Token: glBotToken}, "alice", "developer", 3)
	// The project's ID goes URL-encoded; the bot's ID is fetched once.
	checkRequests(t, fake.Requests, map[string]int{
		"GET /api/v4/projects/{id}":                       3,
		"GET /api/v4/projects/{id}/members/all/{user_id}": 3,
		"GET /api/v4/user":                                1,
		"GET *":                                           0,
	})
}

func TestGitLabPreflightFaults(t *testing.T) {
	t.Parallel()
	testFaults(t, forge.KindGitLab, func(t *testing.T) (faultyFake, string) {
		fake := newGitLabWorld(t)
		return fake, fake.URL
	}, append(serverFaults(glBotToken, closedURL(t)),
		faultCase{name: "token refused", cfg: forge.Config{Token: "glpat-wrong-secret"}, want: forge.ErrAuth},
		faultCase{name: "server 502", fail: 502, cfg: forge.Config{Token: glBotToken}, want: forge.ErrUnavailable, transient: true},
	), "alice", "developer", "gitlab: alice/developer")
}

func TestGitLabUnknownBot(t *testing.T) {
	t.Parallel()
	fake := newGitLabWorld(t)
	checker, err := forge.NewGitLab(forge.Config{BaseURL: fake.URL, Token: glAdminToken, Bot: "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	err = checker.Preflight(context.Background(), "alice", "developer")
	checkErr(t, err, forge.ErrNotCollaborator, glAdminToken)
	if !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("error %q does not name the bot", err)
	}
}
