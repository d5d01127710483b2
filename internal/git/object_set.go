package git

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ObjectSet answers whether a repository held an object when the set was
// loaded: the names from every pack index plus the loose objects. Objects in
// alternate object stores (objects/info/alternates) are not included. An
// ObjectSet is read-only and safe for concurrent use.
type ObjectSet struct {
	packs []*packIndex
	loose map[Hash]struct{}
}

// LoadObjectSet reads the object names of the repository whose git
// directory is gitDir. It costs one read of each .idx file (about 28 bytes an
// object) and one directory listing per loose-object fan-out directory;
// lookups are then binary searches in memory. A missing objects directory
// gives an empty set.
func LoadObjectSet(gitDir string) (*ObjectSet, error) {
	s := &ObjectSet{loose: make(map[Hash]struct{})}
	objects := filepath.Join(gitDir, "objects")
	idxs, err := packIndexPaths(objects)
	if err != nil {
		return nil, err
	}
	for _, p := range idxs {
		x, err := readIdx(p)
		if err != nil {
			return nil, err
		}
		s.packs = append(s.packs, x)
	}
	err = forEachLoose(objects, func(h Hash) { s.loose[h] = struct{}{} })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Has reports whether h was in the repository when s was loaded.
func (s *ObjectSet) Has(h Hash) bool {
	if _, ok := s.loose[h]; ok {
		return true
	}
	for _, x := range s.packs {
		if x.has(h) {
			return true
		}
	}
	return false
}

// Len returns the number of object entries in the set; an object stored
// both loose and packed, or in several packs, counts more than once.
func (s *ObjectSet) Len() int {
	n := len(s.loose)
	for _, x := range s.packs {
		n += x.len()
	}
	return n
}

// ObjectExists reports whether the repository whose git directory is gitDir
// holds object h, loose or in a pack, without loading whole indexes: use it
// for a few lookups, and LoadObjectSet for many.
func ObjectExists(gitDir string, h Hash) (bool, error) {
	objects := filepath.Join(gitDir, "objects")
	hx := h.String()
	if _, err := os.Stat(filepath.Join(objects, hx[:2], hx[2:])); err == nil {
		return true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("git: %w", err)
	}
	idxs, err := packIndexPaths(objects)
	if err != nil {
		return false, err
	}
	for _, p := range idxs {
		ok, err := idxFileHas(p, h)
		if err != nil {
			return false, fmt.Errorf("git: read %s: %w", p, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func idxFileHas(path string, h Hash) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return idxHas(f, h)
}

// packIndexPaths lists objects/pack/*.idx whose .pack exists: Git ignores
// an index without its pack.
func packIndexPaths(objects string) ([]string, error) {
	dir := filepath.Join(objects, "pack")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("git: %w", err)
	}
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		present[e.Name()] = true
	}
	var paths []string
	for _, e := range entries {
		name := e.Name()
		base, ok := strings.CutSuffix(name, ".idx")
		if !ok || !strings.HasPrefix(name, "pack-") || !present[base+".pack"] {
			continue
		}
		paths = append(paths, filepath.Join(dir, name))
	}
	return paths, nil
}

// forEachLoose calls fn for every loose object in the objects directory.
func forEachLoose(objects string, fn func(Hash)) error {
	var h Hash
	for i := range 256 {
		var pre [1]byte
		pre[0] = byte(i)
		dir := filepath.Join(objects, hex.EncodeToString(pre[:]))
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("git: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if len(name) != 38 {
				continue
			}
			h[0] = byte(i)
			if _, err := hex.Decode(h[1:], []byte(name)); err != nil {
				continue
			}
			fn(h)
		}
	}
	return nil
}
