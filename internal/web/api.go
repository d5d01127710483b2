package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/store"

	"github.com/synchroniser/synchroniser/internal/scm"

	"github.com/synchroniser/synchroniser/internal/forge"
)

// MirrorInfo is a mirror as the API and the status page show it: no
// secrets, URLs without user information.
type MirrorInfo struct {
	Name        string          `json:"name"`
	SCM         scm.Kind        `json:"scm"`
	Source      string          `json:"source"`
	Destination DestinationInfo `json:"destination"`
	Configured  bool            `json:"configured"` // false: resolved from a webhook (seed mapping)
	Poll        string          `json:"poll,omitempty"`
	Runs        int             `json:"runs"`
	Failures    int             `json:"failures"`
	LastSync    *time.Time      `json:"last_sync,omitempty"`    // start of the latest run
	LastSuccess *time.Time      `json:"last_success,omitempty"` // end of the latest successful run
	Outcome     string          `json:"outcome,omitempty"`      // of the latest run
	Lag         *int            `json:"lag,omitempty"`          // changesets not yet in the destination (absent: unknown)
	LastError   string          `json:"last_error,omitempty"`
	Changesets  int             `json:"changesets"` // converted by the latest run
	// Refs are the mirror's refs as the latest sync left them (origin,
	// Git value, state); the status page shows the first pageRefs.
	Refs     []RefInfo `json:"refs"`
	MoreRefs int       `json:"-"` // refs beyond those the page shows
	// Warnings are the latest finished run's (head-unexported, refs not
	// exported, ...).
	Warnings []string `json:"warnings,omitempty"`
	// Refused lists the refs the latest sync refused (diverged).
	Refused []string `json:"refused,omitempty"`
	// Worker is the worker syncing the mirror now (WorkerSyncing) or its
	// home worker, which runs its syncs and keeps its cache.
	Worker        string          `json:"worker,omitempty"`
	WorkerSyncing bool            `json:"worker_syncing,omitempty"`
	Conversion    *ConversionInfo `json:"conversion,omitempty"` // hg mirrors: the conversion settings (adopt.go)
}

// DestinationInfo is a destination without credentials.
type DestinationInfo struct {
	URL     string     `json:"url"`
	Forge   forge.Kind `json:"forge,omitempty"`
	Owner   string     `json:"owner,omitempty"`
	Project string     `json:"project,omitempty"`
}

// RunInfo is one sync run.
type RunInfo struct {
	ID         int64      `json:"id"`
	Mirror     string     `json:"mirror"`
	Job        int64      `json:"job"`
	Attempt    int        `json:"attempt"`
	Trigger    string     `json:"trigger"`
	Started    time.Time  `json:"started"`
	Finished   *time.Time `json:"finished,omitempty"`
	Duration   string     `json:"duration,omitempty"`
	Outcome    string     `json:"outcome"`
	Changesets int        `json:"changesets"`
	Refs       []string   `json:"refs,omitempty"`
	Warnings   []string   `json:"warnings,omitempty"`
	Error      string     `json:"error,omitempty"`
	Steps      []StepInfo `json:"steps,omitempty"` // pull, convert, push
}

// StepInfo is the wall time of one step of a run.
type StepInfo struct {
	Name     string  `json:"name"`
	Seconds  float64 `json:"seconds"`
	Duration string  `json:"duration"` // rounded to the millisecond: "1.234s"
}

func runInfo(r store.Run) RunInfo {
	ri := RunInfo{ID: r.ID, Mirror: r.Mirror, Job: r.JobID, Attempt: r.Attempt, Trigger: r.TriggerKind,
		Started: r.Started, Outcome: string(r.Outcome), Changesets: r.Changesets,
		Refs: r.RefsUpdated, Warnings: r.Warnings, Error: r.Error}
	if r.Provider != "" {
		ri.Trigger += " " + r.Provider
	}
	for _, st := range r.Steps {
		ri.Steps = append(ri.Steps, StepInfo{Name: st.Name, Seconds: st.Duration.Seconds(), Duration: st.Duration.Round(time.Millisecond).String()})
	}
	if !r.Finished.IsZero() {
		f := r.Finished
		ri.Finished = &f
		ri.Duration = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
	}
	return ri
}

func (s *Server) mirrorInfo(ctx context.Context, m mirror.Mirror) (MirrorInfo, error) {
	_, configured := s.cfg.Lookup(m.Name)
	mi := MirrorInfo{
		Name: m.Name, SCM: m.SCM, Source: mirror.Redact(m.Source), Configured: configured,
		Destination: DestinationInfo{URL: m.Dest.String(), Forge: m.Dest.Forge, Owner: m.Dest.Owner, Project: m.Dest.Project},
	}
	if m.Poll > 0 {
		mi.Poll = m.Poll.String()
	}
	mi.Conversion = s.conversionInfo(m)
	st, err := s.store.MirrorStats(ctx, m.Name)
	if err != nil {
		return mi, err
	}
	mi.Runs, mi.Failures, mi.LastError = st.Runs, st.Failures, s.scrub(st.LastError)
	if st.LastRun != nil {
		t := st.LastRun.Started
		mi.LastSync, mi.Outcome, mi.Changesets = &t, string(st.LastRun.Outcome), st.LastRun.Changesets
	}
	if st.LastSuccess != nil {
		t := st.LastSuccess.Finished
		mi.LastSuccess = &t
	}
	if st.Lag >= 0 {
		lag := st.Lag
		mi.Lag = &lag
	}
	if last := st.LastRun; last != nil {
		if last.Outcome == store.OutcomeRunning && st.LastSuccess != nil {
			last = st.LastSuccess
		}
		for _, w := range last.Warnings {
			mi.Warnings = append(mi.Warnings, s.scrub(w))
		}
	}
	if mi.Refs, err = s.mirrorRefs(ctx, m.Name); err != nil {
		return mi, err
	}
	for _, r := range mi.Refs {
		if r.State.Refused() {
			mi.Refused = append(mi.Refused, r.Ref)
		}
	}
	s.addWorker(ctx, &mi)
	return mi, nil
}

