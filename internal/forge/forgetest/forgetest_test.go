package forgetest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"
	"github.com/google/go-github/v82/github"
	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
)

// get fetches url with an optional Authorization header value and decodes
// the JSON body into a map.
func get(t *testing.T, url, auth string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", url, ct)
	}
	data, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("%s: %d %q: %v", url, resp.StatusCode, data, err)
	}
	return resp.StatusCode, body
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	gh := forgetest.NewGitHub(t)
	ghe := forgetest.NewGitHubEnterprise(t)
	gl := forgetest.NewGitLab(t)
	gt := forgetest.NewGitea(t)
	cases := []struct {
		url, auth string
		status    int
		key, want string
	}{
		{gh.URL + "no/such/route", "", 404, "message", "Not Found"},
		{gh.URL + "users/nobody", "", 404, "message", "Not Found"},
		{ghe.URL + "users/nobody", "", 404, "message", "Not Found"},
		{strings.TrimSuffix(ghe.URL, "api/v3/") + "users/nobody", "", 404, "message", "Not Found"},
		{gl.APIURL + "no/such/route", "", 404, "error", "404 Not Found"},
		{gl.APIURL + "projects/alice%2Fx", "", 404, "message", "404 Project Not Found"},
		{gl.APIURL + "groups/nobody", "", 404, "message", "404 Group Not Found"},
		{gt.URL + "api/v1/no/such/route", "", 404, "message", "not found"},
		{gt.URL + "api/v1/users/nobody", "", 404, "message", "The target couldn't be found."},
		{gt.URL + "api/v1/version", "", 200, "version", "1.24.0"},
	}
	for _, tc := range cases {
		status, body := get(t, tc.url, tc.auth)
		if status != tc.status || body[tc.key] != tc.want {
			t.Errorf("GET %s = %d %v, want %d %s=%q", tc.url, status, body, tc.status, tc.key, tc.want)
		}
	}
	if _, body := get(t, gh.URL+"nope", ""); !strings.HasPrefix(body["documentation_url"].(string), "https://docs.github.com/") {
		t.Errorf("GitHub 404 without documentation_url: %v", body)
	}
}

func TestRequireTokenAndFail(t *testing.T) {
	t.Parallel()
	gh := forgetest.NewGitHub(t)
	gh.AddToken("good", "bot")
	gh.AddUser("alice")
	if st, body := get(t, gh.URL+"users/alice", "Bearer bad"); st != 401 || body["message"] != "Bad credentials" {
		t.Errorf("bad token: %d %v", st, body)
	}
	if st, _ := get(t, gh.URL+"users/alice", ""); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st, body := get(t, gh.URL+"users/alice", "token good"); st != 200 || body["login"] != "alice" || body["type"] != "User" {
		t.Errorf("good token: %d %v", st, body)
	}
	gh.Fail(503)
	if st, _ := get(t, gh.URL+"users/alice", "Bearer good"); st != 503 {
		t.Errorf("Fail(503): %d", st)
	}
	gh.Fail(0)
	if st, _ := get(t, gh.URL+"users/alice", "Bearer good"); st != 200 {
		t.Errorf("Fail(0): %d", st)
	}
	if n := gh.Requests("GET /users/{username}"); n != 4 {
		t.Errorf("GET /users/{username}: %d requests, want 4 (the failed one counts under GET *)", n)
	}
	if n, total := gh.Requests("GET *"), gh.TotalRequests(); n != 1 || total != 5 {
		t.Errorf("GET * = %d, total = %d; want 1, 5", n, total)
	}
}

