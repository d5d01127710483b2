package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// AdoptRequest says what to adopt into a mirror's cache: an hg-git working
// repository (From: its .hg/git-mapfile and .hg/git objects), or only a map
// file (Map), whose commits are then fetched from the destination.
type AdoptRequest struct {
	From     string           // local hg-git repository (its root)
	Map      string           // a git-mapfile; the destination must hold its commits
	Settings convert.Settings // the mirror's conversion settings, recorded
	Now      func() time.Time // nil = time.Now
}

// AdoptResult describes an adoption.
type AdoptResult struct {
	Mirror       string            `json:"mirror"`
	From         string            `json:"from"`   // the repository or map adopted
	Mapped       int               `json:"mapped"` // map lines taken over
	DestRefs     int               `json:"dest_refs"`
	RefsNotInMap []string          `json:"refs_not_in_map"` // destination refs whose commit the map does not name
	Record       convert.Record    `json:"record"`
	Cache        string            `json:"cache"`
	Refs         map[string]string `json:"-"`
}

// ErrAdoptRefused is wrapped by every refusal of Adopt; nothing was changed.
var ErrAdoptRefused = errors.New("adoption refused")

// Adopt makes an existing hg-git conversion the starting point of mirror
// m: its map and Git objects go into the mirror's cache, so the next syncs
// convert only changesets that are not in the map, on top of the adopted
// commits (whatever rules made them). It checks, before changing anything,
// that the map parses, that every changeset it names is in the repository,
// that every commit it names is in the objects, and which of the
// destination's branches and tags are not among its commits (reported,
// not refused: a later sync refuses to diverge from them). A cache that
// already holds converted commits is never replaced.
func (s *Syncer) Adopt(ctx context.Context, m Mirror, req AdoptRequest) (*AdoptResult, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.SCM != scm.Hg {
		return nil, refuse("mirror %s is a Git mirror: only Mercurial mirrors have an hg-git map", m.Name)
	}
	if (req.From == "") == (req.Map == "") {
		return nil, refuse("give either an hg-git repository (--from) or a map file (--map)")
	}
	if err := s.checkMirror("adopt", &m); err != nil {
		return nil, err
	}
	log := s.logger(nil, m.Name)
	dir := filepath.Join(s.CacheDir, m.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	unlock, err := Lock(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	root := s.HgRoot(m.Name)
	if old, err := convert.ReadMap(convert.MapPath(root)); err == nil && len(old) > 0 {
		return nil, refuse("mirror %s already has %d converted commits in %s: remove its cache first to adopt another conversion", m.Name, len(old), root)
	}
	staging := filepath.Join(dir, "hg.adopt")
	if err := os.RemoveAll(staging); err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	defer os.RemoveAll(staging) // gone once renamed into place

	res := &AdoptResult{Mirror: m.Name, Cache: root}
	var mapPath string
	if req.From != "" {
		from, err := filepath.Abs(req.From)
		if err != nil {
			return nil, &Error{Op: "adopt", Class: BadRequest, Err: err}
		}
		res.From = from
		mapPath = convert.MapPath(from)
		if err := checkHgGitRepo(from); err != nil {
			return nil, err
		}
		if _, err := readAdoptedMap(mapPath); err != nil {
			return nil, err
		}
		if err := s.hg().Clone(ctx, from, staging); err != nil {
			return nil, &Error{Op: "adopt", Class: BadRequest, Err: fmt.Errorf("clone %s: %w", from, err)}
		}
		if err := copyTree(convert.GitDir(from), convert.GitDir(staging)); err != nil {
			return nil, &Error{Op: "adopt", Class: Internal, Err: fmt.Errorf("copy %s: %w", convert.GitDir(from), err)}
		}
	} else {
		p, err := filepath.Abs(req.Map)
		if err != nil {
			return nil, &Error{Op: "adopt", Class: BadRequest, Err: err}
		}
		res.From, mapPath = p, p
		if _, err := readAdoptedMap(mapPath); err != nil {
			return nil, err
		}
		if err := s.hg().Clone(ctx, m.Source, staging); err != nil {
			return nil, classify("clone", sourceSide, err)
		}
		gitDir := convert.GitDir(staging)
		if err := git.Init(ctx, gitDir, true); err != nil {
			return nil, &Error{Op: "adopt", Class: Internal, Err: err}
		}
		g := s.gitRunner(m.Dest)
		if err := g.Fetch(ctx, gitDir, m.Dest.URL, []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}); err != nil {
			return nil, classify("fetch", destSide, err)
		}
	}
	if err := copyFile(mapPath, convert.MapPath(staging)); err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	byHg, err := readAdoptedMap(convert.MapPath(staging))
	if err != nil {
		return nil, err
	}
	res.Mapped = len(byHg)
	if err := checkMapNodes(staging, byHg, res.From); err != nil {
		return nil, err
	}
	commits, err := checkMapCommits(convert.GitDir(staging), byHg)
	if err != nil {
		return nil, err
	}
	remote, err := s.gitRunner(m.Dest).LsRemote(ctx, m.Dest.URL)
	if err != nil {
		return nil, classify("ls-remote", destSide, err)
	}
	res.Refs = map[string]string{}
	for ref, h := range peeledRefs(remote) {
		res.DestRefs++
		res.Refs[ref] = h.String()
		if !commits[h] {
			res.RefsNotInMap = append(res.RefsNotInMap, ref)
		}
	}
	sort.Strings(res.RefsNotInMap)

	now := time.Now
	if req.Now != nil {
		now = req.Now
	}
	rec := convert.Record{
		HgGit:                req.Settings.Level(),
		BranchBookmarkSuffix: req.Settings.BranchBookmarkSuffix,
		AdoptedFrom:          res.From,
		AdoptedAt:            now().UTC().Truncate(time.Second),
		AdoptedCommits:       res.Mapped,
	}
	if req.Settings.Authors != nil {
		rec.AuthorsHash = req.Settings.Authors.Hash
	}
	if err := convert.WriteRecord(staging, rec); err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	res.Record = rec

	// Into place: the old cache (without converted commits) goes.
	if err := os.RemoveAll(root); err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	if err := os.Rename(staging, root); err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	if err := os.WriteFile(filepath.Join(dir, sourceFile), []byte(sourceID(m.Source)+"\n"), 0o644); err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	log.InfoContext(ctx, "hg-git conversion adopted", slog.String("from", res.From), slog.Int("mapped", res.Mapped),
		slog.Int("dest_refs", res.DestRefs), slog.Any("refs_not_in_map", res.RefsNotInMap))
	return res, nil
}

func refuse(format string, args ...any) error {
	return &Error{Op: "adopt", Class: BadRequest, Err: fmt.Errorf("%w: "+format, append([]any{ErrAdoptRefused}, args...)...)}
}

// checkHgGitRepo says why from is not an hg-git working repository.
func checkHgGitRepo(from string) error {
	if fi, err := os.Stat(filepath.Join(from, ".hg")); err != nil || !fi.IsDir() {
		return refuse("%s is not a Mercurial repository (no .hg directory)", from)
	}
	if _, err := os.Stat(convert.MapPath(from)); err != nil {
		return refuse("%s has no hg-git map (%s)", from, convert.MapPath(from))
	}
	gitDir := convert.GitDir(from)
	if _, err := os.Stat(filepath.Join(gitDir, "objects")); err != nil {
		return refuse("%s has no hg-git objects (%s)", from, gitDir)
	}
	return nil
}

// readAdoptedMap reads a map strictly: a corrupt or truncated line, or an
// empty map, is refused.
func readAdoptedMap(path string) (map[hg.Node]git.Hash, error) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return nil, refuse("map %s: not a readable file", path)
	}
	byHg, err := convert.ReadMap(path)
	if err != nil {
		return nil, refuse("map %s is corrupt or truncated: %v", path, strings.TrimPrefix(err.Error(), "convert: "))
	}
	if len(byHg) == 0 {
		return nil, refuse("map %s is empty", path)
	}
	return byHg, nil
}

