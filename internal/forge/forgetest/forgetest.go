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
