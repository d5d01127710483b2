package hg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// EvolutionConfig makes hg exchange obsolescence markers with the remote
// (pulled with the changesets they concern), so that changesets obsolete
// at the source are hidden in a clone. hg refuses "exchange" without
// "createmarkers"; nothing in a cache creates markers itself.
const EvolutionConfig = "experimental.evolution=createmarkers,exchange"

// WithEvolution returns a copy of r that exchanges obsolescence markers
// (EvolutionConfig) in every command it runs.
func (r *Runner) WithEvolution() *Runner {
	c := *r
	c.Config = append(append([]string(nil), r.Config...), EvolutionConfig)
	return &c
}

// runState runs one hg command for the state methods below (the one place
// they reach the runner's exec); source, if not "", is the repository the
// command talks to, refused when hg could read it as an option, and the
// one the Credentials apply to.
func (r *Runner) runState(ctx context.Context, dir, source string, args ...string) ([]byte, error) {
	if source != "" {
		if err := checkPositional(args[0], source); err != nil {
			return nil, err
		}
	}
	return r.runWith(ctx, dir, source, args)
}

// RemotePhases is what a source says of its phases (the "phases" pushkey
// namespace): whether it publishes, and the roots of its draft changesets.
type RemotePhases struct {
	Publishing bool
	DraftRoots []Node
}

// ListPhases asks source for its phases (hg debugpushkey SOURCE phases).
func (r *Runner) ListPhases(ctx context.Context, source string) (*RemotePhases, error) {
	out, err := r.runState(ctx, "", source, "debugpushkey", "--", source, "phases")
	if err != nil {
		return nil, err
	}
	return ParsePhaseKeys(out)
}

// ParsePhaseKeys parses the "phases" pushkey namespace as debugpushkey
// prints it: "<hex node>\t1" per draft root, "publishing\tTrue" when the
// repository publishes. An empty namespace is a server without phases,
// which hg treats as publishing (exchange.py).
func ParsePhaseKeys(out []byte) (*RemotePhases, error) {
	rp := &RemotePhases{}
	if len(bytes.TrimSpace(out)) == 0 {
		rp.Publishing = true
		return rp, nil
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("\t"))
		if !ok {
			return nil, fmt.Errorf("hg: phases: unexpected line %q", limitio.Clip(string(line), 100))
		}
		if string(k) == "publishing" {
			rp.Publishing = string(v) == "True"
			continue
		}
		n, err := ParseNode(string(k))
		if err != nil {
			return nil, fmt.Errorf("hg: phases: %w", err)
		}
		if string(v) == "1" {
			rp.DraftRoots = append(rp.DraftRoots, n)
		}
	}
	return rp, nil
}

// Outgoing lists the visible changesets of repo that source does not
// serve (hg outgoing): stripped there, made secret, or never pushed.
func (r *Runner) Outgoing(ctx context.Context, repo, source string) ([]Node, error) {
	abs, err := filepath.Abs(repo)
	if err != nil {
		return nil, fmt.Errorf("hg: outgoing: %w", err)
	}
	out, err := r.runState(ctx, abs, source, "outgoing", "--repository", abs, "--quiet", "--template", "{node}\n", "--", source)
	var he *Error
	if errors.As(err, &he) && he.ExitCode == 1 {
		return nil, nil // "no changes found"
	}
	if err != nil {
		return nil, err
	}
	return parseNodeLines(out, "outgoing")
}

// Strip removes nodes and their descendants from repo, without a backup
// bundle. Bookmarks on them move to their parents, as hg strip does.
func (r *Runner) Strip(ctx context.Context, repo string, nodes []Node) error {
	return r.runRevs(ctx, "strip", repo, nodes, func(abs string) []string {
		return []string{"--config", "extensions.strip=", "strip", "--repository", abs, "--no-backup"}
	})
}

// ForceDraft moves nodes (and their descendants) back to the draft phase
// in repo (hg phase --force --draft), where the source says they are drafts.
func (r *Runner) ForceDraft(ctx context.Context, repo string, nodes []Node) error {
	return r.runRevs(ctx, "phase", repo, nodes, func(abs string) []string {
		return []string{"phase", "--repository", abs, "--force", "--draft"}
	})
}

// runRevs runs hg in repo with the arguments args gives for its absolute
// path, followed by a --rev for each of nodes; no nodes is nothing to do.
// op names the command in errors.
func (r *Runner) runRevs(ctx context.Context, op, repo string, nodes []Node, args func(abs string) []string) error {
	if len(nodes) == 0 {
		return nil
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return fmt.Errorf("hg: %s: %w", op, err)
	}
	a := args(abs)
	for _, n := range nodes {
		a = append(a, "--rev", n.String())
	}
	_, err = r.runState(ctx, abs, "", a...)
	return err
}

// ClearBookmarks removes every bookmark of repo, so that the next pull
// sets each bookmark to the source's value without comparing it to a
// stale one (no NAME@path divergent bookmarks). The caller holds the
// repository exclusively (the mirror's lock).
func ClearBookmarks(repo string) error {
	var errs []error
	for _, p := range []string{
		filepath.Join(repo, ".hg", "bookmarks"),
		filepath.Join(repo, ".hg", "bookmarks.current"),
		filepath.Join(repo, ".hg", "store", "bookmarks"), // bookmarksinstore
	} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hg: clear bookmarks: %w", err)
	}
	return nil
}

func parseNodeLines(out []byte, what string) ([]Node, error) {
	var nodes []Node
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n, err := ParseNode(line)
		if err != nil {
			return nil, fmt.Errorf("hg: %s: %w", what, err)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}
