package mirror

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
)

// Lease is what this mirror last pushed to one destination ref: a push
// that does not fast-forward or deletes the ref goes ahead only while the
// destination still holds Value (git push --force-with-lease).
type Lease struct {
	Value    git.Hash
	PushedAt time.Time
	// RewrittenFrom and RewrittenAt record the ref's last rewrite (zero
	// when it never was).
	RewrittenFrom git.Hash
	RewrittenAt   time.Time
}

// planned is one ref update to push, leased on the destination's value
// seen (Old; zero: the ref must not exist).
type planned struct {
	RefUpdate
}

// ancestry answers whether old is an ancestor of new in the local
// repository; known is false when old is not there at all.
type ancestry func(old, new git.Hash) (isAncestor, known bool, err error)

// rewriteProof answers whether the source's obsolescence markers prove
// that a ref moving from old to new follows a rewrite, and how ("amended
// into", "pruned"), or why not.
type rewriteProof func(old, new git.Hash) (ok bool, why string, err error)

// planInput is what plan compares.
type planInput struct {
	Want   []wantRef           // the source's refs, sorted by Ref
	Have   map[string]git.Hash // the destination's refs
	Leases map[string]Lease    // what this mirror last pushed, by ref
	Policy RefPolicy
	Git    bool // a Git source (origins of refs it no longer has are branches and tags)
	// IsAncestor and Proven answer about commits; Proven nil proves nothing.
	IsAncestor ancestry
	Proven     rewriteProof
	Now        time.Time
}

// pushPlan is what a sync pushes and reports.
type pushPlan struct {
	Updates  []planned   // sorted by Ref; deletions have a zero New
	Refs     []RefStatus // every ref, as it will be once Updates are pushed
	Refused  []RefUpdate // refs refused (Old = destination, New = refused value)
	Leases   map[string]Lease
	Warnings []convert.Warning
}

