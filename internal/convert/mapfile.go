package convert

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// MapFile is hg-git's git-mapfile name inside .hg.
const MapFile = "git-mapfile"

// gitMap is the Mercurial → Git commit map, kept in hg-git's format:
// "<git sha> <hg node>\n" a line, in the order lines were added.
type gitMap struct {
	path  string
	byHg  map[hg.Node]git.Hash
	lines []mapLine // in file order, new ones appended
}

type mapLine struct {
	git git.Hash
	hg  hg.Node
}

// loadMap reads path; a missing file is an empty map. It rejects what
// hg-git's load_map rejects (a line that is not 82 bytes).
func loadMap(path string) (*gitMap, error) {
	m := &gitMap{path: path, byHg: make(map[hg.Node]git.Hash)}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("convert: read map: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		if len(line) == 0 && err != nil {
			break
		}
		if len(line) != 82 || line[40] != ' ' || line[81] != '\n' {
			return nil, fmt.Errorf("convert: %s:%d: corrupt mapfile line (length %d)", path, n, len(line))
		}
		gh, err1 := git.ParseHash(string(line[:40]))
		hn, err2 := hg.ParseNode(string(line[41:81]))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("convert: %s:%d: corrupt mapfile line %q", path, n, bytes.TrimSpace(line))
		}
		if _, dup := m.byHg[hn]; !dup {
			m.lines = append(m.lines, mapLine{gh, hn})
		} else {
			for i := range m.lines {
				if m.lines[i].hg == hn {
					m.lines[i].git = gh
				}
			}
		}
		m.byHg[hn] = gh
		if err != nil {
			break
		}
	}
	return m, nil
}

func (m *gitMap) set(n hg.Node, h git.Hash) {
	if _, ok := m.byHg[n]; !ok {
		m.lines = append(m.lines, mapLine{h, n})
	}
	m.byHg[n] = h
}

// save replaces the map file atomically: a temporary file in the same
// directory is written, synced and renamed over it, so a reader (or a crash)
// sees either the old map or the new one, never a torn line.
func (m *gitMap) save() error {
	dir := filepath.Dir(m.path)
	tmp, err := os.CreateTemp(dir, MapFile+".tmp*")
	if err != nil {
		return fmt.Errorf("convert: save map: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 64<<10)
	buf := make([]byte, 82)
	buf[40], buf[81] = ' ', '\n'
	for _, l := range m.lines {
		hexEncode(buf[:40], l.git[:])
		hexEncode(buf[41:81], l.hg[:])
		w.Write(buf)
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), m.path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("convert: save map: %w", err)
	}
	return nil
}

func hexEncode(dst, src []byte) {
	const digits = "0123456789abcdef"
	for i, c := range src {
		dst[2*i] = digits[c>>4]
		dst[2*i+1] = digits[c&15]
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
