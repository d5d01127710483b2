package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/synchroniser/synchroniser/internal/hook"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/store"

	"github.com/synchroniser/synchroniser/internal/scm"
)

// synchronise serves the original endpoint: POST /synchronise/ and
// POST /synchronise/{user}/{project}/ with a legacy Bitbucket payload
// (form field payload= or raw JSON).
func (s *Server) synchronise(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Legacy.Enabled {
		fail(w, http.StatusNotFound, "the /synchronise/ endpoint is disabled")
		return
	}
	user, project := r.PathValue("user"), r.PathValue("project")
	hc := hook.Config{Enabled: true, Secret: s.cfg.Legacy.Token.Value(), MaxBody: int64(s.cfg.Limits.MaxBody)}
	ev, err := hook.ParseBitbucketLegacy(r, hc)
	if err != nil {
		s.hookError(w, "bitbucket-legacy", err)
		return
	}
	if err := ev.CheckSCM(scm.Hg); err != nil {
		s.refuse(w, "bitbucket-legacy", http.StatusBadRequest, "%s", hookMsg(err))
		return
	}
	m, herr := s.intake(r.Context(), ev, user, project)
	if herr != nil {
		s.refuse(w, "bitbucket-legacy", herr.status, "%s", herr.msg)
		return
	}
	sub, err := s.queue.Submit(r.Context(), m, Trigger{Kind: store.TriggerPush, Provider: ev.Provider, DeliveryID: ev.DeliveryID})
	if err != nil {
		s.log.Error("enqueue failed", "mirror", m.Name, "err", err)
		s.refuse(w, "bitbucket-legacy", http.StatusInternalServerError, "cannot queue the sync of %s", m.Name)
		return
	}
	id := sub.JobID
	what := fmt.Sprintf("%s to %s", ev.Repository, destName(m))
	s.log.Info("sync queued", "mirror", m.Name, "job", id, "provider", ev.Provider, "coalesced", sub.Coalesced)
	if !s.cfg.Legacy.Wait && !truthy(r.URL.Query().Get("wait")) {
		s.metrics.webhook("bitbucket-legacy", http.StatusAccepted)
		writeJSON(w, http.StatusAccepted, queued{Job: id, StatusURL: jobURL(id), Message: "Queued synchronisation of " + what})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Legacy.WaitTimeout)
	defer cancel()
	job, err := s.queue.Wait(ctx, id)
	if errors.Is(err, context.DeadlineExceeded) {
		s.refuse(w, "bitbucket-legacy", http.StatusInternalServerError, "the synchronisation of %s did not finish within %s; it goes on, see %s", what, s.cfg.Legacy.WaitTimeout, jobURL(id))
		return
	}
	if err != nil {
		s.log.Error("wait for job", "job", id, "err", err)
		s.refuse(w, "bitbucket-legacy", http.StatusInternalServerError, "cannot wait for job %d", id)
		return
	}
	status, body := jobAnswer(job, what, s.scrub)
	s.metrics.webhook("bitbucket-legacy", status)
	writeJSON(w, status, body)
}

// refuse answers {"error": msg} with status and counts the request.
func (s *Server) refuse(w http.ResponseWriter, provider string, status int, format string, args ...any) {
	s.metrics.webhook(provider, status)
	fail(w, status, format, args...)
}

