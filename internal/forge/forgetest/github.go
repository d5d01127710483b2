package forgetest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GitHub roles on a repository, weakest first.
var githubRoles = []string{"read", "triage", "write", "maintain", "admin"}

func githubRoleRank(role string) int {
	for i, r := range githubRoles {
		if r == role {
			return i + 1
		}
	}
	return 0 // none
}

// GitHub is a fake of the GitHub REST API (api.github.com, or GitHub
// Enterprise Server under /api/v3/). It serves:
//
//	GET  /user
//	GET  /users/{username}
//	GET  /repos/{owner}/{repo}                                 (permissions for the caller)
//	GET  /repos/{owner}/{repo}/collaborators/{username}/permission
//	GET  /repos/{owner}/{repo}/collaborators/{username}        (204 or 404)
//	POST /app/installations/{installation_id}/access_tokens    (JWT checked)
//
// Any other route answers 404 {"message":"Not Found",...}.
type GitHub struct {
	// URL is the API base URL, ending in "/": http://127.0.0.1:port/ or,
	// for NewGitHubEnterprise, http://127.0.0.1:port/api/v3/.
	URL    string
	Server *httptest.Server

	world[ghAccount]
	apps          map[int64]*ghApp
	installations map[int64]*ghInstallation
	instTokens    map[string]*ghInstallation // minted token → installation
	minted        int
	tokenTTL      time.Duration
	now           func() time.Time
	hidePerms     bool
}

type ghAccount struct {
	id    int64
	login string
	kind  string // "User", "Organization", "Bot"
}

type ghRepo = repo[ghAccount]

type ghApp struct {
	id       int64
	clientID string
	key      *rsa.PublicKey
}

type ghInstallation struct {
	id          int64
	app         *ghApp
	account     *ghAccount
	permissions map[string]string
}

// NewGitHub starts a fake of api.github.com on 127.0.0.1, closed when the
// test ends.
func NewGitHub(t testing.TB) *GitHub { return newGitHub(t, "") }

// NewGitHubEnterprise starts a fake GitHub Enterprise Server whose API is
// under /api/v3/ (URL ends in "/api/v3/"); requests outside it get 404.
func NewGitHubEnterprise(t testing.TB) *GitHub { return newGitHub(t, "/api/v3") }

func newGitHub(t testing.TB, prefix string) *GitHub {
	t.Helper()
	g := &GitHub{
		world:         newWorld(1000, newGitHubAccount),
		apps:          map[int64]*ghApp{},
		installations: map[int64]*ghInstallation{},
		instTokens:    map[string]*ghInstallation{},
		tokenTTL:      time.Hour,
		now:           time.Now,
	}
	mux := http.NewServeMux()
	authRoute(&g.state, mux, "GET /user", g.auth, g.getAuthenticatedUser)
	authRoute(&g.state, mux, "GET /users/{username}", g.auth, g.getUser)
	authRoute(&g.state, mux, "GET /repos/{owner}/{repo}", g.auth, g.getRepo)
	authRoute(&g.state, mux, "GET /repos/{owner}/{repo}/collaborators/{username}/permission", g.auth, g.getPermission)
	authRoute(&g.state, mux, "GET /repos/{owner}/{repo}/collaborators/{username}", g.auth, g.checkCollaborator)
	g.route(mux, "POST /app/installations/{installation_id}/access_tokens", g.createInstallationToken)
	g.unknown(mux, func() any { return ghError("Not Found", "https://docs.github.com/rest", 404) })

	var h http.Handler = mux
	if prefix != "" {
		inner := http.StripPrefix(prefix, mux)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, prefix+"/") {
				writeJSON(w, http.StatusNotFound, ghError("Not Found", "https://docs.github.com/enterprise-server/rest", 404))
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-GitHub-Request-Id", "0000:FAKE")
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "4999")
		w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
		if g.front(w, r, func(status int) any {
			return ghError(http.StatusText(status), "https://docs.github.com/rest", status)
		}) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Server.Close)
	g.URL = g.Server.URL + prefix + "/"
	return g
}

// ghError is GitHub's documented error body.
func ghError(msg, doc string, status int) map[string]string {
	return map[string]string{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)}
}

func newGitHubAccount(id int64, login string, org bool) *ghAccount {
	kind := "User"
	if org {
		kind = "Organization"
	}
	return &ghAccount{id: id, login: login, kind: kind}
}

