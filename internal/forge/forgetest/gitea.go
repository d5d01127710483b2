package forgetest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Gitea is a fake of the Gitea (and Forgejo) REST API v1. It serves, under
// /api/v1:
//
//	GET /version
//	GET /user
//	GET /users/{username}                   (users and organisations)
//	GET /orgs/{org}
//	GET /repos/{owner}/{repo}               (permissions for the caller)
//	GET /repos/{owner}/{repo}/collaborators/{collaborator}              (204 or 404)
//	GET /repos/{owner}/{repo}/collaborators/{collaborator}/permission
//
// Any other route answers 404 {"errors":null,"message":"not found",...}.
type Gitea struct {
	// URL is the server root ("http://127.0.0.1:port/"), what the SDK wants.
	URL    string
	Server *httptest.Server

	world[gtUser]
	version string
}

type gtUser struct {
	id    int64
	login string
	org   bool
}

// gtRepo's collaborators have "read", "write" or "admin".
type gtRepo = repo[gtUser]

// NewGitea starts a fake Gitea 1.24 on 127.0.0.1, closed when the test ends.
func NewGitea(t testing.TB) *Gitea {
	t.Helper()
	g := &Gitea{world: newWorld(10, func(id int64, login string, org bool) *gtUser {
		return &gtUser{id: id, login: login, org: org}
	}), version: "1.24.0"}
	mux := http.NewServeMux()
	g.route(mux, "GET /api/v1/version", g.getVersion)
	authRoute(&g.state, mux, "GET /api/v1/user", g.auth, g.getCurrentUser)
	authRoute(&g.state, mux, "GET /api/v1/users/{username}", g.auth, g.getUser)
	authRoute(&g.state, mux, "GET /api/v1/orgs/{org}", g.auth, g.getOrg)
	authRoute(&g.state, mux, "GET /api/v1/repos/{owner}/{repo}", g.auth, g.inRepo(g.getRepo))
	authRoute(&g.state, mux, "GET /api/v1/repos/{owner}/{repo}/collaborators/{collaborator}", g.auth, g.inRepo(g.isCollaborator))
	authRoute(&g.state, mux, "GET /api/v1/repos/{owner}/{repo}/collaborators/{collaborator}/permission", g.auth, g.inRepo(g.getPermission))
	g.unknown(mux, func() any { return g.errBody("not found") })
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.front(w, r, func(status int) any { return g.errBody(http.StatusText(status)) }) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Server.Close)
	g.URL = g.Server.URL + "/"
	return g
}

// errBody is Gitea's API error shape.
func (g *Gitea) errBody(msg string) map[string]any {
	return map[string]any{"errors": nil, "message": msg, "url": g.URL + "api/swagger"}
}

func (g *Gitea) notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}, "message": "The target couldn't be found.", "url": g.URL + "api/swagger"})
}

// SetVersion sets what GET /version answers (default "1.24.0"; Forgejo
// answers e.g. "11.0.1+gitea-1.22.0").
func (g *Gitea) SetVersion(v string) {
	g.mu.Lock()
	g.version = v
	g.mu.Unlock()
}

func (g *Gitea) auth(w http.ResponseWriter, r *http.Request) (*gtUser, bool) {
	tok := bearer(r)
	if login, ok := g.tokens[tok]; ok && tok != "" {
		return g.accounts[lower(login)], true
	}
	if tok == "" && len(g.tokens) == 0 {
		return nil, true
	}
	writeJSON(w, http.StatusUnauthorized, g.errBody("user does not exist [uid: 0, name: ]"))
	return nil, false
}

func (g *Gitea) userJSON(u *gtUser) map[string]any {
	return map[string]any{
		"id": u.id, "login": u.login, "login_name": "", "full_name": "", "email": u.login + "@noreply.localhost",
		"avatar_url": g.URL + "avatars/" + u.login, "html_url": g.URL + u.login, "language": "", "is_admin": false,
		"last_login": created.Format(time.RFC3339), "created": created.Format(time.RFC3339), "restricted": false,
		"active": true, "prohibit_login": false, "location": "", "website": "", "description": "",
		"visibility": "public", "followers_count": 0, "following_count": 0, "starred_repos_count": 0, "username": u.login,
	}
}

