package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// pushHg derives an hg mirror's refs from the source's state st and the
// conversion cres, and pushes them (see pushRefs). res is filled in.
func (s *Syncer) pushHg(ctx context.Context, m Mirror, root string, cres *convert.Result, st *hg.SourceState, res *Result, log *slog.Logger) (*Result, error) {
	gitDir := convert.GitDir(root)
	byHg, err := convert.ReadMap(convert.MapPath(root))
	if err != nil {
		return nil, &Error{Op: "push", Class: Internal, Err: err}
	}
	byGit := make(map[git.Hash]hg.Node, len(byHg))
	for n, h := range byHg {
		byGit[h] = n
	}
	if st == nil {
		// The cache is not readable natively (the hg-git backend reads
		// it): the converter's bookmarks and tip are all there is.
		log.WarnContext(ctx, "source state not readable natively: refs from the converter's bookmarks and tip")
		st = converterState(cres, byGit)
	}
	src := hgSource{State: st, Git: byHg, Tags: parseHashes(cres.Tags), BranchHeads: parseHashes(cres.BranchHeads)}
	if m.Policy.layout() == LayoutHeptapod {
		r, err := hg.Open(root)
		if err != nil {
			return nil, &Error{Op: "push", Class: Internal, Err: err}
		}
		defer r.Close()
		src.Parent = func(n hg.Node) (hg.Node, string, string, bool) {
			rev, ok := r.Rev(n)
			if !ok {
				return hg.Node{}, "", "", false
			}
			cs, err := r.Changeset(rev)
			if err != nil {
				return hg.Node{}, "", "", false
			}
			var p1 hg.Node
			if p, _, err := r.Changelog().Parents(rev); err == nil && p >= 0 {
				if p1, err = r.Changelog().Node(p); err != nil {
					return hg.Node{}, "", "", false
				}
			}
			return p1, cs.Branch(), cs.Extra["topic"], true
		}
	}
	want, warnings := m.Policy.hgRefStates(src)
	// The planner names every ref Git refuses; the converter's own ref
	// warnings are about its local repository.
	for _, w := range cres.Warnings {
		if w.Kind != convert.WarnRef {
			res.Warnings = append(res.Warnings, w)
		}
	}
	for _, w := range warnings {
		log.WarnContext(ctx, "ref not exported", slog.String("kind", w.Kind), slog.String("node", w.Node), slog.String("reason", w.Message))
	}
	res.Warnings = append(res.Warnings, warnings...)
	g := s.gitRunner(Destination{})
	isAnc := localAncestry(ctx, g, gitDir, cres.Parents)
	proof := markerProof(st, byHg, byGit, isAnc)
	return s.pushRefs(ctx, m, gitDir, want, false, isAnc, proof, res, log)
}

// parseHashes turns the converter's hex values into hashes (a value that
// is not one is left out).
func parseHashes(in map[string]string) map[string]git.Hash {
	out := make(map[string]git.Hash, len(in))
	for k, v := range in {
		if h, err := git.ParseHash(v); err == nil {
			out[k] = h
		}
	}
	return out
}

// converterState is a SourceState made of the converter's bookmarks and
// tip, for a cache the native reader cannot read.
func converterState(cres *convert.Result, byGit map[git.Hash]hg.Node) *hg.SourceState {
	st := &hg.SourceState{Bookmarks: map[string]hg.Node{}}
	for name, h := range parseHashes(cres.Bookmarks) {
		if n, ok := byGit[h]; ok {
			st.Bookmarks[name] = n
		}
	}
	if h, err := git.ParseHash(cres.Tip); err == nil {
		if n, ok := byGit[h]; ok {
			st.Heads = []hg.Head{{Node: n, Branch: "default"}}
		}
	}
	return st
}