// plan compares the refs a sync wants at the destination with those it
// has and the leases, and decides per ref: up to date; create; fast-
// forward; rewrite (not a fast-forward: followed when Force, or when
// Rewrites is "markers", the destination still holds the lease and the
// markers prove it); refuse (diverged); delete a ref the source no longer
// has (topic and wild refs, or any with Prune, only while the destination
// holds the lease); keep it otherwise. A new ref whose name a kept ref at
// the destination blocks (a against a/b) is not exported. Refs the
// destination has that the mirror never pushed are left alone.
func plan(in planInput) (*pushPlan, error) {
	out := &pushPlan{Leases: make(map[string]Lease, len(in.Leases))}
	for ref, l := range in.Leases {
		if _, ok := in.Have[ref]; ok {
			out.Leases[ref] = l // a leased ref gone from the destination is no longer ours
		}
	}
	warn := func(kind, node, path, format string, args ...any) {
		out.Warnings = append(out.Warnings, convert.Warning{Rev: -1, Node: node, Path: path, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	wanted := make(map[string]bool, len(in.Want))
	for _, w := range in.Want {
		wanted[w.Ref] = true
	}
	// Deletions first: a ref they remove no longer blocks a new name.
	deleted := map[string]bool{}
	for _, ref := range sortedKeys(in.Leases) {
		l := in.Leases[ref]
		cur, ok := in.Have[ref]
		if wanted[ref] || !ok {
			continue
		}
		o := originOf(ref, in.Policy, in.Git)
		st := RefStatus{Ref: ref, Origin: o, Name: nameOf(ref, o, in.Policy), Git: cur}
		switch {
		case cur != l.Value:
			st.State, st.Detail = RefKept, fmt.Sprintf("gone from the source, but the destination holds %s, not %s which this mirror pushed: not deleted", short(cur), short(l.Value))
			warn(WarnRefKept, "", ref, "%s: %s", ref, st.Detail)
		case in.Policy.autoDeleted(ref) || in.Policy.Prune:
			st.State, st.Old, st.Git = RefDeleted, cur, git.Hash{}
			st.Detail = "gone from the source"
			out.Updates = append(out.Updates, planned{RefUpdate{Ref: ref, Old: cur}})
			deleted[ref] = true
			delete(out.Leases, ref)
		default:
			st.State, st.Detail = RefKept, "gone from the source; kept (set prune = true to delete it)"
			warn(WarnRefKept, "", ref, "%s %s was deleted at the source: kept at the destination (set prune = true to delete it)", st.Origin, st.Name)
		}
		out.Refs = append(out.Refs, st)
	}
	for _, w := range in.Want {
		st := w.RefStatus
		cur, ok := in.Have[w.Ref]
		st.Git = cur
		if l, ok := out.Leases[w.Ref]; ok && !l.RewrittenAt.IsZero() {
			st.At, st.RewrittenFrom = l.RewrittenAt, l.RewrittenFrom
		}
		if st.State != "" { // not exportable: the destination keeps what it has
			if st.State == RefWaiting {
				warn(WarnWaiting, st.Node, st.Name, "%s %s waits: %s", st.Origin, st.Name, st.Detail)
			}
			out.Refs = append(out.Refs, st)
			continue
		}
		push := func(state RefState) {
			st.State, st.Old, st.Git = state, cur, w.Value
			u := RefUpdate{Ref: w.Ref, Old: cur, New: w.Value, Rewritten: state == RefRewritten}
			out.Updates = append(out.Updates, planned{u})
			l := out.Leases[w.Ref]
			l.Value, l.PushedAt = w.Value, in.Now
			if state == RefRewritten {
				l.RewrittenFrom, l.RewrittenAt = cur, in.Now
				st.At, st.RewrittenFrom = in.Now, cur
			}
			out.Leases[w.Ref] = l
		}
		refuse := func(why string) {
			st.State, st.Old, st.Refused, st.Detail = RefDiverged, cur, w.Value, why
			out.Refused = append(out.Refused, RefUpdate{Ref: w.Ref, Old: cur, New: w.Value})
			warn(WarnRefused, st.Node, st.Name, "%s (%s %s) refused: %s", w.Ref, st.Origin, st.Name, why)
		}
		switch {
		case ok && cur == w.Value:
			st.State = RefUpToDate
			if l, ok := out.Leases[w.Ref]; !ok || l.Value != cur {
				// The destination holds what the source gives: ours from now.
				l.Value, l.PushedAt = cur, in.Now
				out.Leases[w.Ref] = l
			}
		case !ok:
			if other := blocked(w.Ref, in.Have, deleted); other != "" {
				st.State, st.Detail = RefBadName, fmt.Sprintf("the destination's %s blocks the name (Git cannot hold both)", other)
				warn(convert.WarnRef, st.Node, st.Name, "%s %s: %s: not exported", st.Origin, st.Name, st.Detail)
				break
			}
			push(RefCreated)
		default:
			ff := false
			if !strings.HasPrefix(w.Ref, "refs/tags/") { // tags never move by fast-forward
				isAnc, known, err := in.IsAncestor(cur, w.Value)
				if err != nil {
					return nil, err
				}
				ff = isAnc && known
			}
			if ff {
				push(RefUpdated)
				break
			}
			if in.Policy.Force {
				st.Detail = "forced (force = true)"
				push(RefRewritten)
				break
			}
			if in.Policy.rewrites() == RewritesRefuse {
				refuse(fmt.Sprintf("%s is not an ancestor of %s (rewrites = \"refuse\"; set force = true to overwrite)", short(cur), short(w.Value)))
				break
			}
			l, leased := out.Leases[w.Ref]
			if !leased {
				refuse(fmt.Sprintf("%s is not an ancestor of %s and this mirror has no record of pushing %s there (set force = true to overwrite)", short(cur), short(w.Value), short(cur)))
				break
			}
			if l.Value != cur {
				refuse(fmt.Sprintf("the destination holds %s, not %s which this mirror pushed: changed by someone else (set force = true to overwrite)", short(cur), short(l.Value)))
				break
			}
			proven, why, err := false, "the source has no obsolescence marker for it", error(nil)
			if in.Proven != nil {
				proven, why, err = in.Proven(cur, w.Value)
				if err != nil {
					return nil, err
				}
			}
			if !proven {
				refuse(fmt.Sprintf("%s is not an ancestor of %s and %s (set force = true to overwrite)", short(cur), short(w.Value), why))
				break
			}
			st.Detail = why
			push(RefRewritten)
			warn(WarnRewritten, st.Node, st.Name, "%s rewritten from %s to %s: %s", w.Ref, short(cur), short(w.Value), why)
		}
		out.Refs = append(out.Refs, st)
	}
	sort.Slice(out.Updates, func(i, j int) bool { return out.Updates[i].Ref < out.Updates[j].Ref })
	sort.SliceStable(out.Refs, func(i, j int) bool { return out.Refs[i].Ref < out.Refs[j].Ref })
	return out, nil
}

// blocked returns a destination ref that makes ref impossible to create
// (a ref named like one of its directories, or one below it), ignoring
// refs being deleted; "" when none.
func blocked(ref string, have map[string]git.Hash, deleted map[string]bool) string {
	for i := len("refs/"); i < len(ref); i++ {
		if ref[i] == '/' {
			if _, ok := have[ref[:i]]; ok && !deleted[ref[:i]] {
				return ref[:i]
			}
		}
	}
	var below []string
	for other := range have {
		if strings.HasPrefix(other, ref+"/") && !deleted[other] {
			below = append(below, other)
		}
	}
	if len(below) > 0 {
		sort.Strings(below)
		return below[0]
	}
	return ""
}

// originOf guesses what a ref the source no longer has stood for, from
// its name.
func originOf(ref string, p RefPolicy, gitSource bool) Origin {
	switch {
	case strings.HasPrefix(ref, "refs/tags/"):
		return OriginTag
	case gitSource:
		return OriginBranch
	case strings.HasPrefix(ref, "refs/heads/wild/"):
		return OriginHead
	case p.layout() == LayoutHeptapod && strings.HasPrefix(ref, "refs/heads/topic/"):
		return OriginTopic
	case p.layout() == LayoutHeptapod && strings.HasPrefix(ref, "refs/heads/branch/"),
		p.layout() == LayoutHgGit && p.NamedBranches && strings.HasPrefix(ref, "refs/heads/branches/"):
		return OriginBranch
	case p.layout() == LayoutHgGit && ref == "refs/heads/"+p.tipBranch():
		return OriginHead
	}
	return OriginBookmark
}

// nameOf is the short name of a ref of origin o, for messages.
func nameOf(ref string, o Origin, p RefPolicy) string {
	prefix := "refs/heads/"
	switch {
	case o == OriginTag:
		prefix = "refs/tags/"
	case o == OriginHead && strings.HasPrefix(ref, "refs/heads/wild/"):
		prefix = "refs/heads/wild/"
	case o == OriginTopic:
		prefix = "refs/heads/topic/"
	case o == OriginBranch && p.layout() == LayoutHeptapod:
		prefix = "refs/heads/branch/"
	case o == OriginBranch && strings.HasPrefix(ref, "refs/heads/branches/") && p.NamedBranches:
		prefix = "refs/heads/branches/"
	}
	return strings.TrimPrefix(ref, prefix)
}
