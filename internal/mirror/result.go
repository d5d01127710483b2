package mirror

import (
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
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
}
