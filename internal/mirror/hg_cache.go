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

// hgCache leaves an up-to-date clone of m.Source at root: pulled when a
// usable clone is there, cloned otherwise. A clone is made under a
// temporary name and renamed when complete, so an interrupted clone is
// never mistaken for a cache.
func (s *Syncer) hgCache(ctx context.Context, m Mirror, dir, root string, log *slog.Logger) error {
	h := s.hg()
	usable, why := s.hgUsable(ctx, root)
	if usable {
		if b, err := os.ReadFile(filepath.Join(dir, sourceFile)); err == nil && strings.TrimSpace(string(b)) != sourceID(m.Source) {
			usable, why = false, "the mirror's source changed"
		}
	}
	if usable {
		err := h.Pull(ctx, root, m.Source)
		if err == nil {
			log.DebugContext(ctx, "hg cache pulled", slog.String("cache", root))
			return nil
		}
		if !cacheCorrupt(err) {
			return classify("pull", sourceSide, err)
		}
		log.WarnContext(ctx, "hg cache damaged: cloning again", slog.String("cache", root), slog.String("error", err.Error()))
	} else if why != "" {
		log.WarnContext(ctx, "hg cache unusable: cloning again", slog.String("cache", root), slog.String("reason", why))
	}
	tmp := filepath.Join(dir, "hg.partial")
	if err := os.RemoveAll(tmp); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := h.Clone(ctx, m.Source, tmp); err != nil {
		os.RemoveAll(tmp)
		return classify("clone", sourceSide, err)
	}
	if err := os.RemoveAll(root); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := os.Rename(tmp, root); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := os.WriteFile(filepath.Join(dir, sourceFile), []byte(sourceID(m.Source)+"\n"), 0o644); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	log.InfoContext(ctx, "hg cache cloned", slog.String("cache", root))
	return nil
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
		if _, err := s.hg().Run(ctx, root, "recover", "--repository", root); err != nil {
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