// AddCollaborator gives login (added as a user if unknown) a role on
// owner/repo: "read", "triage", "write", "maintain" or "admin". The
// repository must exist.
func (g *GitHub) AddCollaborator(owner, repo, login, role string) {
	if githubRoleRank(role) == 0 {
		panic(fmt.Sprintf("forgetest: AddCollaborator: unknown role %q", role))
	}
	g.world.AddCollaborator(owner, repo, login, role)
}

// AddApp registers a GitHub App whose JWTs are signed with the private key
// matching pub. clientID may be "" (then only the numeric ID is accepted as
// the JWT issuer).
func (g *GitHub) AddApp(appID int64, clientID string, pub *rsa.PublicKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apps[appID] = &ghApp{id: appID, clientID: clientID, key: pub}
}

// AddInstallation installs the app on account (all its repositories) with
// the given permissions, e.g. {"contents": "write", "metadata": "read"}.
func (g *GitHub) AddInstallation(appID, installationID int64, account string, permissions map[string]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	app := must(g.apps[appID], "AddInstallation", fmt.Sprintf("app %d", appID))
	perms := map[string]string{}
	for k, v := range permissions {
		perms[k] = v
	}
	g.installations[installationID] = &ghInstallation{
		id: installationID, app: app, account: g.account(account, true), permissions: perms,
	}
}

// SetTokenTTL sets the lifetime of minted installation tokens (default 1h,
// as on GitHub).
func (g *GitHub) SetTokenTTL(d time.Duration) {
	g.mu.Lock()
	g.tokenTTL = d
	g.mu.Unlock()
}

// HidePermissions makes GET /repos/{owner}/{repo} answer without the
// "permissions" object (as for anonymous callers), so that clients must
// use the collaborator permission endpoint.
func (g *GitHub) HidePermissions() {
	g.mu.Lock()
	g.hidePerms = true
	g.mu.Unlock()
}

// SetClock sets the fake's clock (JWT checks, token expiry); nil restores
// time.Now.
func (g *GitHub) SetClock(now func() time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	g.now = now
}

// TokensMinted returns how many installation tokens were minted.
func (g *GitHub) TokensMinted() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.minted
}

// RevokeTokens forgets every minted installation token (they answer 401).
func (g *GitHub) RevokeTokens() {
	g.mu.Lock()
	g.instTokens = map[string]*ghInstallation{}
	g.mu.Unlock()
}

// caller is who a request authenticates as.
type ghCaller struct {
	user *ghAccount      // personal token
	inst *ghInstallation // installation token
}

// auth identifies the caller; it answers 401 itself and returns false when
// the credentials are refused. Called with g.mu held.
func (g *GitHub) auth(w http.ResponseWriter, r *http.Request) (ghCaller, bool) {
	tok := bearer(r)
	if tok != "" {
		if login, ok := g.tokens[tok]; ok {
			return ghCaller{user: g.accounts[lower(login)]}, true
		}
		if inst, ok := g.instTokens[tok]; ok {
			return ghCaller{inst: inst}, true
		}
	}
	if tok == "" && len(g.tokens) == 0 && len(g.instTokens) == 0 {
		return ghCaller{}, true // anonymous
	}
	writeJSON(w, http.StatusUnauthorized, ghError("Bad credentials", "https://docs.github.com/rest", 401))
	return ghCaller{}, false
}

// role is the caller's role on r ("" = none).
func (c ghCaller) role(r *ghRepo) string {
	switch {
	case c.user != nil:
		return roleOf(r, c.user)
	case c.inst != nil && c.inst.account == r.owner:
		switch c.inst.permissions["contents"] {
		case "write":
			return "write"
		case "read":
			return "read"
		}
	}
	return ""
}

// roleOf is a's role on r ("" = none): the owner administers it.
func roleOf(r *ghRepo, a *ghAccount) string {
	if a == r.owner {
		return "admin"
	}
	return r.collabs[lower(a.login)]
}

func (g *GitHub) userJSON(a *ghAccount) map[string]any {
	base := strings.TrimSuffix(g.URL, "/")
	return map[string]any{
		"login":       a.login,
		"id":          a.id,
		"node_id":     "MDQ6VXNlcj" + strconv.FormatInt(a.id, 10),
		"avatar_url":  "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(a.id, 10) + "?v=4",
		"gravatar_id": "",
		"url":         base + "/users/" + a.login,
		"html_url":    "https://github.com/" + a.login,
		"repos_url":   base + "/users/" + a.login + "/repos",
		"type":        a.kind,
		"site_admin":  false,
	}
}

