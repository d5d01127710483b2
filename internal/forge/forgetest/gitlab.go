package forgetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GitLab access levels.
const (
	GitLabGuest      = 10
	GitLabReporter   = 20
	GitLabDeveloper  = 30
	GitLabMaintainer = 40
	GitLabOwner      = 50
)

// GitLab is a fake of the GitLab REST API v4. It serves, under /api/v4:
//
//	GET /user
//	GET /users?username=...
//	GET /groups/{id}                          (numeric ID or URL-encoded full path)
//	GET /projects/{id}                        (numeric ID or URL-encoded "namespace/path")
//	GET /projects/{id}/members/all/{user_id}  (direct and inherited members)
//
// Any other route answers 404 {"error":"404 Not Found"}, as GitLab does.
type GitLab struct {
	// URL is the server root ("http://127.0.0.1:port/"); the API is under
	// URL+"api/v4/" (APIURL).
	URL, APIURL string
	Server      *httptest.Server

	state
	users    map[string]*glUser // lower(username)
	groups   map[string]*glGroup
	projects map[string]*glProject // lower(full path)
	tokens   map[string]string     // token → username
	nextID   int64
}

type glUser struct {
	id       int64
	username string
}

type glGroup struct {
	id      int64
	path    string // full path
	members map[int64]int
}

type glProject struct {
	id         int64
	namespace  string
	path       string
	visibility string
	archived   bool
	group      *glGroup // nil for a personal project
	owner      *glUser  // personal project's owner
	members    map[int64]int
}

// NewGitLab starts a fake GitLab on 127.0.0.1, closed when the test ends.
func NewGitLab(t testing.TB) *GitLab {
	t.Helper()
	g := &GitLab{
		state: newState(), users: map[string]*glUser{}, groups: map[string]*glGroup{},
		projects: map[string]*glProject{}, tokens: map[string]string{}, nextID: 100,
	}
	mux := http.NewServeMux()
	authRoute(&g.state, mux, "GET /api/v4/user", g.auth, g.getCurrentUser)
	authRoute(&g.state, mux, "GET /api/v4/users", g.auth, g.listUsers)
	authRoute(&g.state, mux, "GET /api/v4/groups/{id}", g.auth, g.getGroup)
	authRoute(&g.state, mux, "GET /api/v4/projects/{id}", g.auth, g.inProject(g.getProject))
	authRoute(&g.state, mux, "GET /api/v4/projects/{id}/members/all/{user_id}", g.auth, g.inProject(g.getMember))
	g.unknown(mux, func() any { return map[string]string{"error": "404 Not Found"} })
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.front(w, r, func(status int) any {
			return map[string]string{"message": fmt.Sprintf("%d %s", status, http.StatusText(status))}
		}) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Server.Close)
	g.URL = g.Server.URL + "/"
	g.APIURL = g.Server.URL + "/api/v4/"
	return g
}

func (g *GitLab) id() int64 { g.nextID++; return g.nextID }

func (g *GitLab) user(name string) *glUser {
	u := g.users[lower(name)]
	if u == nil {
		u = &glUser{id: g.id(), username: name}
		g.users[lower(name)] = u
	}
	return u
}

// AddUser adds a user and returns its ID.
func (g *GitLab) AddUser(username string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.user(username).id
}

// AddGroup adds a group (full path, e.g. "acme" or "acme/tools").
func (g *GitLab) AddGroup(path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups[lower(path)] == nil {
		g.groups[lower(path)] = &glGroup{id: g.id(), path: path, members: map[int64]int{}}
	}
}

// AddGroupMember gives username an access level on a group; projects in
// the group inherit it.
func (g *GitLab) AddGroupMember(group, username string, level int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr := must(g.groups[lower(group)], "AddGroupMember", "group "+group)
	gr.members[g.user(username).id] = level
}

// AddProject adds a project in namespace (a user, added if unknown, or a
// group added before) with visibility "public", "internal" or "private".
func (g *GitLab) AddProject(namespace, path, visibility string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := &glProject{id: g.id(), namespace: namespace, path: path, visibility: visibility, members: map[int64]int{}}
	if gr := g.groups[lower(namespace)]; gr != nil {
		p.group = gr
	} else {
		p.owner = g.user(namespace)
		p.members[p.owner.id] = GitLabOwner
	}
	g.projects[lower(namespace+"/"+path)] = p
}

// Archive marks a project ("namespace/path") archived (read-only).
func (g *GitLab) Archive(project string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.projects[lower(project)]; p != nil {
		p.archived = true
	}
}

// AddMember gives username (added if unknown) a direct access level on a
// project.
func (g *GitLab) AddMember(project, username string, level int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := must(g.projects[lower(project)], "AddMember", "project "+project)
	p.members[g.user(username).id] = level
}

// AddToken registers a personal access token for username. Once any token
// is registered, every request must carry a known one (PRIVATE-TOKEN or
// Authorization: Bearer), else 401.
func (g *GitLab) AddToken(token, username string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.user(username)
	g.tokens[token] = username
}

