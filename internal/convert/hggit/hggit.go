// Package hggit converts with hg-git itself (`hg gexport`), the reference
// implementation the native converter reproduces; it is the opt-in
// backend and the oracle of the conformance tests.
package hggit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// Converter runs hg-git's gexport through Runner.
type Converter struct {
	Runner *hg.Runner
	// Extension is the hggit package directory to load (extensions.hggit=
	// PATH); "" loads the installed hg-git (1.0.x on Debian 12).
	Extension string
}

// Convert runs `hg gexport` (hg-git 1.0.x enabled with
// --config extensions.hggit=) in hgRoot, which converts every changeset not
// in .hg/git-mapfile into .hg/git and sets refs/heads/<bookmark> and
// refs/tags/<tag> there, then reports the result as the native converter
// does. Progress is reported once, at the end.
func (c *Converter) Convert(ctx context.Context, hgRoot string, opts convert.Options) (*convert.Result, error) {
	r := c.Runner
	if r == nil {
		r = &hg.Runner{}
	}
	abs, err := filepath.Abs(hgRoot)
	if err != nil {
		return nil, fmt.Errorf("hggit: %w", err)
	}
	before, err := convert.ReadMap(convert.MapPath(abs))
	if err != nil {
		return nil, err
	}
	rec, err := convert.CheckRecord(abs, opts.Settings, len(before))
	if err != nil {
		return nil, err
	}
	settings, err := c.configSettings(opts.Settings)
	if err != nil {
		return nil, err
	}
	if err := r.GitExport(ctx, abs, settings...); err != nil {
		return nil, fmt.Errorf("hggit: gexport: %w", err)
	}
	after, err := convert.ReadMap(convert.MapPath(abs))
	if err != nil {
		return nil, err
	}
	res, err := convert.DescribeVisibleWith(abs, after, opts.Exclude, opts.Settings)
	if err != nil {
		return nil, err
	}
	res.Converted = len(after) - len(before)
	if err := convert.WriteRecord(abs, rec); err != nil {
		return nil, err
	}
	res.Record = rec
	if opts.Progress != nil {
		opts.Progress(res.Converted, res.Converted)
	}
	// Bookmarks and tags as hg-git wrote them in .hg/git.
	res.Bookmarks, err = readRefs(convert.GitDir(abs), "refs/heads/", res.Bookmarks)
	if err != nil {
		return nil, err
	}
	res.Tags, err = readRefs(convert.GitDir(abs), "refs/tags/", res.Tags)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// configSettings returns the configuration settings that set the options
// of s (and load Extension instead of the installed hg-git). hg-git's
// output level is the loaded hg-git's: it is not an option, so level 1.1
// needs an Extension (hg-git 1.1.x).
func (c *Converter) configSettings(s convert.Settings) ([]string, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Level() != convert.HgGit10 && c.Extension == "" {
		return nil, fmt.Errorf("hggit: hggit %s output needs hg-git %s (set the extension path); the installed hg-git writes 1.0", s.Level(), s.Level())
	}
	var out []string
	if c.Extension != "" {
		out = append(out, "extensions.hggit="+c.Extension)
	}
	if s.Authors != nil {
		abs, err := filepath.Abs(s.Authors.Path)
		if err != nil {
			return nil, fmt.Errorf("hggit: %w", err)
		}
		out = append(out, "git.authors="+abs)
	}
	if s.BranchBookmarkSuffix != "" {
		out = append(out, "git.branch_bookmark_suffix="+s.BranchBookmarkSuffix)
	}
	return out, nil
}

// readRefs keeps the entries of want (computed from the repository) that
// hg-git did write as loose refs under prefix, with the value it wrote.
func readRefs(gitDir, prefix string, want map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for name := range want {
		b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(prefix+name)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("hggit: read ref %s%s: %w", prefix, name, err)
		}
		if len(b) >= 40 {
			out[name] = string(b[:40])
		}
	}
	return out, nil
}