func (g *GitHub) getAuthenticatedUser(w http.ResponseWriter, r *http.Request, c ghCaller) {
	switch {
	case c.user != nil:
		u := g.userJSON(c.user)
		u["name"] = c.user.login
		u["created_at"] = created.Format(timeFormat)
		writeJSON(w, http.StatusOK, u)
	case c.inst != nil:
		writeJSON(w, http.StatusForbidden, ghError("Resource not accessible by integration",
			"https://docs.github.com/rest/users/users#get-the-authenticated-user", 403))
	default:
		writeJSON(w, http.StatusUnauthorized, ghError("Requires authentication",
			"https://docs.github.com/rest/users/users#get-the-authenticated-user", 401))
	}
}

func (g *GitHub) getUser(w http.ResponseWriter, r *http.Request, _ ghCaller) {
	a := g.accounts[lower(r.PathValue("username"))]
	if a == nil {
		writeJSON(w, http.StatusNotFound, ghError("Not Found", "https://docs.github.com/rest/users/users#get-a-user", 404))
		return
	}
	u := g.userJSON(a)
	u["name"] = a.login
	u["public_repos"] = 0
	u["created_at"] = created.Format(timeFormat)
	writeJSON(w, http.StatusOK, u)
}

// visibleRepo finds the repository of the request as the caller sees it,
// answering 404 itself when it does not exist or is hidden.
func (g *GitHub) visibleRepo(w http.ResponseWriter, r *http.Request, c ghCaller, doc string) *ghRepo {
	repo := g.repos.of(r)
	if repo == nil || (repo.private && c.role(repo) == "") {
		writeJSON(w, http.StatusNotFound, ghError("Not Found", doc, 404))
		return nil
	}
	return repo
}

// pushersRepo is visibleRepo for the endpoints only pushers may ask; it
// answers the others 403 with msg.
func (g *GitHub) pushersRepo(w http.ResponseWriter, r *http.Request, c ghCaller, doc, msg string) *ghRepo {
	repo := g.visibleRepo(w, r, c, doc)
	if repo != nil && githubRoleRank(c.role(repo)) < githubRoleRank("write") {
		writeJSON(w, http.StatusForbidden, ghError(msg, doc, 403))
		return nil
	}
	return repo
}

// collaborator is pushersRepo for the collaborator endpoints, with the
// account {username} names; it answers 404 itself for an unknown account.
func (g *GitHub) collaborator(w http.ResponseWriter, r *http.Request, c ghCaller, doc, msg string) (*ghRepo, *ghAccount) {
	repo := g.pushersRepo(w, r, c, doc, msg)
	if repo == nil {
		return nil, nil
	}
	a := g.accounts[lower(r.PathValue("username"))]
	if a == nil {
		writeJSON(w, http.StatusNotFound, ghError("Not Found", doc, 404))
		return nil, nil
	}
	return repo, a
}

