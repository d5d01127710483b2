package mirror

import (
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// RefUpdate is one destination ref changed by a sync. Old is "" when the ref
// was created.
type RefUpdate struct {
	Ref string `json:"ref"`
	Old string `json:"old,omitempty"`
	New string `json:"new"`
}

// Result is what a successful sync did.
type Result struct {
	Changesets  int               // changesets (hg) or commits (git) new in this sync
	RefsUpdated []RefUpdate       // sorted by Ref; empty when the destination was up to date
	Warnings    []convert.Warning // what could not be carried into Git (never silent)
	Duration    time.Duration     // wall time of the sync
	// Source is the source's state after the pull (hg mirrors; nil for
	// git mirrors, or when the cache's format is not readable natively).
	Source *hg.SourceState `json:"-"`
}
