package mirror

import (
	"context"
	"errors"
	"log/slog"

	"github.com/synchroniser/synchroniser/internal/git"
)

// push makes the destination's refs equal to want where they differ,
// refusing divergence unless the policy forces, in one atomic push from
// gitDir. Nothing is pushed when nothing changed.
func (s *Syncer) push(ctx context.Context, m Mirror, gitDir string, want map[string]string, log *slog.Logger) ([]RefUpdate, error) {
	g := s.gitRunner(m.Dest)
	remote, err := g.LsRemote(ctx, m.Dest.URL)
	if err != nil {
		return nil, classify("ls-remote", destSide, err)
	}
	have := make(map[string]string, len(remote))
	for ref, h := range remote {
		have[ref] = h.String()
	}
	updates, err := plan(want, have, m.Policy.Force, func(oldV, newV string) (bool, bool, error) {
		oh, err := git.ParseHash(oldV)
		if err != nil {
			return false, false, nil
		}
		nh, err := git.ParseHash(newV)
		if err != nil {
			return false, false, &Error{Op: "push", Class: Internal, Err: err}
		}
		have, err := git.ObjectExists(gitDir, oh)
		if err != nil {
			return false, false, &Error{Op: "push", Class: Internal, Err: err}
		}
		if !have {
			return false, false, nil
		}
		ok, err := g.IsAncestor(ctx, gitDir, oh, nh)
		if err != nil {
			return false, true, &Error{Op: "merge-base", Class: Internal, Err: err}
		}
		return ok, true, nil
	})
	if err != nil {
		var d *DivergedError
		if errors.As(err, &d) {
			log.WarnContext(ctx, "destination diverged", slog.Any("refs", d.Refs))
			return nil, &Error{Op: "push", Class: BadRequest, Err: err}
		}
		return nil, err
	}
	if len(updates) == 0 {
		log.InfoContext(ctx, "destination up to date")
		return nil, nil
	}
	refspecs := make([]string, len(updates))
	out := make([]RefUpdate, len(updates))
	for i, u := range updates {
		refspecs[i] = u.New + ":" + u.Ref
		if u.force {
			refspecs[i] = "+" + refspecs[i]
		}
		out[i] = u.RefUpdate
	}
	if err := g.Push(ctx, gitDir, m.Dest.URL, refspecs, git.PushOptions{Atomic: true}); err != nil {
		return nil, classify("push", destSide, err)
	}
	for _, u := range out {
		log.InfoContext(ctx, "ref updated", slog.String("ref", u.Ref), slog.String("old", u.Old), slog.String("new", u.New))
	}
	return out, nil
}

// gitRunner returns the git Runner for talking to d (no credentials for
// the zero Destination), allowing what the Syncer allows.
func (s *Syncer) gitRunner(d Destination) *git.Runner {
	base := s.Git
	if base == nil {
		base = &git.Runner{}
	}
	c := git.Credentials{Token: d.Token, SSHKey: d.SSHKey, KnownHosts: d.KnownHosts}
	if d.Forge == "gitlab" {
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
