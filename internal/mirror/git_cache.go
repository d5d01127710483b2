package mirror

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/synchroniser/synchroniser/internal/git"
)

func (s *Syncer) syncGit(ctx context.Context, m Mirror, log *slog.Logger) (*Result, error) {
	gitDir := s.GitCache(m.Name)
	g := s.gitRunner(Destination{})
	clock := newStepClock()
	if _, err := os.Stat(filepath.Join(gitDir, "HEAD")); err != nil {
		os.RemoveAll(gitDir)
		if err := git.Init(ctx, gitDir, true); err != nil {
			return nil, &Error{Op: "init", Class: Internal, Err: err}
		}
	}
	before, err := localRefs(ctx, g, gitDir)
	if err != nil {
		return nil, err
	}
	refspecs := []string{"+refs/heads/*:refs/heads/*"}
	if m.Policy.Tags {
		refspecs = append(refspecs, "+refs/tags/*:refs/tags/*")
	}
	if err := g.FetchWithOptions(ctx, gitDir, m.Source, refspecs, git.FetchOptions{Prune: true, NoTags: !m.Policy.Tags}); err != nil {
		return nil, classify("fetch", sourceSide, err)
	}
	after, err := localRefs(ctx, g, gitDir)
	if err != nil {
		return nil, err
	}
	n, err := newCommits(ctx, g, gitDir, before, after)
	if err != nil {
		return nil, err
	}
	log.DebugContext(ctx, "git cache fetched", slog.String("cache", gitDir), slog.Int("commits", n))
	src := make(map[string]git.Hash, len(after))
	for ref, v := range after {
		if h, err := git.ParseHash(v); err == nil {
			src[ref] = h
		}
	}
	clock.done(StepPull)
	res := &Result{Changesets: n}
	res, err = s.pushRefs(ctx, m, gitDir, m.Policy.gitRefStates(src), true, localAncestry(ctx, g, gitDir, nil), nil, res, log)
	clock.done(StepPush)
	clock.record(res)
	return res, err
}

// localRefs lists the refs of gitDir (full name → sha).
func localRefs(ctx context.Context, g *git.Runner, gitDir string) (map[string]string, error) {
	refs, err := g.Refs(ctx, gitDir)
	if err != nil {
		return nil, &Error{Op: "for-each-ref", Class: Internal, Err: err}
	}
	out := make(map[string]string, len(refs))
	for ref, h := range refs {
		out[ref] = h.String()
	}
	return out, nil
}

// newCommits counts the commits reachable from after's values and not from
// before's.
func newCommits(ctx context.Context, g *git.Runner, gitDir string, before, after map[string]string) (int, error) {
	hashes := func(refs map[string]string) ([]git.Hash, error) {
		out := make([]git.Hash, 0, len(refs))
		for _, v := range refs {
			h, err := git.ParseHash(v)
			if err != nil {
				return nil, &Error{Op: "rev-list", Class: Internal, Err: err}
			}
			out = append(out, h)
		}
		return out, nil
	}
	include, err := hashes(after)
	if err != nil {
		return 0, err
	}
	exclude, err := hashes(before)
	if err != nil {
		return 0, err
	}
	n, err := g.CountCommits(ctx, gitDir, include, exclude)
	if err != nil {
		return 0, &Error{Op: "rev-list", Class: Internal, Err: err}
	}
	return n, nil
}