// localAncestry answers ancestry questions in the local repository gitDir:
// from parents (the commits a conversion just wrote, with their parents;
// may be nil) when they lead from new to old, the common case of a sync
// that adds commits on top of what it pushed last, else with git.
func localAncestry(ctx context.Context, g *git.Runner, gitDir string, parents map[git.Hash][]git.Hash) ancestry {
	return func(old, new git.Hash) (bool, bool, error) {
		if descends(parents, old, new) {
			return true, true, nil
		}
		have, err := git.ObjectExists(gitDir, old)
		if err != nil {
			return false, false, &Error{Op: "push", Class: Internal, Err: err}
		}
		if !have {
			return false, false, nil
		}
		if ok, err := git.ObjectExists(gitDir, new); err != nil || !ok {
			return false, false, err
		}
		ok, err := g.IsAncestor(ctx, gitDir, old, new)
		if err != nil {
			return false, true, &Error{Op: "merge-base", Class: Internal, Err: err}
		}
		return ok, true, nil
	}
}

// descends reports whether parents lead from new to old (or new is old
// and was written): a walk of the given commits only, so a false answer
// means "not known", not "not an ancestor".
func descends(parents map[git.Hash][]git.Hash, old, new git.Hash) bool {
	if _, ok := parents[new]; !ok {
		return false
	}
	seen := map[git.Hash]bool{new: true}
	for next := []git.Hash{new}; len(next) > 0; {
		h := next[len(next)-1]
		next = next[:len(next)-1]
		if h == old {
			return true
		}
		for _, p := range parents[h] {
			if !seen[p] {
				seen[p] = true
				next = append(next, p)
			}
		}
	}
	return false
}

// markerProof proves rewrites by the source's obsolescence markers: a ref
// moving from old to new follows a rewrite when new is a successor of old
// or descends from one, or when old was pruned and new is an ancestor of
// it.
func markerProof(st *hg.SourceState, byHg map[hg.Node]git.Hash, byGit map[git.Hash]hg.Node, isAnc ancestry) rewriteProof {
	return func(old, new git.Hash) (bool, string, error) {
		oldN, ok := byGit[old]
		if !ok {
			return false, fmt.Sprintf("%s is no commit this mirror converted (no marker can name it)", short(old)), nil
		}
		succs, pruned := st.Successors(oldN)
		newN, newKnown := byGit[new]
		for _, sn := range succs {
			if newKnown && sn == newN {
				return true, fmt.Sprintf("the source's obsolescence markers rewrite changeset %s into %s", oldN.String()[:12], sn.String()[:12]), nil
			}
		}
		for _, sn := range succs {
			sg, ok := byHg[sn]
			if !ok {
				continue
			}
			if anc, known, err := isAnc(sg, new); err != nil {
				return false, "", err
			} else if anc && known {
				return true, fmt.Sprintf("the source's obsolescence markers rewrite changeset %s into %s, which %s descends from", oldN.String()[:12], sn.String()[:12], short(new)), nil
			}
		}
		if pruned {
			if anc, known, err := isAnc(new, old); err != nil {
				return false, "", err
			} else if anc && known {
				return true, fmt.Sprintf("changeset %s was pruned at the source and the ref moved back to its ancestor %s", oldN.String()[:12], short(new)), nil
			}
		}
		if len(succs) == 0 && !pruned {
			return false, fmt.Sprintf("the source has no obsolescence marker for changeset %s", oldN.String()[:12]), nil
		}
		return false, fmt.Sprintf("the source's markers do not lead from changeset %s to %s", oldN.String()[:12], short(new)), nil
	}
}

