package mirror

import (
	"fmt"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// RefUpdate is one destination ref changed by a sync. Old is zero when the
// ref was created, New is zero when it was deleted.
type RefUpdate struct {
	Ref string   `json:"ref"`
	Old git.Hash `json:"old,omitzero"`
	New git.Hash `json:"new,omitzero"`
	// Rewritten is set when the update followed a rewrite (obsolescence
	// markers) or was forced: not a fast-forward.
	Rewritten bool `json:"rewritten,omitempty"`
}

// String returns "REF OLD..NEW" with short hashes ("(new)" and
// "(deleted)" for a creation and a deletion), the form the history keeps.
func (u RefUpdate) String() string {
	old, new := "(new)", "(deleted)"
	if !u.Old.IsZero() {
		old = short(u.Old)
	}
	if !u.New.IsZero() {
		new = short(u.New)
	}
	s := u.Ref + " " + old + ".." + new
	if u.Rewritten {
		s += " (rewritten)"
	}
	return s
}

func short(h git.Hash) string { return h.String()[:12] }

// Origin says what in the source a destination ref stands for.
type Origin string

// Origins of refs.
const (
	OriginBookmark Origin = "bookmark"
	OriginBranch   Origin = "branch" // a named branch's head (or a Git source's branch)
	OriginTopic    Origin = "topic"  // a topic's head (Name is BRANCH/TOPIC)
	OriginHead     Origin = "head"   // tip, or a head no other ref reaches (wild/NODE)
	OriginTag      Origin = "tag"
)

// RefState is what a sync did with, or knows of, one ref.
type RefState string

// States of a ref.
const (
	RefUpToDate   RefState = "up-to-date"
	RefCreated    RefState = "created"
	RefUpdated    RefState = "updated"   // fast-forward
	RefRewritten  RefState = "rewritten" // non-fast-forward proven by markers, or forced
	RefDeleted    RefState = "deleted"   // the source no longer has it (topic, wild head, or prune)
	RefKept       RefState = "kept"      // the source no longer has it; kept at the destination
	RefDiverged   RefState = "refused-diverged"
	RefWaiting    RefState = "waiting-draft"             // phases = "public" and the head is not public
	RefBadName    RefState = "not-exported-invalid-name" // Git refuses the name, or it collides
	RefSecret     RefState = "not-exported-secret"
	RefNotPresent RefState = "not-exported-unconverted" // the changeset has no Git commit (hidden)
)

// Refused reports whether s means the sync failed for this ref.
func (s RefState) Refused() bool { return s == RefDiverged }

// RefStatus is one ref of a mirror as a sync left it.
type RefStatus struct {
	Ref    string `json:"ref"` // full Git ref name (as it would be, when not exported)
	Origin Origin `json:"origin"`
	Name   string `json:"name"`           // bookmark, branch, BRANCH/TOPIC, tag, or node for a head
	Node   string `json:"node,omitempty"` // the hg changeset (40 hex), "" for Git sources
	// Git is the ref's value at the destination after the sync (zero: it
	// has none).
	Git   git.Hash `json:"git,omitzero"`
	State RefState `json:"state"`
	// Old is the previous value of a ref updated, rewritten or deleted;
	// for a refused ref, the destination's value kept.
	Old git.Hash `json:"old,omitzero"`
	// Refused is the value a refused ref was not moved to.
	Refused git.Hash `json:"refused,omitzero"`
	// At is when the ref was last rewritten (with RewrittenFrom), kept
	// across syncs by the lease.
	At            time.Time `json:"rewritten_at,omitzero"`
	RewrittenFrom git.Hash  `json:"rewritten_from,omitzero"`
	Detail        string    `json:"detail,omitempty"` // why, in words
}

// Describe says the state in words: "up to date", "rewritten at TIME from
// OLD", "refused: diverged", "waiting: draft", "not exported: invalid
// name", ...
func (r RefStatus) Describe() string {
	var s string
	switch r.State {
	case RefUpToDate:
		s = "up to date"
	case RefCreated:
		s = "created"
	case RefUpdated:
		s = "updated from " + short(r.Old)
	case RefRewritten:
		s = "rewritten"
	case RefDeleted:
		s = "deleted (was " + short(r.Old) + ")"
	case RefKept:
		s = "kept (gone from the source)"
	case RefDiverged:
		s = "refused: diverged"
	case RefWaiting:
		s = "waiting: draft"
	case RefBadName:
		s = "not exported: invalid name"
	case RefSecret:
		s = "not exported: secret"
	case RefNotPresent:
		s = "not exported: not converted"
	default:
		s = string(r.State)
	}
	if !r.At.IsZero() && !r.RewrittenFrom.IsZero() && (r.State == RefRewritten || r.State == RefUpToDate) {
		if r.State == RefUpToDate {
			s += ";"
		}
		s += fmt.Sprintf(" rewritten at %s from %s", r.At.UTC().Format(time.RFC3339), short(r.RewrittenFrom))
	}
	return s
}

// Result is what a sync did. A sync that refused some refs returns its
// Result with the error (see Refused).
type Result struct {
	Changesets  int               // changesets (hg) or commits (git) new in this sync
	RefsUpdated []RefUpdate       // sorted by Ref; empty when the destination was up to date
	Refs        []RefStatus       // every ref the source has or the mirror pushed, sorted by Ref
	Warnings    []convert.Warning // what could not be carried into Git (never silent)
	Duration    time.Duration     // wall time of the sync
	Steps       []Step            // wall time of each step (pull, convert, push), in order
	// Source is the source's state after the pull (hg mirrors; nil for
	// git mirrors, or when the cache's format is not readable natively).
	Source *hg.SourceState `json:"-"`
}

// Refused returns the refs the sync refused to move (sorted by Ref).
func (r *Result) Refused() []RefStatus {
	if r == nil {
		return nil
	}
	var out []RefStatus
	for _, s := range r.Refs {
		if s.State.Refused() {
			out = append(out, s)
		}
	}
	return out
}

// Warning kinds a sync adds to the converter's.
const (
	// WarnHeadUnexported is a head no exported ref reaches (Node names
	// it, Path is BRANCH or BRANCH/TOPIC).
	WarnHeadUnexported = "head-unexported"
	// WarnRefKept is a ref the source no longer has, kept at the
	// destination (prune is off, or the destination moved it).
	WarnRefKept = "ref-kept"
	// WarnRewritten is a ref rewritten at the destination (old → new).
	WarnRewritten = "ref-rewritten"
	// WarnRefused is a ref refused (diverged).
	WarnRefused = "ref-refused"
	// WarnWaiting is a ref waiting for its head to become public.
	WarnWaiting = "ref-waiting"
)
