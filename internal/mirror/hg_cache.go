package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// hgCache leaves at root a clone of m.Source holding the source's state
// exactly, and returns that state (see hgState). The state is nil only
// when the native reader cannot read the cache's format (the hg-git
// backend may still convert it).
func (s *Syncer) hgCache(ctx context.Context, m Mirror, dir, root string, log *slog.Logger) (*hg.SourceState, error) {
	h := s.hg().WithCredentials(sourceCredentials(m.SourceAuth)).WithEvolution()
	cloned, err := s.hgPullOrClone(ctx, h, m, dir, root, log)
	if err != nil {
		return nil, err
	}
	return s.hgState(ctx, h, m, root, !cloned, log)
}

// hgPullOrClone leaves an up-to-date clone of m.Source at root: pulled
// when a usable clone is there, cloned otherwise. A clone is made under a
// temporary name and renamed when complete, so an interrupted clone is
// never mistaken for a cache. Obsolescence markers come with the
// changesets (h exchanges them), and the cache's bookmarks are cleared
// before a pull so that each is set to the source's value (never a
// NAME@path divergent bookmark, never a stale one). cloned says whether
// the cache was cloned afresh.
func (s *Syncer) hgPullOrClone(ctx context.Context, h *hg.Runner, m Mirror, dir, root string, log *slog.Logger) (cloned bool, err error) {
	usable, why := s.hgUsable(ctx, root)
	if usable && sourceChanged(dir, m.Source) {
		usable, why = false, "the mirror's source changed"
	}
	if usable {
		err := s.hgPullExact(ctx, h, root, m.Source)
		if err == nil {
			log.DebugContext(ctx, MsgCachePulled, slog.String("cache", root))
			return false, nil
		}
		if !cacheCorrupt(err) {
			return false, classify("pull", sourceSide, err)
		}
		log.WarnContext(ctx, "hg cache damaged: cloning again", slog.String("cache", root), slog.String("error", err.Error()))
	} else if why != "" {
		log.WarnContext(ctx, "hg cache unusable: cloning again", slog.String("cache", root), slog.String("reason", why))
	}
	tmp := filepath.Join(dir, "hg.partial")
	if err := os.RemoveAll(tmp); err != nil {
		return false, &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := h.Clone(ctx, m.Source, tmp); err != nil {
		os.RemoveAll(tmp)
		return false, classify("clone", sourceSide, err)
	}
	if err := installClone(dir, tmp, root, m.Source); err != nil {
		return false, err
	}
	log.InfoContext(ctx, "hg cache cloned", slog.String("cache", root))
	return true, nil
}

// hgPullExact pulls source into root after clearing root's bookmarks, so
// that the pull sets the source's bookmarks as they are.
func (s *Syncer) hgPullExact(ctx context.Context, h *hg.Runner, root, source string) error {
	if err := hg.ClearBookmarks(root); err != nil {
		return err
	}
	return h.Pull(ctx, root, source)
}

// hgState makes the cache at root agree with the source where a pull
// alone does not, then reads the source's state from it:
//   - changesets the source no longer serves (stripped there, or made
//     secret) are stripped from the cache and listed in Stripped; the
//     bookmarks hg strip moves are then pulled again (asked only when
//     pulled: a fresh clone holds nothing the source lacks);
//   - changesets the source has as drafts but the cache as public (the
//     source moved them back) are made drafts again;
//   - heads, bookmarks, phases, markers and hidden changesets are read
//     natively (hg.ReadState), Publishing from the source.
func (s *Syncer) hgState(ctx context.Context, h *hg.Runner, m Mirror, root string, pulled bool, log *slog.Logger) (*hg.SourceState, error) {
	var gone []hg.Node
	if pulled {
		var err error
		if gone, err = h.Outgoing(ctx, root, m.Source); err != nil {
			return nil, classify("outgoing", sourceSide, err)
		}
	}
	if len(gone) > 0 {
		log.WarnContext(ctx, "changesets gone from the source: stripping them from the cache",
			slog.Int("count", len(gone)), slog.String("first", gone[0].String()))
		if err := h.Strip(ctx, root, gone); err != nil {
			return nil, &Error{Op: "strip", Class: Internal, Err: err}
		}
		if err := s.hgPullExact(ctx, h, root, m.Source); err != nil {
			return nil, classify("pull", sourceSide, err)
		}
	}
	rp, err := h.ListPhases(ctx, m.Source)
	if err != nil {
		return nil, classify("phases", sourceSide, err)
	}
	repo, err := hg.Open(root)
	var unsup *hg.UnsupportedError
	if errors.As(err, &unsup) {
		log.WarnContext(ctx, "hg cache format not readable natively: source state unknown", slog.String("error", err.Error()))
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Op: "state", Class: Internal, Err: err}
	}
	defer repo.Close()
	if !rp.Publishing {
		ahead, err := publicDraftRoots(repo, rp.DraftRoots)
		if err != nil {
			return nil, &Error{Op: "state", Class: Internal, Err: err}
		}
		if len(ahead) > 0 {
			log.InfoContext(ctx, "changesets public in the cache are drafts at the source: moving them back",
				slog.Int("count", len(ahead)), slog.String("first", ahead[0].String()))
			if err := h.ForceDraft(ctx, root, ahead); err != nil {
				return nil, &Error{Op: "phase", Class: Internal, Err: err}
			}
			repo.Close()
			if repo, err = hg.Open(root); err != nil {
				return nil, &Error{Op: "state", Class: Internal, Err: err}
			}
		}
	}
	return stateOf(ctx, repo, rp.Publishing, gone, log)
}