// pushRefs makes the destination's refs follow want (see plan): in one
// atomic push from gitDir, every rewrite and deletion leased on the value
// ls-remote showed, which plan checked against the lease in the store
// (--force-with-lease), so nothing someone pushed meanwhile is lost. The leases and the refs' states are recorded in the mirror's
// RefStore once the push succeeded. Refused refs do not stop the others:
// res is returned with an *Error (BadRequest, wrapping a *DivergedError)
// naming them.
func (s *Syncer) pushRefs(ctx context.Context, m Mirror, gitDir string, want []wantRef, gitSource bool, isAnc ancestry, proof rewriteProof, res *Result, log *slog.Logger) (*Result, error) {
	g := s.gitRunner(m.Dest)
	remote, err := g.LsRemote(ctx, m.Dest.URL)
	if err != nil {
		return nil, classify("ls-remote", destSide, err)
	}
	have := make(map[string]git.Hash, len(remote))
	for ref, h := range remote {
		if strings.HasPrefix(ref, "refs/") && !strings.HasSuffix(ref, "^{}") {
			have[ref] = h
		}
	}
	store := s.refStore(m.Name)
	leases, err := store.Leases(ctx, m.Name)
	if err != nil {
		return nil, &Error{Op: "leases", Class: Transient, Err: err}
	}
	p, err := plan(planInput{Want: want, Have: have, Leases: leases, Policy: m.Policy, Git: gitSource,
		IsAncestor: isAnc, Proven: proof, Now: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if len(p.Updates) > 0 {
		if err := s.pushUpdates(ctx, g, m, gitDir, p.Updates, len(have) == 0); err != nil {
			return nil, err
		}
	}
	if err := store.SaveRefs(ctx, m.Name, p.Leases, p.Refs); err != nil {
		// The push happened: the next sync adopts the values it finds.
		log.ErrorContext(ctx, "recording refs failed", slog.String("error", err.Error()))
	}
	for _, u := range p.Updates {
		switch {
		case u.New.IsZero():
			log.InfoContext(ctx, "ref deleted", slog.String("ref", u.Ref), slog.String("old", u.Old.String()))
		case u.Rewritten:
			log.WarnContext(ctx, "ref rewritten", slog.String("ref", u.Ref), slog.String("old", u.Old.String()), slog.String("new", u.New.String()))
		default:
			log.InfoContext(ctx, "ref updated", slog.String("ref", u.Ref), slog.String("old", hashOrEmpty(u.Old)), slog.String("new", u.New.String()))
		}
		res.RefsUpdated = append(res.RefsUpdated, u.RefUpdate)
	}
	if len(p.Updates) == 0 {
		log.InfoContext(ctx, "destination up to date")
	}
	res.Refs = p.Refs
	res.Warnings = append(res.Warnings, p.Warnings...)
	if len(p.Refused) > 0 {
		log.WarnContext(ctx, "refs refused", slog.Any("refs", p.Refused))
		return res, &Error{Op: "push", Class: BadRequest, Err: &DivergedError{Refs: p.Refused, Statuses: res.Refused()}}
	}
	return res, nil
}

// stagePrefix is where pushUpdates stages many updates in the local
// repository, to push them with one glob refspec per namespace.
const stagePrefix = "refs/synchroniser/push/"

// stageAbove is the number of plain updates from which pushUpdates stages
// them: git matches explicit refspecs against the local refs in quadratic
// time (10,000 bookmarks took minutes).
const stageAbove = 64

// pushUpdates pushes updates in one atomic push. Rewrites and deletions
// go ahead only while the destination holds what was seen (the lease
// plan checked); creations and fast-forwards need no lease (git refuses
// them when the ref moved elsewhere; it checks leases in quadratic time
// too). Many plain updates are staged under stagePrefix and pushed by
// glob. A push to an empty destination sends the cache's objects as its
// packs store them (git.PushOptions.NoDeltaSearch): it sends the whole
// history, whose deltas the converter (or the fetch) chose, and git's
// search between the converter's checkpoint packs costs more time than
// its bytes save on a first push (flask: 2 CPU seconds for 15 MB sent
// instead of 22). An empty local bare destination is not pushed to but
// seeded (seedLocal).
func (s *Syncer) pushUpdates(ctx context.Context, g *git.Runner, m Mirror, gitDir string, updates []planned, empty bool) error {
	if empty {
		err := seedLocal(ctx, g, m, gitDir, updates)
		if err == nil {
			return nil
		}
		if !errors.Is(err, git.ErrNotSeedable) {
			return classify("push", destSide, err)
		}
	}
	var refspecs []string
	lease := map[string]git.Hash{}
	var plain []planned
	for _, u := range updates {
		switch {
		case u.New.IsZero():
			refspecs = append(refspecs, ":"+u.Ref)
			lease[u.Ref] = u.Old
		case u.Rewritten:
			refspecs = append(refspecs, u.New.String()+":"+u.Ref)
			lease[u.Ref] = u.Old
		default:
			plain = append(plain, u)
		}
	}
	if len(plain) > stageAbove {
		// Refs a crashed push left staged would go out with the globs:
		// clear them first. Only a staged push pushes the globs, so the
		// other pushes leave leftovers alone (and spare a for-each-ref).
		local := s.gitRunner(Destination{})
		if err := s.unstage(ctx, local, gitDir); err != nil {
			return err
		}
		var changes []git.RefChange
		globs := map[string]bool{}
		for _, u := range plain {
			ns, rest, ok := strings.Cut(strings.TrimPrefix(u.Ref, "refs/"), "/")
			if !ok || (ns != "heads" && ns != "tags") {
				refspecs = append(refspecs, u.New.String()+":"+u.Ref)
				continue
			}
			changes = append(changes, git.RefChange{Name: stagePrefix + ns + "/" + rest, New: u.New})
			globs[ns] = true
		}
		if err := local.UpdateRefsChecked(ctx, gitDir, changes); err != nil {
			return &Error{Op: "push", Class: Internal, Err: fmt.Errorf("staging %d refs: %w", len(changes), err)}
		}
		defer s.unstage(context.WithoutCancel(ctx), local, gitDir) //nolint:errcheck // next push clears it too
		for _, ns := range sortedKeys(globs) {
			refspecs = append(refspecs, stagePrefix+ns+"/*:refs/"+ns+"/*")
		}
	} else {
		for _, u := range plain {
			refspecs = append(refspecs, u.New.String()+":"+u.Ref)
		}
	}
	if err := g.Push(ctx, gitDir, m.Dest.URL, refspecs, git.PushOptions{Atomic: true, Lease: lease, NoDeltaSearch: empty}); err != nil {
		return classify("push", destSide, err)
	}
	return nil
}

// seedLocal makes the first push to an empty local bare destination
// (git.Runner.SeedLocal): git's pack-objects writes the pack and its index
// there, where a push would have receive-pack index everything it is sent
// again (flask: 0.3 s instead of 0.8). git.ErrNotSeedable, having done
// nothing, for any other destination, or updates that are not all
// creations.
func seedLocal(ctx context.Context, g *git.Runner, m Mirror, gitDir string, updates []planned) error {
	refs := make(map[string]git.Hash, len(updates))
	for _, u := range updates {
		if u.New.IsZero() || !u.Old.IsZero() || u.Rewritten {
			return git.ErrNotSeedable
		}
		refs[u.Ref] = u.New
	}
	return g.SeedLocal(ctx, gitDir, m.Dest.URL, refs)
}

// unstage deletes the refs pushUpdates staged in gitDir.
func (s *Syncer) unstage(ctx context.Context, local *git.Runner, gitDir string) error {
	refs, err := local.Refs(ctx, gitDir)
	if err != nil {
		return &Error{Op: "push", Class: Internal, Err: err}
	}
	var changes []git.RefChange
	for ref := range refs {
		if strings.HasPrefix(ref, stagePrefix) {
			changes = append(changes, git.RefChange{Name: ref})
		}
	}
	if err := local.UpdateRefsChecked(ctx, gitDir, changes); err != nil {
		return &Error{Op: "push", Class: Internal, Err: fmt.Errorf("clearing staged refs: %w", err)}
	}
	return nil
}

func hashOrEmpty(h git.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}

// gitRunner returns the git Runner for talking to d (no credentials for
// the zero Destination), allowing what the Syncer allows.
func (s *Syncer) gitRunner(d Destination) *git.Runner {
	base := s.Git
	if base == nil {
		base = &git.Runner{}
	}
	c := git.Credentials{Token: d.Token, SSHKey: d.SSHKey, KnownHosts: d.KnownHosts}
	if d.Forge == forge.KindGitLab {
		c.Username = "oauth2"
	}
	r := base.WithCredentials(c)
	r.AllowFile = r.AllowFile || s.AllowFile
	r.AllowHTTP = r.AllowHTTP || s.AllowHTTP
	if r.Logger == nil {
		r.Logger = s.Logger
	}
	return r
}
