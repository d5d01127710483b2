// Package forgetest serves fakes of the GitHub, GitLab and Gitea REST APIs
// on 127.0.0.1 for tests. They answer the routes Synchroniser uses with the
// response shapes the forges document, keep their state in memory, count
// requests, and can be told to require a token, to fail with a status, or to
// answer slowly.
//
// These are the only fakes allowed in Synchroniser's tests: everything else
// (hg, git, databases) is real.
package forgetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// state is what every fake shares: request counts and failure injection.
type state struct {
	mu       sync.Mutex
	requests map[string]int // "METHOD /route/pattern" → count
	total    int
	fail     int           // status every request answers with; 0 = none
	delay    time.Duration // sleep before answering
}

func newState() state { return state{requests: map[string]int{}} }

// Requests returns how many requests matched route, a pattern as the fake
// registers it, e.g. "GET /repos/{owner}/{repo}" or
// "GET /api/v4/projects/{id}". Failed and unknown requests count under
// "METHOD *".
func (s *state) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[route]
}

// TotalRequests returns how many requests reached the server.
func (s *state) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Fail makes every request answer status (e.g. 500, 503); 0 stops.
func (s *state) Fail(status int) {
	s.mu.Lock()
	s.fail = status
	s.mu.Unlock()
}

// Delay makes every request wait d before it is answered.
func (s *state) Delay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// front counts the request, applies the delay and the injected failure; it
// reports whether the request was answered already.
func (s *state) front(w http.ResponseWriter, r *http.Request, failBody func(status int) any) bool {
	s.mu.Lock()
	s.total++
	delay, fail := s.delay, s.fail
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if fail != 0 {
		s.mu.Lock()
		s.requests[r.Method+" *"]++
		s.mu.Unlock()
		writeJSON(w, fail, failBody(fail))
		return true
	}
	return false
}

// route wraps h so that requests to it are counted under pattern.
func (s *state) route(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[pattern]++
		s.mu.Unlock()
		h(w, r)
	})
}

// authRoute registers h under pattern, as route does, and runs it with s.mu
// held for the caller auth identifies; auth answers the refused ones itself.
func authRoute[C any](s *state, mux *http.ServeMux, pattern string, auth func(http.ResponseWriter, *http.Request) (C, bool), h func(http.ResponseWriter, *http.Request, C)) {
	s.route(mux, pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c, ok := auth(w, r); ok {
			h(w, r, c)
		}
	})
}

func (s *state) unknown(mux *http.ServeMux, notFound func() any) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.Method+" *"]++
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, notFound())
	})
}

// world is what the GitHub and Gitea fakes keep alike: the request state,
// accounts (users and organisations) of type A, their repositories with
// collaborators, and personal tokens.
type world[A any] struct {
	state
	accounts   map[string]*A // lower(login)
	repos      repos[A]
	tokens     map[string]string // personal token → login
	nextID     int64
	newAccount func(id int64, login string, org bool) *A
}

// newWorld returns an empty world whose IDs start after firstID.
func newWorld[A any](firstID int64, newAccount func(id int64, login string, org bool) *A) world[A] {
	return world[A]{
		state: newState(), accounts: map[string]*A{}, repos: repos[A]{}, tokens: map[string]string{},
		nextID: firstID, newAccount: newAccount,
	}
}

func (w *world[A]) id() int64 { w.nextID++; return w.nextID }

// account returns login's account, adding it (an organisation if org) if
// unknown.
func (w *world[A]) account(login string, org bool) *A {
	a := w.accounts[lower(login)]
	if a == nil {
		a = w.newAccount(w.id(), login, org)
		w.accounts[lower(login)] = a
	}
	return a
}

// AddUser adds a user account.
func (w *world[A]) AddUser(login string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.account(login, false)
}

// AddOrg adds an organisation account.
func (w *world[A]) AddOrg(login string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.account(login, true)
}

// AddRepo adds a public repository; its owner is added as a user if unknown.
func (w *world[A]) AddRepo(owner, name string) { w.addRepo(owner, name, false) }

// AddPrivateRepo adds a private repository: only its owner and
// collaborators (and, on GitHub, installations on its owner) see it.
func (w *world[A]) AddPrivateRepo(owner, name string) { w.addRepo(owner, name, true) }

func (w *world[A]) addRepo(owner, name string, private bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.repos.add(w.id(), w.account(owner, false), owner, name, private)
}

// Archive marks owner/repo archived (read-only for everyone).
func (w *world[A]) Archive(owner, repo string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.repos.archive(owner, repo)
}

// AddCollaborator gives login (added as a user if unknown) a role on
// owner/repo, which must exist.
func (w *world[A]) AddCollaborator(owner, repo, login, role string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := must(w.repos.get(owner, repo), "AddCollaborator", "repository "+owner+"/"+repo)
	w.account(login, false)
	r.collabs[lower(login)] = role
}

// AddToken registers a personal access token for login (added as a user if
// unknown). Once any token is registered, every request must carry a known
// token (or, on GitHub, a minted installation token), else it gets 401.
func (w *world[A]) AddToken(token, login string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.account(login, false)
	w.tokens[token] = login
}

// repo is a repository of the GitHub and Gitea fakes, owned by an account
// of type A.
type repo[A any] struct {
	id       int64
	owner    *A
	name     string
	private  bool
	archived bool
	collabs  map[string]string // lower(login) → role
}

// repos holds a fake's repositories by lower(owner/name). Its methods are
// called with the fake's mutex held.
type repos[A any] map[string]*repo[A]

func (rs repos[A]) add(id int64, owner *A, ownerName, name string, private bool) {
	rs[lower(ownerName+"/"+name)] = &repo[A]{id: id, owner: owner, name: name, private: private, collabs: map[string]string{}}
}

// get returns owner/name, or nil.
func (rs repos[A]) get(owner, name string) *repo[A] { return rs[lower(owner+"/"+name)] }

// of returns the repository a request's {owner} and {repo} name, or nil.
func (rs repos[A]) of(r *http.Request) *repo[A] {
	return rs.get(r.PathValue("owner"), r.PathValue("repo"))
}

// archive marks owner/name archived (read-only for everyone), if it exists.
func (rs repos[A]) archive(owner, name string) {
	if r := rs.get(owner, name); r != nil {
		r.archived = true
	}
}

// must returns v, which op, a fake's method that sets a world up, looked
// up; nil (what was not added before) is the test's mistake and panics.
func must[T any](v *T, op, what string) *T {
	if v == nil {
		panic("forgetest: " + op + ": no " + what)
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// bearer returns the credential of an Authorization header: "Bearer X",
// "token X" (GitHub, Gitea) or "" when absent.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token ", "Token "} {
		if strings.HasPrefix(h, p) {
			return strings.TrimSpace(h[len(p):])
		}
	}
	return ""
}

func lower(s string) string { return strings.ToLower(s) }

const timeFormat = "2006-01-02T15:04:05Z"

var created = time.Date(2014, 5, 1, 12, 0, 0, 0, time.UTC)
