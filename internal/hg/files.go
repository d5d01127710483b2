package hg

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
)

// readOptional reads one of the repository's small files (requires,
// phaseroots, bookmarks, obsstore); a missing file reads as nil, which each
// of them takes as empty.
func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hg: read %s: %w", path, err)
	}
	return b, nil
}

// lines yields each line of b that is not blank, trimmed (the line files
// of the store: phaseroots, bookmarks).
func lines(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for _, line := range bytes.Split(b, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 && !yield(line) {
				return
			}
		}
	}
}
