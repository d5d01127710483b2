package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/store"
)

// RefInfo is one ref of a mirror as its latest sync left it: where it
// comes from, its Git value and its state, in words too.
type RefInfo struct {
	mirror.RefStatus
	Status string `json:"status"` // "up to date", "rewritten at TIME from OLD", "refused: diverged", ...
}

// Short is the Git value's first 12 digits ("" when none), for the page.
func (r RefInfo) Short() string {
	if r.Git.IsZero() {
		return ""
	}
	return r.Git.String()[:12]
}

// Class is the CSS class of the state.
func (r RefInfo) Class() string {
	switch {
	case r.State.Refused():
		return "failed"
	case r.State == mirror.RefWaiting || r.State == mirror.RefKept:
		return "retry"
	case strings.HasPrefix(string(r.State), "not-exported"):
		return "aborted"
	}
	return "success"
}

// pageRefs bounds the refs the status page lists per mirror (the API
// lists all).
const pageRefs = 200

// mirrorRefs reads the ref states the latest sync of name saved.
func (s *Server) mirrorRefs(ctx context.Context, name string) ([]RefInfo, error) {
	b, _, err := s.store.MirrorRefs(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return []RefInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	var sts []mirror.RefStatus
	if err := json.Unmarshal(b, &sts); err != nil {
		return nil, fmt.Errorf("refs of %s: %w", name, err)
	}
	out := make([]RefInfo, len(sts))
	for i, st := range sts {
		st.Detail = s.scrub(st.Detail)
		out[i] = RefInfo{RefStatus: st, Status: st.Describe()}
	}
	return out, nil
}
