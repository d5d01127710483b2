package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// SmallPackSize is the largest pack CombinePacks counts as small: the
// packs an incremental conversion writes, one per run.
const SmallPackSize = 1 << 20

// CombinePacks combines the small packs of the repository gitDir (under
// SmallPackSize bytes) into one when there are more than max of them, and
// returns how many it combined (0 when there were not enough). Their
// objects are packed again by git pack-objects, and the old packs removed
// only once the new one is complete, so an interruption leaves every
// object in some pack. Its cost is that of the small packs, never that of
// the whole repository: with one small pack per sync, a combination
// every max syncs keeps the number of packs bounded.
func (r *Runner) CombinePacks(ctx context.Context, gitDir string, max int) (int, error) {
	dir := filepath.Join(gitDir, "objects", "pack")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("git: combine packs: %w", err)
	}
	present := map[string]bool{}
	for _, e := range entries {
		present[e.Name()] = true
	}
	var small []string // pack base names, "pack-<sha>"
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok || !strings.HasPrefix(base, "pack-") || !present[base+".idx"] || present[base+".keep"] {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size() < SmallPackSize {
			small = append(small, base)
		}
	}
	if len(small) <= max {
		return 0, nil
	}
	sort.Strings(small)
	var ids bytes.Buffer
	for _, base := range small {
		x, err := readIdx(filepath.Join(dir, base+".idx"))
		if err != nil {
			return 0, fmt.Errorf("git: combine packs: %w", err)
		}
		for i := range x.len() {
			fmt.Fprintf(&ids, "%x\n", x.name(i))
		}
	}
	out, err := r.run(ctx, "pack-objects", "", gitDir, ids.Bytes(),
		[]string{"--git-dir=" + gitDir, "pack-objects", "-q", filepath.Join(dir, "pack")})
	if err != nil {
		return 0, err
	}
	name := "pack-" + strings.TrimSpace(string(out))
	if _, err := ParseHash(strings.TrimPrefix(name, "pack-")); err != nil {
		return 0, fmt.Errorf("git: combine packs: pack-objects printed %q", limitio.Clip(string(out), 100))
	}
	for _, base := range small {
		if base == name {
			continue
		}
		// The index first: git ignores a pack without one.
		for _, ext := range []string{".idx", ".pack", ".rev", ".bitmap"} {
			if err := os.Remove(filepath.Join(dir, base+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, fmt.Errorf("git: combine packs: %w", err)
			}
		}
	}
	return len(small), nil
}