// The fakes' bodies decode into the SDKs' own types with the fields the
// checkers read.
func TestShapesDecodeWithSDKs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	gh := forgetest.NewGitHub(t)
	gh.AddToken("tok", "bot")
	gh.AddOrg("acme")
	gh.AddPrivateRepo("acme", "site")
	gh.AddCollaborator("acme", "site", "bot", "maintain")
	ghc := github.NewClient(nil).WithAuthToken("tok")
	ghc.BaseURL = mustParse(t, gh.URL)
	repo, _, err := ghc.Repositories.Get(ctx, "acme", "site")
	if err != nil {
		t.Fatal(err)
	}
	if repo.GetFullName() != "acme/site" || !repo.GetPrivate() || !repo.GetPermissions().GetPush() ||
		!repo.GetPermissions().GetMaintain() || repo.GetPermissions().GetAdmin() || repo.GetOwner().GetType() != "Organization" {
		t.Errorf("repository %v", github.Stringify(repo))
	}
	lvl, _, err := ghc.Repositories.GetPermissionLevel(ctx, "acme", "site", "bot")
	if err != nil {
		t.Fatal(err)
	}
	if lvl.GetPermission() != "write" || lvl.GetRoleName() != "maintain" || lvl.GetUser().GetLogin() != "bot" {
		t.Errorf("permission %v", github.Stringify(lvl))
	}
	if ok, _, err := ghc.Repositories.IsCollaborator(ctx, "acme", "site", "bot"); err != nil || !ok {
		t.Errorf("IsCollaborator = %v, %v", ok, err)
	}
	me, _, err := ghc.Users.Get(ctx, "")
	if err != nil || me.GetLogin() != "bot" {
		t.Errorf("GET /user = %v, %v", me.GetLogin(), err)
	}

	gl := forgetest.NewGitLab(t)
	gl.AddToken("tok", "bot")
	gl.AddGroup("acme")
	gl.AddGroupMember("acme", "bot", forgetest.GitLabMaintainer)
	gl.AddProject("acme", "site", "private")
	glc, err := gitlab.NewClient("tok", gitlab.WithBaseURL(gl.URL), gitlab.WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := glc.Projects.GetProject("acme/site", nil, gitlab.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if p.PathWithNamespace != "acme/site" || p.Visibility != gitlab.PrivateVisibility || p.Namespace.Kind != "group" ||
		p.Permissions == nil || p.Permissions.ProjectAccess == nil || p.Permissions.ProjectAccess.AccessLevel != 40 {
		t.Errorf("project %+v", p)
	}
	u, _, err := glc.Users.CurrentUser(gitlab.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := glc.ProjectMembers.GetInheritedProjectMember(p.ID, u.ID, gitlab.WithContext(ctx))
	if err != nil || m.Username != "bot" || m.AccessLevel != gitlab.MaintainerPermissions {
		t.Errorf("member %+v, %v", m, err)
	}
	if users, _, err := glc.Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr("bot")}); err != nil || len(users) != 1 {
		t.Errorf("ListUsers = %v, %v", users, err)
	}

	gt := forgetest.NewGitea(t)
	gt.AddToken("tok", "bot")
	gt.AddOrg("acme")
	gt.AddPrivateRepo("acme", "site")
	gt.AddCollaborator("acme", "site", "bot", "write")
	// Without SetGiteaVersion the SDK asks GET /api/v1/version: the fake answers.
	gtc, err := gitea.NewClient(gt.URL, gitea.SetToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if n := gt.Requests("GET /api/v1/version"); n != 1 {
		t.Errorf("version asked %d times", n)
	}
	r, _, err := gtc.GetRepo("acme", "site")
	if err != nil {
		t.Fatal(err)
	}
	if r.FullName != "acme/site" || !r.Private || r.Permissions == nil || !r.Permissions.Push || r.Permissions.Admin {
		t.Errorf("repository %+v", r)
	}
	perm, _, err := gtc.CollaboratorPermission("acme", "site", "bot")
	if err != nil || perm.Permission != gitea.AccessModeWrite || perm.User.UserName != "bot" {
		t.Errorf("permission %+v, %v", perm, err)
	}
	org, _, err := gtc.GetOrg("acme")
	if err != nil || org.UserName != "acme" {
		t.Errorf("org %+v, %v", org, err)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
