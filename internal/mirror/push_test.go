package mirror

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/gittest"
)

// deltaObjects returns the objects the packs of gitDir store as deltas.
func deltaObjects(t *testing.T, gitDir string) map[string]bool {
	t.Helper()
	idxs, err := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "*.idx"))
	if err != nil || len(idxs) == 0 {
		t.Fatalf("no pack in %s (%v)", gitDir, err)
	}
	out := map[string]bool{}
	for _, idx := range idxs {
		// "hash type size size-in-pack offset [depth base]": seven
		// fields for a delta.
		for _, line := range strings.Split(gittest.Run(t, "", "verify-pack", "-v", "--", idx), "\n") {
			if f := strings.Fields(line); len(f) == 7 {
				out[f[0]] = true
			}
		}
	}
	return out
}

// TestPushFirstReusesCacheDeltas: the first push, to an empty destination,
// sends the objects as the cache's packs store them; a later push lets git
// search deltas again. The converter commits a pack per changeset here, so
// that each new file's text is whole in its own pack, where git (which
// does not search again between two objects of one pack) would store it
// as a delta of the similar file in the pack before.
func TestPushFirstReusesCacheDeltas(t *testing.T) {
	t.Parallel()
	ctx, src, dest, s := baseSync(t)
	s.Converter = &convert.Native{CheckpointEvery: 1}
	// Keep what receive-pack gets as a pack, however small.
	gittest.Run(t, "", "--git-dir="+dest, "config", "receive.unpackLimit", "1")
	var text strings.Builder
	for i := range 400 {
		fmt.Fprintf(&text, "line %d of a text long enough for git to store a copy as a delta\n", i)
	}
	cacheGit := filepath.Join(s.HgRoot("deltas"), ".hg", "git")
	blob := func(path string) string {
		return strings.TrimSpace(gittest.Run(t, "", "--git-dir="+dest, "rev-parse", "refs/heads/master:"+path))
	}
	m := hgMirror("deltas", src.root, dest)
	for _, step := range []struct {
		name         string
		files        []string
		wantDeltaDst bool
	}{
		{"first push", []string{"a", "b"}, false},
		{"second push", []string{"c", "d"}, true},
	} {
		for _, f := range step.files {
			src.commit(f, text.String()+f+"\n", f)
		}
		if _, err := s.Sync(ctx, m, SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		cache, dst := deltaObjects(t, cacheGit), deltaObjects(t, dest)
		x, y := blob(step.files[0]), blob(step.files[1])
		if cache[x] || cache[y] {
			t.Fatalf("%s: the converter stored %s or %s as a delta: the test needs them whole", step.name, step.files[0], step.files[1])
		}
		if got := dst[x] || dst[y]; got != step.wantDeltaDst {
			t.Errorf("%s: a delta between %s and %s at the destination = %v, want %v", step.name, step.files[0], step.files[1], got, step.wantDeltaDst)
		}
	}
}
