package git

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

func packCount(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "pack-*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// TestCombinePacks checks that the small packs are combined into one once
// there are more than the bound, keeping every object, and left alone
// until then.
func TestCombinePacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := newBare(t)
	for i := range 5 {
		pw := openPackWriter(t, dir)
		for j := range 3 {
			if _, err := pw.Add(BlobObject, fmt.Appendf(nil, "pack %d blob %d\n", i, j)); err != nil {
				t.Fatal(err)
			}
		}
		if err := pw.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	want := allObjects(t, dir)
	slices.SortFunc(want, func(a, b Hash) int { return slices.Compare(a[:], b[:]) })
	r := &Runner{}
	if n, err := r.CombinePacks(ctx, dir, 5); err != nil || n != 0 {
		t.Fatalf("5 small packs, at most 5: combined %d, %v; want none", n, err)
	}
	if got := packCount(t, dir); got != 5 {
		t.Fatalf("%d packs after a combination not due, want 5", got)
	}
	if n, err := r.CombinePacks(ctx, dir, 4); err != nil || n != 5 {
		t.Fatalf("5 small packs, at most 4: combined %d, %v; want 5", n, err)
	}
	if got := packCount(t, dir); got != 1 {
		t.Errorf("%d packs after combining, want 1", got)
	}
	got := allObjects(t, dir)
	slices.SortFunc(got, func(a, b Hash) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(got, want) {
		t.Errorf("objects after combining: %d, want %d", len(got), len(want))
	}
	gitT(t, dir, nil, "fsck", "--strict", "--no-dangling")
}