func (s *Server) mirrorInfos(ctx context.Context) ([]MirrorInfo, error) {
	runs, err := s.store.RecentRuns(ctx, 500)
	if err != nil {
		return nil, err
	}
	ms := s.mirrors(runs...)
	out := make([]MirrorInfo, 0, len(ms))
	for _, m := range ms {
		mi, err := s.mirrorInfo(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, mi)
	}
	return out, nil
}

// apiMirrors serves GET /api/mirrors.
func (s *Server) apiMirrors(w http.ResponseWriter, r *http.Request) {
	infos, err := s.mirrorInfos(r.Context())
	if err != nil {
		s.log.Error("list mirrors", "err", err)
		fail(w, http.StatusInternalServerError, "cannot read the mirrors' history")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mirrors": infos})
}

// apiMirror serves GET /api/mirrors/{name}: the mirror and its recent runs.
func (s *Server) apiMirror(w http.ResponseWriter, r *http.Request) {
	m, ok := s.mirror(r.PathValue("name"))
	if !ok {
		fail(w, http.StatusNotFound, "no mirror named %q", r.PathValue("name"))
		return
	}
	mi, err := s.mirrorInfo(r.Context(), m)
	if err != nil {
		s.log.Error("mirror stats", "mirror", m.Name, "err", err)
		fail(w, http.StatusInternalServerError, "cannot read the mirror's history")
		return
	}
	runs, err := s.recentRuns(r.Context(), m.Name, 20)
	if err != nil {
		s.log.Error("mirror runs", "mirror", m.Name, "err", err)
		fail(w, http.StatusInternalServerError, "cannot read the mirror's history")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mirror": mi, "runs": runs})
}

// recentRuns returns the latest runs, of one mirror when name is not "".
func (s *Server) recentRuns(ctx context.Context, name string, n int) ([]RunInfo, error) {
	runs, err := s.store.RecentRuns(ctx, 200)
	if err != nil {
		return nil, err
	}
	out := []RunInfo{}
	for _, r := range runs {
		if name != "" && r.Mirror != name {
			continue
		}
		ri := runInfo(r)
		ri.Error = s.scrub(ri.Error)
		out = append(out, ri)
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// apiJob serves GET /api/jobs/{id}.
func (s *Server) apiJob(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		fail(w, http.StatusBadRequest, "job id must be a positive integer")
		return
	}
	job, err := s.queue.Job(r.Context(), id)
	if errors.Is(err, ErrJobNotFound) {
		fail(w, http.StatusNotFound, "no job %d", id)
		return
	}
	if err != nil {
		s.log.Error("read job", "job", id, "err", err)
		fail(w, http.StatusInternalServerError, "cannot read job %d", id)
		return
	}
	runs, err := s.store.JobRuns(r.Context(), id)
	if err != nil {
		s.log.Error("job runs", "job", id, "err", err)
		fail(w, http.StatusInternalServerError, "cannot read job %d", id)
		return
	}
	infos := make([]RunInfo, len(runs))
	for i, run := range runs {
		infos[i] = runInfo(run)
		infos[i].Error = s.scrub(infos[i].Error)
	}
	job.Error = s.scrub(job.Error)
	writeJSON(w, http.StatusOK, map[string]any{"job": job, "runs": infos})
}

// apiSync serves POST /api/mirrors/{name}/sync (admin): queue a sync now.
func (s *Server) apiSync(w http.ResponseWriter, r *http.Request) {
	if a := s.adminAuth(r); a != nil {
		fail(w, a.status, "%s", a.msg)
		return
	}
	m, ok := s.mirror(r.PathValue("name"))
	if !ok {
		fail(w, http.StatusNotFound, "no mirror named %q", r.PathValue("name"))
		return
	}
	sub, err := s.queue.Submit(r.Context(), m, Trigger{Kind: store.TriggerManual})
	if err != nil {
		s.log.Error("enqueue failed", "mirror", m.Name, "err", err)
		fail(w, http.StatusInternalServerError, "cannot queue the sync of %s", m.Name)
		return
	}
	id := sub.JobID
	s.remember(m)
	s.log.Info("sync queued", "mirror", m.Name, "job", id, "trigger", store.TriggerManual)
	if wantsHTML(r) {
		http.Redirect(w, r, "/?job="+strconv.FormatInt(id, 10)+"#jobs", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusAccepted, queued{Job: id, StatusURL: jobURL(id), Message: "Queued synchronisation of mirror " + m.Name})
}
