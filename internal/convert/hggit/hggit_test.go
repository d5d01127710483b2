package hggit_test

import (
	"context"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// TestConvert runs hg-git's gexport through the backend on a small
// repository: the result names what hg-git wrote in .hg/git, and a second
// run converts nothing.
func TestConvert(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	r := hgtest.NewRepo(t)
	r.Commit(hgtest.WithMessage("one"), hgtest.WithFile("f", "x\n"))
	r.Tag("v 1")
	r.Run("bookmark", "-r", "0", "main")
	dir := r.Dir

	c := &hggit.Converter{} // its hg runs are bounded by ctx
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress int
	res, err := c.Convert(ctx, dir, convert.Options{Progress: func(done, total int) { progress = done }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Converted != 2 || res.Total != 2 || progress != 2 {
		t.Errorf("converted %d of %d (progress %d), want 2 of 2", res.Converted, res.Total, progress)
	}
	m, err := convert.ReadMap(convert.MapPath(dir))
	if err != nil || len(m) != 2 {
		t.Fatalf("map: %d entries, %v", len(m), err)
	}
	if res.Bookmarks["main"] == "" || res.Tags["v_1"] == "" || res.Tags["v_1"] != res.Bookmarks["main"] {
		t.Errorf("bookmarks %v tags %v", res.Bookmarks, res.Tags)
	}
	if res.Tip == "" || res.BranchHeads["default"] != res.Tip {
		t.Errorf("tip %q branch heads %v", res.Tip, res.BranchHeads)
	}
	again, err := c.Convert(ctx, dir, convert.Options{})
	if err != nil || again.Converted != 0 {
		t.Errorf("second run: converted %d, %v", again.Converted, err)
	}
}
