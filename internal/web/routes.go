package web

import (
	"context"
	"net/http"
	"sort"
	"time"
)

// routes builds the handler: the mux inside the middleware.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.statusPage)
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	mux.HandleFunc("POST /synchronise", s.synchronise)
	mux.HandleFunc("POST /synchronise/{$}", s.synchronise)
	mux.HandleFunc("POST /synchronise/{user}/{project}", s.synchronise)
	mux.HandleFunc("POST /synchronise/{user}/{project}/{$}", s.synchronise)
	mux.HandleFunc("POST /hooks/{provider}", s.webhook)

	mux.HandleFunc("GET /api/mirrors", s.apiMirrors)
	mux.HandleFunc("GET /api/mirrors/{name}", s.apiMirror)
	mux.HandleFunc("POST /api/mirrors/{name}/sync", s.apiSync)
	mux.HandleFunc("POST /api/mirrors/{name}/adopt", s.apiAdopt) // adopt.go
	mux.HandleFunc("GET /api/jobs/{id}", s.apiJob)

	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	var h http.Handler = jsonErrors(mux)
	h = s.limitBody(h)
	h = s.rateLimit(h)
	h = securityHeaders(h)
	h = s.recoverPanics(h)
	return s.logRequests(h)
}

// healthz answers 200 while the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs the readiness checks (database reachable, hg and git
// present): 200 when all pass, 503 and the failures otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	names := make([]string, 0, len(s.ready))
	for n := range s.ready {
		names = append(names, n)
	}
	sort.Strings(names)
	checks := map[string]string{}
	status := http.StatusOK
	for _, n := range names {
		if err := s.ready[n](ctx); err != nil {
			checks[n] = err.Error()
			status = http.StatusServiceUnavailable
			continue
		}
		checks[n] = "ok"
	}
	word := "ready"
	if status != http.StatusOK {
		word = "not ready"
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": checks})
}