// jobAnswer is what a waiting request answers for a finished job: 200 and
// a message, 400 when the request caused the failure, 500 otherwise.
func jobAnswer(job *Job, what string, scrub func(string) string) (int, map[string]any) {
	if job.State == JobSucceeded {
		msg := fmt.Sprintf("Synchronised %s: %d changeset%s", what, job.Changesets, plural(job.Changesets))
		if len(job.Refs) > 0 {
			// The 2014 message names the refs; the history's "REF OLD..NEW" stays in the API.
			names := make([]string, len(job.Refs))
			for i, r := range job.Refs {
				names[i], _, _ = strings.Cut(r, " ")
			}
			msg += ", refs " + strings.Join(names, ", ")
		} else {
			msg += ", destination already up to date"
		}
		return http.StatusOK, map[string]any{"message": msg, "job": job.ID}
	}
	status := http.StatusInternalServerError
	if job.Class == mirror.BadRequest.String() {
		status = http.StatusBadRequest
	}
	e := job.Error
	if e == "" {
		e = "job " + job.State
	}
	return status, map[string]any{"error": fmt.Sprintf("Synchronising %s failed: %s", what, scrub(e)), "job": job.ID}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// queued is the 202 answer.
type queued struct {
	Job       int64  `json:"job"`
	StatusURL string `json:"status_url"`
	Message   string `json:"message"`
}

func jobURL(id int64) string { return fmt.Sprintf("/api/jobs/%d", id) }

func destName(m mirror.Mirror) string {
	if m.Dest.Owner != "" && m.Dest.Project != "" {
		return m.Dest.Owner + "/" + m.Dest.Project
	}
	return m.Dest.String()
}

func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// hookMsg is the sender-safe text of a parser error.
func hookMsg(err error) string {
	var he *hook.Error
	if errors.As(err, &he) {
		return he.Msg
	}
	return err.Error()
}

// hookError answers a parser's error: 202 for ignored events, 200 for pings,
// the *hook.Error's status otherwise (413 also for bodies cut by the body
// limit).
func (s *Server) hookError(w http.ResponseWriter, provider string, err error) {
	status := hook.StatusOf(err)
	if isTooLarge(err) {
		status = http.StatusRequestEntityTooLarge
	}
	switch {
	case errors.Is(err, hook.ErrPing):
		s.metrics.webhook(provider, http.StatusOK)
		message(w, http.StatusOK, "pong")
		return
	case errors.Is(err, hook.ErrIgnored):
		s.metrics.webhook(provider, http.StatusAccepted)
		message(w, http.StatusAccepted, "ignored: %s", err)
		return
	}
	if status >= 500 {
		s.log.Error("webhook failed", "provider", provider, "err", err)
		s.refuse(w, provider, status, "internal error")
		return
	}
	s.log.Info("webhook refused", "provider", provider, "status", status, "reason", hookMsg(err))
	s.refuse(w, provider, status, "%s", hookMsg(err))
}

// webhook serves POST /hooks/{provider}.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	provider := r.PathValue("provider")
	pc, enabled := s.cfg.Provider(provider)
	if !enabled {
		// Not the requested name as a label: anyone could grow the metric.
		s.refuse(w, "unknown", http.StatusNotFound, "webhook provider %q is not enabled", provider)
		return
	}
	parser, ok := hook.Lookup(provider)
	if !ok {
		s.refuse(w, provider, http.StatusNotFound, "webhook provider %q is not supported by this build", provider)
		return
	}
	ev, err := parser(r, hook.Config{Enabled: true, Secret: pc.Secret.Value(), MaxBody: int64(s.cfg.Limits.MaxBody)})
	if err != nil {
		s.hookError(w, provider, err)
		return
	}
	m, herr := s.intake(r.Context(), ev, "", "")
	if herr != nil {
		s.refuse(w, provider, herr.status, "%s", herr.msg)
		return
	}
	sub, err := s.queue.Submit(r.Context(), m, Trigger{Kind: store.TriggerPush, Provider: provider, DeliveryID: ev.DeliveryID})
	if err != nil {
		s.log.Error("enqueue failed", "mirror", m.Name, "err", err)
		s.refuse(w, provider, http.StatusInternalServerError, "cannot queue the sync of %s", m.Name)
		return
	}
	id := sub.JobID
	if sub.Replayed {
		s.log.Info("duplicate delivery", "mirror", m.Name, "job", id, "provider", provider, "delivery", ev.DeliveryID)
		s.metrics.webhook(provider, http.StatusOK)
		writeJSON(w, http.StatusOK, queued{Job: id, StatusURL: jobURL(id), Message: "duplicate delivery: already queued as job " + strconv.FormatInt(id, 10)})
		return
	}
	s.log.Info("sync queued", "mirror", m.Name, "job", id, "provider", provider, "delivery", ev.DeliveryID)
	s.metrics.webhook(provider, http.StatusAccepted)
	writeJSON(w, http.StatusAccepted, queued{Job: id, StatusURL: jobURL(id), Message: "Queued synchronisation of mirror " + m.Name})
}

// scrub replaces the cache directory in messages sent to clients: where the
// server keeps its files is none of theirs.
func (s *Server) scrub(msg string) string {
	dir := s.cfg.CacheDir()
	if abs, err := filepath.Abs(dir); err == nil {
		msg = strings.ReplaceAll(msg, abs, "$CACHE")
	}
	return strings.ReplaceAll(msg, dir, "$CACHE")
}
