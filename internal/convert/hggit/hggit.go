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
	if err := r.GitExport(ctx, abs); err != nil {
		return nil, fmt.Errorf("hggit: gexport: %w", err)
	}
	after, err := convert.ReadMap(convert.MapPath(abs))
	if err != nil {
		return nil, err
	}
	res, err := convert.DescribeVisible(abs, after, opts.Exclude)
	if err != nil {
		return nil, err
	}
	res.Converted = len(after) - len(before)
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
