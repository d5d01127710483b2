package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// Adopter takes an existing hg-git conversion into a mirror's cache
// (*mirror.Syncer).
type Adopter interface {
	Adopt(ctx context.Context, m mirror.Mirror, req mirror.AdoptRequest) (*mirror.AdoptResult, error)
}

// adoptRequest is the body of POST /api/mirrors/{name}/adopt: one of From
// (an hg-git working repository on the server) and Map (a git-mapfile on
// the server, the commits fetched from the destination).
type adoptRequest struct {
	From string `json:"from"`
	Map  string `json:"map"`
}

// apiAdopt serves POST /api/mirrors/{name}/adopt (admin): it adopts at once
// and answers with the result, or 400 with why nothing was changed.
func (s *Server) apiAdopt(w http.ResponseWriter, r *http.Request) {
	if a := s.adminAuth(r); a != nil {
		fail(w, a.status, "%s", a.msg)
		return
	}
	if s.adopter == nil {
		fail(w, http.StatusNotImplemented, "adoption is not available on this server")
		return
	}
	m, ok := s.mirror(r.PathValue("name"))
	if !ok {
		fail(w, http.StatusNotFound, "no mirror named %q", r.PathValue("name"))
		return
	}
	var req adoptRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "want a JSON object {\"from\": PATH} or {\"map\": PATH}: %v", err)
		return
	}
	if (req.From == "") == (req.Map == "") {
		fail(w, http.StatusBadRequest, "give one of \"from\" (an hg-git repository) and \"map\" (a map file)")
		return
	}
	for _, p := range []string{req.From, req.Map} {
		if p != "" && (!filepath.IsAbs(p) || strings.ContainsAny(p, "\x00\n\r")) {
			fail(w, http.StatusBadRequest, "%q: want an absolute path on the server", p)
			return
		}
	}
	settings, err := s.cfg.ConvertSettings(m.Name)
	if err != nil {
		fail(w, http.StatusBadRequest, "mirror %s: %v", m.Name, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Minute)
	defer cancel()
	res, err := s.adopter.Adopt(ctx, m, mirror.AdoptRequest{From: req.From, Map: req.Map, Settings: settings, Now: s.now})
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, mirror.ErrAdoptRefused) || mirror.ClassOf(err) == mirror.BadRequest {
			status = http.StatusBadRequest
		}
		s.log.Warn("adoption failed", "mirror", m.Name, "err", err)
		fail(w, status, "%s", s.scrub(err.Error()))
		return
	}
	s.remember(m)
	s.log.Info("hg-git conversion adopted", "mirror", m.Name, "from", res.From, "mapped", res.Mapped)
	if res.RefsNotInMap == nil {
		res.RefsNotInMap = []string{}
	}
	writeJSON(w, http.StatusOK, res)
}

// ConversionInfo is how a mirror converts: the settings in force from the
// configuration, and what the mirror's cache records (the settings its
// commits were made with, and the hg-git conversion it was adopted from).
type ConversionInfo struct {
	HgGit                string     `json:"hggit"`                            // "1.0" or "1.1"
	AuthorsFile          string     `json:"authors_file,omitempty"`           // configured
	AuthorsHash          string     `json:"authors_hash,omitempty"`           // of the configured file, now
	AuthorsError         string     `json:"authors_error,omitempty"`          // the configured file cannot be read
	BranchBookmarkSuffix string     `json:"branch_bookmark_suffix,omitempty"` // configured
	RecordedAuthorsHash  string     `json:"recorded_authors_hash,omitempty"`  // what the converted commits were made with
	RecordedHgGit        string     `json:"recorded_hggit,omitempty"`
	AdoptedFrom          string     `json:"adopted_from,omitempty"`
	AdoptedAt            *time.Time `json:"adopted_at,omitempty"`
	AdoptedCommits       int        `json:"adopted_commits,omitempty"`
}

// conversionInfo returns the conversion settings of an hg mirror (nil for a
// Git mirror).
func (s *Server) conversionInfo(m mirror.Mirror) *ConversionInfo {
	if m.SCM != scm.Hg {
		return nil
	}
	cc := s.cfg.ConvertConfigOf(m.Name)
	ci := &ConversionInfo{HgGit: cc.HgGit, AuthorsFile: cc.AuthorsFile, BranchBookmarkSuffix: cc.BranchBookmarkSuffix}
	if cc.AuthorsFile != "" {
		if a, err := convert.LoadAuthors(cc.AuthorsFile); err != nil {
			ci.AuthorsError = strings.TrimPrefix(err.Error(), "convert: ")
		} else {
			ci.AuthorsHash = a.Hash
		}
	}
	root := filepath.Join(s.cfg.CacheDir(), m.Name, "hg")
	if rec, ok, err := convert.ReadRecord(root); err == nil && ok {
		ci.RecordedAuthorsHash, ci.RecordedHgGit = rec.AuthorsHash, rec.HgGit
		ci.AdoptedFrom, ci.AdoptedCommits = rec.AdoptedFrom, rec.AdoptedCommits
		if !rec.AdoptedAt.IsZero() {
			t := rec.AdoptedAt
			ci.AdoptedAt = &t
		}
	}
	return ci
}
