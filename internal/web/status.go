package web

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var statusTemplate = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).ParseFS(templateFS, "templates/status.html", "templates/conversion.html"))

// statusData is what the status page shows.
type statusData struct {
	Mirrors      []MirrorInfo
	Runs         []RunInfo
	Job          *Job
	Depth        int
	Database     string
	AdminEnabled bool
	LoggedIn     bool
	LoginFailed  bool
	Now          time.Time
}

// statusPage serves GET /.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := statusData{
		Database:     s.cfg.DatabaseKind(),
		AdminEnabled: s.cfg.AdminToken.IsSet(),
		LoggedIn:     s.loggedIn(r),
		LoginFailed:  r.URL.Query().Get("login") == "failed",
		Now:          s.now(),
	}
	var err error
	if d.Mirrors, err = s.mirrorInfos(ctx); err != nil {
		s.log.Error("status page: mirrors", "err", err)
		http.Error(w, "cannot read the mirrors' history", http.StatusInternalServerError)
		return
	}
	if d.Runs, err = s.recentRuns(ctx, "", 30); err != nil {
		s.log.Error("status page: runs", "err", err)
		http.Error(w, "cannot read the mirrors' history", http.StatusInternalServerError)
		return
	}
	if id, err := strconv.ParseInt(r.URL.Query().Get("job"), 10, 64); err == nil && id > 0 {
		if job, err := s.queue.Job(ctx, id); err == nil {
			d.Job = job
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	d.Depth, _ = s.queue.Depth(dctx)
	cancel()
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, d); err != nil {
		s.log.Error("status page: template", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	_, _ = buf.WriteTo(w)
}

// staticHandler serves the embedded assets under /static/.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // embedded at build time
	}
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}
