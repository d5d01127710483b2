package convert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/synchroniser/synchroniser/internal/atomicfile"
)

// Settings are the hg-git options a conversion follows that change what it
// writes: the commits (Authors, HgGit) or the refs (BranchBookmarkSuffix).
// The zero value is hg-git 1.0.x with its defaults.
type Settings struct {
	// Authors is hg-git's git.authors translation (nil: none).
	Authors *Authors
	// BranchBookmarkSuffix is hg-git's git.branch_bookmark_suffix: a
	// bookmark NAME<suffix> is exported as the branch NAME.
	BranchBookmarkSuffix string
	// HgGit is the hg-git output level: "1.0" (or "") for hg-git 1.0.x, or
	// "1.1" for hg-git 1.1.x, which adds a .gitmodules blob beside the
	// gitlinks of [git] subrepositories.
	HgGit string
	// AllowAuthorsChange lets a conversion go on with an authors file other
	// than the one recorded beside the map (new commits then differ from
	// what the old file would have given: the history forks).
	AllowAuthorsChange bool
}

// HgGit output levels.
const (
	HgGit10 = "1.0"
	HgGit11 = "1.1"
)

// Level returns the hg-git output level s asks for ("" is "1.0").
func (s Settings) Level() string {
	if s.HgGit == "" {
		return HgGit10
	}
	return s.HgGit
}

// Validate reports a setting no conversion can follow.
func (s Settings) Validate() error {
	switch s.HgGit {
	case "", HgGit10, HgGit11:
	default:
		return fmt.Errorf("convert: hggit %q: want \"1.0\" or \"1.1\"", s.HgGit)
	}
	return nil
}

// Authors is a parsed hg-git authors file.
type Authors struct {
	Path string // the file it was read from
	Hash string // "sha256:" and the hex SHA-256 of its bytes
	m    map[string]string
}

// Len returns the number of translations.
func (a *Authors) Len() int {
	if a == nil {
		return 0
	}
	return len(a.m)
}

// Translate returns the Git author hg-git uses instead of user ("" and
// false when the file has no line for it).
func (a *Authors) Translate(user string) (string, bool) {
	if a == nil {
		return "", false
	}
	to, ok := a.m[user]
	return to, ok
}

// LoadAuthors reads an authors file (see ParseAuthors).
func LoadAuthors(path string) (*Authors, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("convert: authors file: %w", err)
	}
	m, err := ParseAuthors(path, data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return &Authors{Path: path, Hash: "sha256:" + hex.EncodeToString(sum[:]), m: m}, nil
}

// ErrAuthorsSyntax is wrapped by the error of a malformed authors line.
var ErrAuthorsSyntax = errors.New("malformed authors line")

// ParseAuthors parses an authors file as hg-git's init_author_file does:
// each line (split at "\n") is stripped of ASCII whitespace; empty lines and
// lines starting with "#" are skipped; every other line must be
// "FROM = TO", split at its one "=" with the whitespace around it dropped
// (hg-git: re.split(br'\s*=\s*', line, 2) unpacked into two names). A later
// line for the same FROM wins. name is used in errors only.
func ParseAuthors(name string, data []byte) (map[string]string, error) {
	m := map[string]string{}
	n := 0
	for line := range bytes.Lines(data) {
		n++
		line = bytes.Trim(line, asciiSpace) // and the "\n"
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		switch bytes.Count(line, []byte("=")) {
		case 0:
			return nil, fmt.Errorf("convert: %s:%d: %w: no \"=\" (want \"hg user = Git Name <email>\")", name, n, ErrAuthorsSyntax)
		case 1:
		default:
			return nil, fmt.Errorf("convert: %s:%d: %w: more than one \"=\" (hg-git cannot read it)", name, n, ErrAuthorsSyntax)
		}
		from, to, _ := bytes.Cut(line, []byte("="))
		m[string(bytes.TrimRight(from, asciiSpace))] = string(bytes.TrimLeft(to, asciiSpace))
	}
	return m, nil
}

// asciiSpace is what Python's bytes.strip() and \s strip.
const asciiSpace = " \t\n\r\f\v"

// RecordFile, beside hg-git's map in .hg, records the settings the mapped
// commits were made with (hg-git neither reads nor writes it).
const RecordFile = "git-mapfile.synchroniser"

// RecordPath returns where the record of hgRoot is kept.
func RecordPath(hgRoot string) string { return filepath.Join(hgRoot, ".hg", RecordFile) }

// Record is what made the commits of a map: the settings in force, and the
// hg-git repository the map was adopted from, if any.
type Record struct {
	HgGit                string    `json:"hggit"`                            // "1.0" or "1.1"
	AuthorsHash          string    `json:"authors_hash,omitempty"`           // "sha256:…" of the authors file; "" = none
	BranchBookmarkSuffix string    `json:"branch_bookmark_suffix,omitempty"` // git.branch_bookmark_suffix
	AdoptedFrom          string    `json:"adopted_from,omitempty"`           // hg-git repository (or map file) adopted
	AdoptedAt            time.Time `json:"adopted_at,omitzero"`
	AdoptedCommits       int       `json:"adopted_commits,omitempty"` // map lines taken over
}

// ReadRecord reads the record of hgRoot; ok is false when there is none.
func ReadRecord(hgRoot string) (rec Record, ok bool, err error) {
	b, err := os.ReadFile(RecordPath(hgRoot))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("convert: read %s: %w", RecordFile, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, false, fmt.Errorf("convert: %s: %w", RecordPath(hgRoot), err)
	}
	return rec, true, nil
}

// WriteRecord replaces the record of hgRoot atomically.
func WriteRecord(hgRoot string, rec Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if old, err := os.ReadFile(RecordPath(hgRoot)); err == nil && bytes.Equal(old, b) {
		return nil // as it was: not written again at every run
	}
	if err := atomicfile.WriteFile(RecordPath(hgRoot), RecordFile+".tmp*", false, b); err != nil {
		return fmt.Errorf("convert: write %s: %w", RecordFile, err)
	}
	return nil
}

// ErrAuthorsChanged is wrapped by the error of a conversion that would go on
// with an authors file other than the recorded one.
var ErrAuthorsChanged = errors.New("authors file differs from the one the mapped commits were made with")

// CheckRecord checks s against the record of hgRoot before a conversion
// with mapped commits already in the map, and returns the record to write
// once the conversion succeeds. A repository without a record (an hg-git
// repository, or one converted before records) takes s as it is.
func CheckRecord(hgRoot string, s Settings, mapped int) (Record, error) {
	old, ok, err := ReadRecord(hgRoot)
	if err != nil {
		return Record{}, err
	}
	rec := old
	rec.HgGit = s.Level()
	rec.AuthorsHash = ""
	if s.Authors != nil {
		rec.AuthorsHash = s.Authors.Hash
	}
	rec.BranchBookmarkSuffix = s.BranchBookmarkSuffix
	if ok && mapped > 0 && old.AuthorsHash != rec.AuthorsHash && !s.AllowAuthorsChange {
		was, now := old.AuthorsHash, rec.AuthorsHash
		if was == "" {
			was = "none"
		}
		if now == "" {
			now = "none"
		}
		return Record{}, fmt.Errorf("convert: %w (recorded %s, given %s; %d commits mapped): converting on would fork the history; use the recorded file, or allow the change (--reauthor, allow_authors_change)",
			ErrAuthorsChanged, was, now, mapped)
	}
	return rec, nil
}
