package mirror

import (
	"fmt"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/gittest"
)

// TestSyncStagedPush checks the staged push (more than stageAbove plain
// updates, pushed by glob): a ref a crashed push left staged in the cache
// never reaches the destination, neither with the few updates of a push
// that does not stage (which leaves it) nor with a staged one (which
// clears it first).
func TestSyncStagedPush(t *testing.T) {
	t.Parallel()
	ctx, src, dest, s := baseSync(t)
	bookmarks := func(prefix string) {
		args := []string{"bookmark", "-r", "0"}
		for i := range stageAbove + 6 {
			args = append(args, fmt.Sprintf("%s%02d", prefix, i))
		}
		src.Run(args...)
	}
	bookmarks("a")
	m := hgMirror("staged", src.root, dest)
	if _, err := s.Sync(ctx, m, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	branches := func(repo string) string {
		return gittest.Run(t, "", "--git-dir="+repo, "for-each-ref", "--format=%(refname)", "refs/heads/", stagePrefix)
	}
	if got := strings.Count(branches(dest), "refs/heads/a"); got != stageAbove+6 {
		t.Fatalf("destination has %d of the %d bookmarks:\n%s", got, stageAbove+6, branches(dest))
	}
	cache := convert.GitDir(s.HgRoot(m.Name))
	if got := branches(cache); strings.Contains(got, stagePrefix) {
		t.Fatalf("staged refs left in the cache:\n%s", got)
	}

	// A crashed staged push left a ref staged.
	tip := strings.TrimSpace(gittest.Run(t, "", "--git-dir="+dest, "rev-parse", "refs/heads/a00"))
	gittest.Run(t, "", "--git-dir="+cache, "update-ref", stagePrefix+"heads/leftover", tip)
	src.commit("a", "2\n", "second")
	if _, err := s.Sync(ctx, m, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	bookmarks("b")
	if _, err := s.Sync(ctx, m, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	got := branches(dest)
	if strings.Contains(got, "leftover") || strings.Count(got, "refs/heads/b") != stageAbove+6 {
		t.Fatalf("destination branches:\n%s", got)
	}
	if got := branches(cache); strings.Contains(got, stagePrefix) {
		t.Fatalf("staged refs left in the cache:\n%s", got)
	}
}