// stateOf reads the source's state from a cache that holds it (whichever
// transport filled it): publishing and stripped are what the source said.
func stateOf(ctx context.Context, repo *hg.Repo, publishing bool, stripped []hg.Node, log *slog.Logger) (*hg.SourceState, error) {
	st, err := repo.State()
	if err != nil {
		return nil, &Error{Op: "state", Class: Internal, Err: err}
	}
	st.Publishing = publishing
	st.Stripped = stripped
	log.DebugContext(ctx, "hg source state", slog.Int("heads", len(st.Heads)), slog.Int("bookmarks", len(st.Bookmarks)),
		slog.Int("drafts", len(st.Phases)), slog.Int("markers", len(st.Markers)), slog.Int("hidden", len(st.Hidden)),
		slog.Int("stripped", len(st.Stripped)), slog.Bool("publishing", st.Publishing))
	return st, nil
}

// publicDraftRoots returns the roots (of the source's drafts) that repo has
// visible and public.
func publicDraftRoots(repo *hg.Repo, roots []hg.Node) ([]hg.Node, error) {
	if len(roots) == 0 {
		return nil, nil
	}
	phases, err := repo.PhaseRevs()
	if err != nil {
		return nil, err
	}
	var out []hg.Node
	for _, n := range roots {
		if rev, ok := repo.Rev(n); ok && phases[rev] == hg.Public {
			out = append(out, n)
		}
	}
	return out, nil
}

// sourceFile, in a mirror's cache directory, identifies the source the hg
// cache was cloned from: a mirror pointed elsewhere starts afresh.
const sourceFile = "hg.source"

// sourceID identifies a source URL without its credentials (a rotated
// token is the same source).
func sourceID(source string) string {
	sum := sha256.Sum256([]byte(Redact(source)))
	return hex.EncodeToString(sum[:])
}

// hgUsable reports whether root holds a Mercurial repository that can be
// pulled into; when not, why says what is wrong ("" when there is nothing).
// An interrupted transaction is rolled back with `hg recover` first.
func (s *Syncer) hgUsable(ctx context.Context, root string) (ok bool, why string) {
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		return false, ""
	}
	if _, err := os.Stat(filepath.Join(root, ".hg", "store", "journal")); err == nil {
		if err := s.hg().Recover(ctx, root); err != nil {
			return false, "interrupted transaction, recover failed: " + err.Error()
		}
	}
	r, err := hg.Open(root)
	if declaredRequirement(err) {
		return true, "" // hg can pull into it; the converter reports the format
	}
	if err != nil {
		return false, err.Error()
	}
	r.Close()
	return true, ""
}

// declaredRequirement reports whether err is the reader refusing a
// requirement the repository declares in a requires file (a real format
// it does not support), rather than a damaged store it could not make sense of.
func declaredRequirement(err error) bool {
	var unsup *hg.UnsupportedError
	if !errors.As(err, &unsup) || filepath.Base(unsup.Path) != "requires" {
		return false
	}
	b, rerr := os.ReadFile(unsup.Path)
	if rerr != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == unsup.Requirement {
			return true
		}
	}
	return false
}