// checkMapNodes refuses a map naming changesets the repository at root
// lacks: all of them (a map of another repository) or some.
func checkMapNodes(root string, byHg map[hg.Node]git.Hash, from string) error {
	repo, err := hg.Open(root)
	if err != nil {
		return &Error{Op: "adopt", Class: BadRequest, Err: err}
	}
	defer repo.Close()
	var missing []string
	for n := range byHg {
		if _, ok := repo.Rev(n); !ok {
			missing = append(missing, n.String())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	if len(missing) == len(byHg) {
		return refuse("none of the %d changesets of the map is in the repository: the map of %s is for another repository", len(byHg), from)
	}
	return refuse("%d of the %d changesets of the map are not in the repository (first %s)", len(missing), len(byHg), strings.Join(missing[:min(3, len(missing))], ", "))
}

// checkMapCommits refuses a map naming commits the objects lack, and
// returns the set of mapped commits.
func checkMapCommits(gitDir string, byHg map[hg.Node]git.Hash) (map[git.Hash]bool, error) {
	set, err := git.LoadObjectSet(gitDir)
	if err != nil {
		return nil, &Error{Op: "adopt", Class: Internal, Err: err}
	}
	commits := make(map[git.Hash]bool, len(byHg))
	var missing []string
	for _, h := range byHg {
		commits[h] = true
		if !set.Has(h) {
			missing = append(missing, h.String())
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, refuse("%d of the %d commits of the map are missing from the Git objects (first %s)", len(missing), len(byHg), strings.Join(missing[:min(3, len(missing))], ", "))
	}
	return commits, nil
}

// peeledRefs keeps branches and tags, a tag as the commit it peels to.
func peeledRefs(remote map[string]git.Hash) map[string]git.Hash {
	out := map[string]git.Hash{}
	for ref, h := range remote {
		if !strings.HasPrefix(ref, "refs/heads/") && !strings.HasPrefix(ref, "refs/tags/") {
			continue
		}
		if base, ok := strings.CutSuffix(ref, "^{}"); ok {
			out[base] = h
			continue
		}
		if _, peeled := remote[ref+"^{}"]; !peeled {
			out[ref] = h
		}
	}
	return out
}

// copyTree copies the directory src to dst (files and directories;
// symbolic links are refused, a Git directory has none).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, target)
		default:
			return fmt.Errorf("%s: not a regular file", p)
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