func (g *Gitea) getVersion(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"version": g.version})
}

func (g *Gitea) getCurrentUser(w http.ResponseWriter, r *http.Request, u *gtUser) {
	if u == nil {
		writeJSON(w, http.StatusUnauthorized, g.errBody("token is required"))
		return
	}
	writeJSON(w, http.StatusOK, g.userJSON(u))
}

func (g *Gitea) getUser(w http.ResponseWriter, r *http.Request, _ *gtUser) {
	u := g.accounts[lower(r.PathValue("username"))]
	if u == nil {
		g.notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, g.userJSON(u))
}

func (g *Gitea) getOrg(w http.ResponseWriter, r *http.Request, _ *gtUser) {
	u := g.accounts[lower(r.PathValue("org"))]
	if u == nil || !u.org {
		g.notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": u.id, "name": u.login, "username": u.login, "full_name": "", "avatar_url": g.URL + "avatars/" + u.login,
		"description": "", "website": "", "location": "", "visibility": "public", "repo_admin_change_team_access": false,
	})
}

// gtLevel is u's access on r: "owner", "admin", "write", "read" or "".
func gtLevel(r *gtRepo, u *gtUser) string {
	switch {
	case u == nil:
		return ""
	case u == r.owner:
		return "owner"
	}
	return r.collabs[lower(u.login)]
}

// inRepo runs h with the repository of the request as u sees it, and
// answers 404 itself when it does not exist or is hidden from u.
func (g *Gitea) inRepo(h func(http.ResponseWriter, *http.Request, *gtUser, *gtRepo)) func(http.ResponseWriter, *http.Request, *gtUser) {
	return func(w http.ResponseWriter, r *http.Request, u *gtUser) {
		repo := g.repos.of(r)
		if repo == nil || (repo.private && gtLevel(repo, u) == "") {
			g.notFound(w)
			return
		}
		h(w, r, u, repo)
	}
}

func (g *Gitea) getRepo(w http.ResponseWriter, r *http.Request, u *gtUser, repo *gtRepo) {
	full := repo.owner.login + "/" + repo.name
	lvl := gtLevel(repo, u)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": repo.id, "owner": g.userJSON(repo.owner), "name": repo.name, "full_name": full, "description": "",
		"empty": false, "private": repo.private, "fork": false, "template": false, "mirror": false, "size": 0,
		"html_url": g.URL + full, "ssh_url": "git@127.0.0.1:" + full + ".git", "clone_url": g.URL + full + ".git",
		"default_branch": "main", "archived": repo.archived, "internal": false,
		"created_at": created.Format(time.RFC3339), "updated_at": created.Format(time.RFC3339),
		"permissions": map[string]bool{
			"admin": lvl == "admin" || lvl == "owner",
			"push":  lvl == "write" || lvl == "admin" || lvl == "owner",
			"pull":  lvl != "" || !repo.private,
		},
	})
}

func (g *Gitea) isCollaborator(w http.ResponseWriter, r *http.Request, u *gtUser, repo *gtRepo) {
	if repo.collabs[lower(r.PathValue("collaborator"))] != "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	g.notFound(w)
}

func (g *Gitea) getPermission(w http.ResponseWriter, r *http.Request, u *gtUser, repo *gtRepo) {
	name := r.PathValue("collaborator")
	// As Gitea: repository admins may ask about anyone, others only about
	// themselves.
	if lvl := gtLevel(repo, u); u == nil || (lvl != "admin" && lvl != "owner" && !strings.EqualFold(u.login, name)) {
		writeJSON(w, http.StatusForbidden, g.errBody("Only admins can query all permissions, repo admins can query all repo permissions, collaborators can query only their own"))
		return
	}
	c := g.accounts[lower(name)]
	if c == nil {
		g.notFound(w)
		return
	}
	perm := gtLevel(repo, c)
	switch {
	case perm == "" && !repo.private:
		perm = "read"
	case perm == "":
		perm = "none"
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission": perm, "role_name": perm, "user": g.userJSON(c)})
}