// auth returns the caller (nil = anonymous) or answers 401. g.mu held.
func (g *GitLab) auth(w http.ResponseWriter, r *http.Request) (*glUser, bool) {
	tok := r.Header.Get("PRIVATE-TOKEN")
	if tok == "" {
		tok = bearer(r)
	}
	if name, ok := g.tokens[tok]; ok && tok != "" {
		return g.users[lower(name)], true
	}
	if tok == "" && len(g.tokens) == 0 {
		return nil, true
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
	return nil, false
}

func (g *GitLab) userJSON(u *glUser) map[string]any {
	return map[string]any{
		"id": u.id, "username": u.username, "name": u.username, "state": "active", "locked": false,
		"avatar_url": "https://secure.gravatar.com/avatar/" + strconv.FormatInt(u.id, 10),
		"web_url":    strings.TrimSuffix(g.URL, "/") + "/" + u.username,
	}
}

func (g *GitLab) getCurrentUser(w http.ResponseWriter, r *http.Request, u *glUser) {
	if u == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	body := g.userJSON(u)
	body["created_at"] = created.Format(time.RFC3339)
	body["bot"] = false
	writeJSON(w, http.StatusOK, body)
}

func (g *GitLab) listUsers(w http.ResponseWriter, r *http.Request, _ *glUser) {
	out := []map[string]any{}
	if u := g.users[lower(r.URL.Query().Get("username"))]; u != nil {
		out = append(out, g.userJSON(u))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *GitLab) getGroup(w http.ResponseWriter, r *http.Request, _ *glUser) {
	gr := lookup(g.groups, r.PathValue("id"), func(gr *glGroup) int64 { return gr.id })
	if gr == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Group Not Found"})
		return
	}
	name := gr.path[strings.LastIndex(gr.path, "/")+1:]
	writeJSON(w, http.StatusOK, map[string]any{
		"id": gr.id, "name": name, "path": name, "full_name": gr.path, "full_path": gr.path,
		"description": "", "visibility": "public", "parent_id": nil,
		"web_url":    strings.TrimSuffix(g.URL, "/") + "/groups/" + gr.path,
		"created_at": created.Format(time.RFC3339),
	})
}

// lookup finds what GitLab's :id names: a full path (in any case, as all
// is keyed) or a numeric ID.
func lookup[T any](all map[string]*T, id string, idOf func(*T) int64) *T {
	if v := all[lower(id)]; v != nil {
		return v
	}
	for _, v := range all {
		if strconv.FormatInt(idOf(v), 10) == id {
			return v
		}
	}
	return nil
}

// access is the user's effective access level on p (0 = none).
func (g *GitLab) access(p *glProject, u *glUser) int {
	if u == nil {
		return 0
	}
	level := p.members[u.id]
	if p.group != nil {
		// Inherited from the group and its ancestors.
		for path := p.group.path; path != ""; {
			if gr := g.groups[lower(path)]; gr != nil && gr.members[u.id] > level {
				level = gr.members[u.id]
			}
			i := strings.LastIndex(path, "/")
			if i < 0 {
				break
			}
			path = path[:i]
		}
	}
	return level
}

// inProject runs h with the project of the request as u sees it, and
// answers 404 itself when it does not exist or is hidden from u.
func (g *GitLab) inProject(h func(http.ResponseWriter, *http.Request, *glUser, *glProject)) func(http.ResponseWriter, *http.Request, *glUser) {
	return func(w http.ResponseWriter, r *http.Request, u *glUser) {
		p := lookup(g.projects, r.PathValue("id"), func(p *glProject) int64 { return p.id })
		if p == nil || (p.visibility == "private" && g.access(p, u) == 0) || (p.visibility == "internal" && u == nil) {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
			return
		}
		h(w, r, u, p)
	}
}

func (g *GitLab) getProject(w http.ResponseWriter, r *http.Request, u *glUser, p *glProject) {
	full := p.namespace + "/" + p.path
	web := strings.TrimSuffix(g.URL, "/") + "/" + full
	kind := "user"
	nsID := int64(0)
	if p.group != nil {
		kind, nsID = "group", p.group.id
	} else {
		nsID = p.owner.id
	}
	body := map[string]any{
		"id": p.id, "description": nil, "name": p.path, "name_with_namespace": p.namespace + " / " + p.path,
		"path": p.path, "path_with_namespace": full, "created_at": created.Format(time.RFC3339),
		"default_branch": "main", "visibility": p.visibility, "archived": p.archived,
		"ssh_url_to_repo":  "git@127.0.0.1:" + full + ".git",
		"http_url_to_repo": web + ".git",
		"web_url":          web,
		"namespace": map[string]any{
			"id": nsID, "name": p.namespace, "path": p.namespace[strings.LastIndex(p.namespace, "/")+1:],
			"kind": kind, "full_path": p.namespace,
		},
	}
	if u != nil {
		var projectAccess any
		if level := g.access(p, u); level > 0 {
			projectAccess = map[string]int{"access_level": level, "notification_level": 3}
		}
		body["permissions"] = map[string]any{"project_access": projectAccess, "group_access": nil}
	}
	writeJSON(w, http.StatusOK, body)
}

func (g *GitLab) getMember(w http.ResponseWriter, r *http.Request, u *glUser, p *glProject) {
	uid, err := strconv.ParseInt(r.PathValue("user_id"), 10, 64)
	var m *glUser
	for _, c := range g.users {
		if c.id == uid {
			m = c
		}
	}
	level := 0
	if err == nil && m != nil {
		level = g.access(p, m)
	}
	if level == 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
		return
	}
	body := g.userJSON(m)
	body["access_level"] = level
	body["created_at"] = created.Format(time.RFC3339)
	body["expires_at"] = nil
	writeJSON(w, http.StatusOK, body)
}
