package hg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/synchroniser/synchroniser/internal/atomicfile"
	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Journal makes a set of store writes atomic with respect to failures: it
// records, in hg's own journal format (.hg/store/journal, "path\0size\n"
// lines), the size of every file before it is appended to, so that
// Rollback — or "hg recover" after a crash — truncates them back. Files
// replaced whole are restored from memory by Rollback.
type Journal struct {
	storeDir string
	f        *os.File
	sizes    map[string]int64 // store-relative path → size before (-1: did not exist)
	order    []string
	replaced map[string][]byte // previous contents (nil: did not exist)
	done     bool
}

// JournalName is the journal file in the store.
const JournalName = "journal"

// OpenJournal starts a journal in storeDir. A journal left by an earlier
// crash is rolled back first.
func OpenJournal(storeDir string) (*Journal, error) {
	if err := RecoverJournal(storeDir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(storeDir, JournalName), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("hg: start journal: %w", err)
	}
	return &Journal{storeDir: storeDir, f: f, sizes: map[string]int64{}, replaced: map[string][]byte{}}, nil
}

// RecoverJournal rolls back a journal an interrupted writer left in
// storeDir (as "hg recover" does); no journal is nothing to do.
func RecoverJournal(storeDir string) error {
	p := filepath.Join(storeDir, JournalName)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hg: read journal: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, size, ok := strings.Cut(sc.Text(), "\x00")
		if !ok {
			continue // a torn last line: nothing was written for it
		}
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || !validStoreName(name) {
			return fmt.Errorf("hg: journal %s: bad entry %q", p, limitio.Clip(sc.Text(), 80))
		}
		fp := filepath.Join(storeDir, filepath.FromSlash(name))
		if n == 0 {
			if err := os.Remove(fp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("hg: recover: %w", err)
			}
			continue
		}
		if err := os.Truncate(fp, n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("hg: recover: %w", err)
		}
	}
	return os.Remove(p)
}

func validStoreName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

func (j *Journal) record(name string) error {
	if _, ok := j.sizes[name]; ok {
		return nil
	}
	if !validStoreName(name) {
		return fmt.Errorf("hg: journal: invalid store path %q", name)
	}
	size := int64(-1)
	st, err := os.Stat(filepath.Join(j.storeDir, filepath.FromSlash(name)))
	switch {
	case err == nil:
		size = st.Size()
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("hg: journal: %w", err)
	}
	j.sizes[name] = size
	j.order = append(j.order, name)
	// Written through (no fsync, as hg's transaction does).
	if _, err := fmt.Fprintf(j.f, "%s\x00%d\n", name, max(size, 0)); err != nil {
		return fmt.Errorf("hg: journal: %w", err)
	}
	return nil
}

// Append appends data to the store file name (store-relative, slashes),
// creating it and its directories if needed.
func (j *Journal) Append(name string, data []byte) error {
	if err := j.record(name); err != nil {
		return err
	}
	p := filepath.Join(j.storeDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("hg: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("hg: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("hg: write %s: %w", name, err)
	}
	return nil
}

// Replace replaces the store file name (relative to the store, or, with a
// "../" prefix, to .hg) by data, atomically (temporary file and rename).
func (j *Journal) Replace(name string, data []byte) error {
	p := filepath.Join(j.storeDir, filepath.FromSlash(name))
	if _, ok := j.replaced[name]; !ok {
		old, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("hg: %w", err)
		}
		if err == nil && old == nil {
			old = []byte{}
		}
		j.replaced[name] = old
		j.order = append(j.order, "\x00"+name)
	}
	return WriteFileAtomic(p, data)
}

// WriteFileAtomic writes data to path through a temporary file renamed
// into place.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("hg: %w", err)
	}
	if err := atomicfile.WriteReadable(path, data, false); err != nil {
		return fmt.Errorf("hg: write %s: %w", path, err)
	}
	return nil
}

// Close ends the journal successfully: the writes stay.
func (j *Journal) Close() error {
	if j.done {
		return nil
	}
	j.done = true
	err := j.f.Close()
	if rerr := os.Remove(filepath.Join(j.storeDir, JournalName)); err == nil {
		err = rerr
	}
	return err
}

// Rollback undoes every write made through the journal, newest first.
func (j *Journal) Rollback() error {
	if j.done {
		return nil
	}
	j.done = true
	var errs []error
	for i := len(j.order) - 1; i >= 0; i-- {
		name := j.order[i]
		if strings.HasPrefix(name, "\x00") {
			name = name[1:]
			p := filepath.Join(j.storeDir, filepath.FromSlash(name))
			if old := j.replaced[name]; old == nil {
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			} else if err := WriteFileAtomic(p, old); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		p := filepath.Join(j.storeDir, filepath.FromSlash(name))
		if size := j.sizes[name]; size < 0 {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		} else if err := os.Truncate(p, size); err != nil {
			errs = append(errs, err)
		}
	}
	j.f.Close()
	if err := os.Remove(filepath.Join(j.storeDir, JournalName)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
