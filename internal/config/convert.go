package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/synchroniser/synchroniser/internal/convert"
)

// ConvertConfig holds hg-git's options for a conversion: the [convert]
// table (defaults) and the same keys in a [[mirror]] table (its own).
type ConvertConfig struct {
	AuthorsFile          string `toml:"authors_file"`           // hg-git's git.authors; relative to the configuration file
	BranchBookmarkSuffix string `toml:"branch_bookmark_suffix"` // hg-git's git.branch_bookmark_suffix
	HgGit                string `toml:"hggit"`                  // "1.0" (default) or "1.1"
	AllowAuthorsChange   bool   `toml:"allow_authors_change"`   // go on with another authors file (forks history)
	// Memory bounds the native converter's caches (delta window,
	// read-ahead, blob ids) per conversion; 0 = its default (256 MiB).
	// Less trades speed for memory; at least 8 MiB. Only in [convert].
	Memory Size `toml:"memory"`
}

// ConvertSettings returns the conversion settings of mirror name: its own
// keys over [convert]'s, with the authors file read and parsed.
func (c *Config) ConvertSettings(name string) (convert.Settings, error) {
	eff := c.ConvertConfigOf(name)
	s := convert.Settings{BranchBookmarkSuffix: eff.BranchBookmarkSuffix, HgGit: eff.HgGit, AllowAuthorsChange: eff.AllowAuthorsChange}
	if eff.AuthorsFile != "" {
		a, err := convert.LoadAuthors(eff.AuthorsFile) // resolved by ConvertConfigOf
		if err != nil {
			return s, err
		}
		s.Authors = a
	}
	return s, nil
}

// ConvertConfigOf returns the keys in force for mirror name (a mirror's
// own key, when set, wins over [convert]'s).
func (c *Config) ConvertConfigOf(name string) ConvertConfig {
	eff := c.Convert
	if mc, ok := c.MirrorConfig(name); ok {
		own := mc.ConvertConfig
		if own.AuthorsFile != "" {
			eff.AuthorsFile = own.AuthorsFile
		}
		if own.BranchBookmarkSuffix != "" {
			eff.BranchBookmarkSuffix = own.BranchBookmarkSuffix
		}
		if own.HgGit != "" {
			eff.HgGit = own.HgGit
		}
		eff.AllowAuthorsChange = eff.AllowAuthorsChange || own.AllowAuthorsChange
	}
	if eff.HgGit == "" {
		eff.HgGit = convert.HgGit10
	}
	if eff.AuthorsFile != "" {
		eff.AuthorsFile = c.configPath(eff.AuthorsFile)
	}
	return eff
}

// configPath resolves p against the configuration file's directory.
func (c *Config) configPath(p string) string {
	if filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// validateConvert checks [convert] and every mirror's conversion keys; an
// authors file must exist and parse.
func (c *Config) validateConvert(bad func(string, ...any)) {
	check := func(where string, cc ConvertConfig) {
		switch cc.HgGit {
		case "", convert.HgGit10, convert.HgGit11:
		default:
			bad("%s: hggit %q: want \"1.0\" or \"1.1\"", where, cc.HgGit)
		}
		if strings.ContainsAny(cc.BranchBookmarkSuffix, "\n\r\x00") {
			bad("%s: branch_bookmark_suffix: no newlines or NUL", where)
		}
		if cc.AuthorsFile != "" {
			if _, err := convert.LoadAuthors(c.configPath(cc.AuthorsFile)); err != nil {
				bad("%s: authors_file: %s", where, strings.TrimPrefix(err.Error(), "convert: "))
			}
		}
	}
	check("convert", c.Convert)
	for i := range c.Mirror {
		check(fmt.Sprintf("mirror[%d] (%s)", i, c.Mirror[i].Name), c.Mirror[i].ConvertConfig)
	}
}
