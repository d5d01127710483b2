package convert_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// gitOut runs git against a converted repository's .hg/git.
func gitOut(t testing.TB, hgRoot string, args ...string) string {
	t.Helper()
	return gittest.Run(t, "", append([]string{"--git-dir", convert.GitDir(hgRoot)}, args...)...)
}

// commitOf returns the Git commit of changeset rev according to the map.
func commitOf(t testing.TB, dir string, m map[string]string, rev string) string {
	t.Helper()
	node := strings.TrimSpace(hgtest.Run(t, dir, "log", "-r", rev, "-T", "{node}"))
	c, ok := m[node]
	if !ok {
		t.Fatalf("rev %s (%s) not in the map", rev, node)
	}
	return c
}

// TestFlask converts the flask corpus, which hg-git 1.0.1 cannot convert
// (it aborts on a malformed .hgsubstate line at revision 290): all 5,534
// changesets, the docs/_themes [git] subrepository as gitlinks, malformed
// entries reported as warnings, refs, and two runs giving the same SHAs.
// The bundle carries no bookmarks, so the test sets the four the upstream
// repository has (main, stable, automatic-options, workflow) on its heads.
func TestFlask(t *testing.T) {
	hgtest.RequireHgGit(t)
	t.Parallel()
	src := unbundle(t, "flask.hg")
	hgtest.Run(t, src, "bookmark", "-r", "tip", "main")
	hgtest.Run(t, src, "bookmark", "-r", "5507", "automatic-options")
	hgtest.Run(t, src, "bookmark", "-r", "5401", "workflow")
	hgtest.Run(t, src, "bookmark", "-r", "p1(tip)", "stable")

	a := copyRepo(t, src, "a")
	res := runNative(t, a)
	m := readMap(t, a)
	if len(m) != 5534 || res.Converted != 5534 || res.Total != 5534 {
		t.Fatalf("map %d, converted %d of %d; want 5534", len(m), res.Converted, res.Total)
	}
	for _, b := range []string{"main", "stable", "automatic-options", "workflow"} {
		if res.Bookmarks[b] == "" {
			t.Errorf("bookmark %s missing from %v", b, res.Bookmarks)
		}
		if got := strings.TrimSpace(gitOut(t, a, "rev-parse", "refs/heads/"+b)); got != res.Bookmarks[b] {
			t.Errorf("refs/heads/%s = %s, result says %s", b, got, res.Bookmarks[b])
		}
	}
	if res.Bookmarks["main"] != res.Tip || res.Tip != commitOf(t, a, m, "tip") {
		t.Errorf("main %s, tip %s", res.Bookmarks["main"], res.Tip)
	}
	// hg tags lists 64 names, one of them "tip", which is no Git tag.
	hgTags := strings.Count(hgtest.Run(t, a, "tags", "-q"), "\n") - 1
	if len(res.Tags) != hgTags || hgTags != 63 {
		t.Errorf("%d tags, hg has %d (want 63 besides tip)", len(res.Tags), hgTags)
	}
	if n := strings.Count(gitOut(t, a, "for-each-ref", "refs/tags"), "\n"); n != len(res.Tags) {
		t.Errorf("%d tag refs in .hg/git, want %d", n, len(res.Tags))
	}

	// Gitlinks follow .hgsubstate.
	for _, rev := range []string{"196", "215", "229", "288", "317", "430", "500", "2376", "2666"} {
		state := strings.Fields(hgtest.Run(t, a, "cat", "-r", rev, ".hgsubstate"))
		if len(state) != 2 || state[1] != "docs/_themes" {
			t.Fatalf("rev %s: .hgsubstate %q", rev, state)
		}
		line := gitOut(t, a, "ls-tree", commitOf(t, a, m, rev), "docs/_themes")
		if want := "160000 commit " + state[0] + "\tdocs/_themes\n"; line != want {
			t.Errorf("rev %s: ls-tree docs/_themes = %q, want %q", rev, line, want)
		}
	}
	// Where the line is malformed, or the subrepository is gone, no gitlink.
	for _, rev := range []string{"290", "359", "489", "3231", "tip"} {
		if line := gitOut(t, a, "ls-tree", commitOf(t, a, m, rev), "docs/_themes"); line != "" {
			t.Errorf("rev %s: unexpected docs/_themes entry %q", rev, line)
		}
	}
	// .hgsub and .hgsubstate never reach Git; no .gitmodules is invented.
	tree := gitOut(t, a, "ls-tree", "--name-only", commitOf(t, a, m, "500"))
	for _, f := range []string{".hgsub", ".hgsubstate", ".gitmodules"} {
		if strings.Contains(tree, f+"\n") {
			t.Errorf("rev 500 tree has %s", f)
		}
	}

	// Warnings: the malformed line, at each changeset that brings it.
	wantRevs := map[int]bool{290: true, 292: true, 359: true, 361: true, 489: true, 492: true}
	for _, w := range res.Warnings {
		if w.Kind != convert.WarnHgsubstateSyntax || w.Path != "docs/_themes" || !wantRevs[w.Rev] || w.Node == "" {
			t.Errorf("unexpected warning %+v", w)
		}
		delete(wantRevs, w.Rev)
	}
	if len(wantRevs) != 0 {
		t.Errorf("no warning for revisions %v", wantRevs)
	}

	// Deterministic: a second conversion of another copy agrees.
	b := copyRepo(t, src, "b")
	runNative(t, b)
	compareMaps(t, m, readMap(t, b))

	// Where hg-git succeeds (before it aborts at revision 290), its SHAs
	// are ours: hg-git saves its map even when it aborts.
	if testing.Short() {
		t.Log("-short: hg-git's partial flask run skipped")
		return
	}
	ref := copyRepo(t, src, "hggit")
	cmd := exec.Command("hg", "--config", "extensions.hggit=", "gexport")
	cmd.Dir, cmd.Env = ref, hgtest.Env()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "invalid subrepository revision specifier in '.hgsubstate' line 1") {
		t.Fatalf("hg-git was expected to abort on flask: %v\n%s", err, out)
	}
	partial := readMap(t, ref)
	if len(partial) < 280 {
		t.Fatalf("hg-git's partial map has %d entries", len(partial))
	}
	for n, h := range partial {
		if m[n] != h {
			t.Errorf("changeset %s: hg-git %s, native %s", n, h, m[n])
		}
	}
	t.Logf("%d changesets converted by hg-git before it aborted, all identical", len(partial))
}