func (g *GitHub) getRepo(w http.ResponseWriter, r *http.Request, c ghCaller) {
	repo := g.visibleRepo(w, r, c, "https://docs.github.com/rest/repos/repos#get-a-repository")
	if repo == nil {
		return
	}
	full := repo.owner.login + "/" + repo.name
	base := strings.TrimSuffix(g.URL, "/")
	visibility := "public"
	if repo.private {
		visibility = "private"
	}
	body := map[string]any{
		"id":             repo.id,
		"node_id":        "MDEwOlJlcG9zaXRvcnk" + strconv.FormatInt(repo.id, 10),
		"name":           repo.name,
		"full_name":      full,
		"owner":          g.userJSON(repo.owner),
		"private":        repo.private,
		"visibility":     visibility,
		"html_url":       "https://github.com/" + full,
		"description":    nil,
		"fork":           false,
		"url":            base + "/repos/" + full,
		"git_url":        "git://github.com/" + full + ".git",
		"ssh_url":        "git@github.com:" + full + ".git",
		"clone_url":      "https://github.com/" + full + ".git",
		"default_branch": "master",
		"archived":       repo.archived,
		"disabled":       false,
		"created_at":     created.Format(timeFormat),
		"updated_at":     created.Format(timeFormat),
		"pushed_at":      created.Format(timeFormat),
	}
	if (c.user != nil || c.inst != nil) && !g.hidePerms {
		// GitHub adds the caller's permissions when it knows the caller.
		rank := githubRoleRank(c.role(repo))
		body["permissions"] = map[string]bool{
			"admin":    rank >= githubRoleRank("admin"),
			"maintain": rank >= githubRoleRank("maintain"),
			"push":     rank >= githubRoleRank("write"),
			"triage":   rank >= githubRoleRank("triage"),
			"pull":     rank >= githubRoleRank("read") || !repo.private,
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// legacyPermission maps a role to the "permission" field of the collaborator
// permission endpoint: admin, write, read or none.
func legacyPermission(role string) string {
	switch role {
	case "admin":
		return "admin"
	case "maintain", "write":
		return "write"
	case "triage", "read":
		return "read"
	}
	return "none"
}

func (g *GitHub) getPermission(w http.ResponseWriter, r *http.Request, c ghCaller) {
	const doc = "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user"
	repo, a := g.collaborator(w, r, c, doc, "Must have push access to view collaborator permission.")
	if repo == nil {
		return
	}
	role := roleOf(repo, a)
	u := g.userJSON(a)
	rank := githubRoleRank(role)
	u["permissions"] = map[string]bool{
		"admin": rank >= 5, "maintain": rank >= 4, "push": rank >= 3, "triage": rank >= 2, "pull": rank >= 1,
	}
	u["role_name"] = role
	roleName := role
	if roleName == "" {
		roleName = "none"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"permission": legacyPermission(role),
		"role_name":  roleName,
		"user":       u,
	})
}

func (g *GitHub) checkCollaborator(w http.ResponseWriter, r *http.Request, c ghCaller) {
	const doc = "https://docs.github.com/rest/collaborators/collaborators#check-if-a-user-is-a-repository-collaborator"
	repo, a := g.collaborator(w, r, c, doc, "Must have push access to view repository collaborators.")
	if repo == nil {
		return
	}
	if roleOf(repo, a) != "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusNotFound, ghError("Not Found", doc, 404))
}

func (g *GitHub) createInstallationToken(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	g.mu.Lock()
	defer g.mu.Unlock()
	id, err := strconv.ParseInt(r.PathValue("installation_id"), 10, 64)
	inst := g.installations[id]
	if err != nil || inst == nil {
		writeJSON(w, http.StatusNotFound, ghError("Not Found", doc, 404))
		return
	}
	if msg := verifyAppJWT(bearer(r), inst.app, g.now()); msg != "" {
		writeJSON(w, http.StatusUnauthorized, ghError(msg, "https://docs.github.com/rest", 401))
		return
	}
	var raw [20]byte
	_, _ = rand.Read(raw[:])
	tok := "ghs_" + hex.EncodeToString(raw[:])
	g.instTokens[tok] = inst
	g.minted++
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           g.now().Add(g.tokenTTL).UTC().Format(timeFormat),
		"permissions":          inst.permissions,
		"repository_selection": "all",
	})
}

// verifyAppJWT checks an app JWT as GitHub does: RS256 signed by the app's
// key, issuer the app (ID or client ID), issued in the past (60s skew), not
// expired, and living at most 10 minutes. It returns "" or GitHub's message.
func verifyAppJWT(tok string, app *ghApp, now time.Time) string {
	const undecodable = "A JSON web token could not be decoded"
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return undecodable
	}
	hdrJSON, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	claimsJSON, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return undecodable
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
		Iss any         `json:"iss"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil || json.Unmarshal(claimsJSON, &claims) != nil {
		return undecodable
	}
	if hdr.Alg != "RS256" {
		return "'alg' must be RS256"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(app.key, crypto.SHA256, sum[:], sig) != nil {
		return "A JSON web token could not be decoded"
	}
	switch iss := claims.Iss.(type) {
	case float64:
		if int64(iss) != app.id {
			return "'Issuer' claim ('iss') must be an Integer"
		}
	case string:
		if iss != strconv.FormatInt(app.id, 10) && (app.clientID == "" || iss != app.clientID) {
			return "'Issuer' claim ('iss') is not a valid app"
		}
	default:
		return "'Issuer' claim ('iss') must be an Integer"
	}
	iat, err1 := claims.Iat.Int64()
	exp, err2 := claims.Exp.Int64()
	if err1 != nil || err2 != nil {
		return "'Issued at' claim ('iat') must be an Integer"
	}
	switch n := now.Unix(); {
	case iat > n+60:
		return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
	case exp <= n:
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	case exp-iat > 600+60:
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	return ""
}
