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
	configs := []struct {
		name string
		cfg  forge.Config
	}{
		{"token is bot", forge.Config{BaseURL: fake.URL, Token: glBotToken}},
		{"bot named, API URL", forge.Config{BaseURL: fake.APIURL, Token: glBotToken, Bot: "bot"}},
		{"bot named, admin token", forge.Config{BaseURL: fake.URL, Token: glAdminToken, Bot: "bot"}},
	}
	cases := []struct {
		owner, project string
		want           error
		msg            string
		botOnly        bool // the admin token cannot see it: repository not found
	}{
		{owner: "nobody", project: "x", want: forge.ErrUserNotFound, msg: "gitlab: nobody/x: user or organisation not found"},
		{owner: "acme/nothing", project: "x", want: forge.ErrUserNotFound},
		{owner: "alice", project: "missing", want: forge.ErrRepoNotFound, msg: "gitlab: alice/missing: repository not found"},
		{owner: "acme", project: "missing", want: forge.ErrRepoNotFound},
		{owner: "acme/tools", project: "missing", want: forge.ErrRepoNotFound},
		{owner: "alice", project: "secret", want: forge.ErrNotCollaborator}, // alice sees it; bot does not
		{owner: "alice", project: "stranger", want: forge.ErrNotCollaborator, msg: `gitlab: alice/stranger: bot is not a collaborator: bot "bot" is not a member`},
		{owner: "alice", project: "guest", want: forge.ErrNoPush, msg: `gitlab: alice/guest: bot may not push: bot "bot" has access level 10 (Guest), needs Developer (30)`},
		{owner: "alice", project: "reporter", want: forge.ErrNoPush, msg: "access level 20 (Reporter)"},
		{owner: "other", project: "private-reporter", want: forge.ErrNoPush, botOnly: true},
		{owner: "alice", project: "archived", want: forge.ErrNoPush, msg: "gitlab: alice/archived: bot may not push: the project is archived"},
		{owner: "alice", project: "developer"},
		{owner: "alice", project: "maintainer"},
		{owner: "alice", project: "owner"},
		{owner: "acme/tools", project: "inherited", botOnly: true},
		{owner: "Alice", project: "Developer"},
		{owner: "../x", project: "y", want: forge.ErrUserNotFound, msg: "invalid owner name"},
		{owner: "alice", project: "a%2Fb", want: forge.ErrRepoNotFound, msg: "invalid project name"},
	}
	for _, c := range configs {
		checker, err := forge.NewGitLab(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(c.name+"/"+tc.owner+"/"+tc.project, func(t *testing.T) {
				t.Parallel()
				want := tc.want
				admin := c.cfg.Token == glAdminToken
				if admin && tc.botOnly {
					want = forge.ErrRepoNotFound
				}
				if !admin && tc.project == "secret" {
					want = forge.ErrRepoNotFound
				}
				err := checker.Preflight(context.Background(), tc.owner, tc.project)
				checkErr(t, err, want, c.cfg.Token)
				if want == tc.want && want != nil && !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not contain %q", err, tc.msg)
				}
				if want != nil && !forge.IsBadRequest(err) {
					t.Errorf("IsBadRequest(%v) = false", err)
				}
			})
		}
	}
}

func TestGitLabPreflightRequests(t *testing.T) {
	t.Parallel()
	fake := newGitLabWorld(t)
	checker, err := forge.NewGitLab(forge.Config{BaseURL: fake.URL, Token: glBotToken})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := checker.Preflight(context.Background(), "alice", "developer"); err != nil {
			t.Fatal(err)
		}
	}
	// The project's ID goes URL-encoded; the bot's ID is fetched once.
	for route, want := range map[string]int{
		"GET /api/v4/projects/{id}":                       3,
		"GET /api/v4/projects/{id}/members/all/{user_id}": 3,
		"GET /api/v4/user":                                1,
		"GET *":                                           0,
	} {
		if n := fake.Requests(route); n != want {
			t.Errorf("%s: %d requests, want %d", route, n, want)
		}
	}
}

func TestGitLabPreflightFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		setup     func(*forgetest.GitLab)
		token     string
		url       string
		timeout   time.Duration
		want      error
		also      error
		transient bool
	}{
		{name: "token refused", token: "glpat-wrong-secret", want: forge.ErrAuth},
		{name: "server 500", setup: func(g *forgetest.GitLab) { g.Fail(500) }, token: glBotToken, want: forge.ErrUnavailable, transient: true},
		{name: "server 502", setup: func(g *forgetest.GitLab) { g.Fail(502) }, token: glBotToken, want: forge.ErrUnavailable, transient: true},
		{name: "unreachable", url: closedURL(t), token: glBotToken, want: forge.ErrUnavailable, transient: true},
		{name: "timeout", setup: func(g *forgetest.GitLab) { g.Delay(5 * time.Second) }, token: glBotToken,
			timeout: 100 * time.Millisecond, want: forge.ErrUnavailable, also: context.DeadlineExceeded, transient: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newGitLabWorld(t)
			if tc.setup != nil {
				tc.setup(fake)
			}
			cfg := forge.Config{BaseURL: fake.URL, Token: tc.token, Timeout: tc.timeout}
			if tc.url != "" {
				cfg.BaseURL = tc.url
			}
			checker, err := forge.NewGitLab(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = checker.Preflight(context.Background(), "alice", "developer")
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
			if !strings.Contains(err.Error(), "gitlab: alice/developer") {
				t.Errorf("error %q does not name alice/developer", err)
			}
		})
	}
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
